"""PASCAL VOC: conversion of a VOC dataset to train/val annotation lines (``centernet convert
voc``), and the public names of the VOC readers.

Layout: ``<voc_root>/VOC<year>/{Annotations,JPEGImages,ImageSets/Main}``. One XML file is read
by :func:`~centernet_keras.data.voc_xml.parse_voc_xml` (box convention, difficult objects and
every bad-input kind: see :mod:`~centernet_keras.data.voc_xml`); splits are drawn, written and
read by :mod:`~centernet_keras.data.voc_splits`. Bad data never stops a run and is never silent:
``DatasetReport`` counts the findings per kind (``centernet_keras.data.problems``). Existing
``ImageSets/Main`` split files (e.g. the official VOC split) are never replaced unless asked
for (``resplit``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from centernet_keras.data.annotations import write_annotation_file
from centernet_keras.data.problems import DatasetReport
from centernet_keras.data.voc_splits import (
    SPLITS,
    read_voc_split,
    split_stems,
    split_voc,
    write_splits,
)
from centernet_keras.data.voc_xml import FIND_IMAGE_SUFFIXES, find_image, parse_voc_xml

__all__ = [
    "FIND_IMAGE_SUFFIXES",
    "SPLITS",
    "convert_voc",
    "find_image",
    "parse_voc_xml",
    "read_voc_split",
    "split_stems",
    "split_voc",
    "write_splits",
]


def convert_voc(
    voc_root: str | os.PathLike,
    year: str | int,
    class_names: Sequence[str],
    *,
    mode: str = "all",
    trainval_percent: float = 0.9,
    train_percent: float = 0.9,
    seed: int = 0,
    keep_difficult: bool = True,
    out_dir: str | os.PathLike = ".",
    resplit: bool = False,
) -> DatasetReport:
    """Prepare a VOC dataset for training (the Keras ports' ``voc_annotation.py``).

    Existing split files are kept: ``"all"`` then reads the existing ``train``/``val``
    (the official split of a real VOCdevkit), ``"split"`` refuses; ``resplit`` replaces them.
    The report's ``notes`` say which split was used.

    Args:
        voc_root: the ``VOCdevkit`` folder.
        year: selects ``VOC<year>``.
        class_names: the classes to keep (others are dropped and reported).
        mode: ``"split"`` writes ``ImageSets/Main/{trainval,train,val,test}.txt``;
            ``"lines"`` reads ``train``/``val`` and writes ``<out_dir>/<year>_train.txt`` and
            ``<year>_val.txt`` (absolute image paths); ``"all"`` does both.
        trainval_percent, train_percent, seed: the split (see :func:`split_stems`).
        keep_difficult: write difficult objects flagged ``,1`` (default: training ignores
            them, the VOC metrics too); ``False`` leaves them out of the line files.
        out_dir: where the line files go.
        resplit: write a new split even if ``ImageSets/Main`` has split files.

    Returns:
        The report: per-split image and per-class object counts, problems, notes, files
        written.

    Raises:
        ValueError: unknown mode or bad percentages.
        FileNotFoundError: no annotations, or (``"lines"``) no split files.
        FileExistsError: split files exist, no ``resplit``, and ``"split"`` mode or (``"all"``)
            no ``train.txt``/``val.txt`` among them.
    """
    if mode not in ("all", "split", "lines"):
        raise ValueError(f"mode must be 'all', 'split' or 'lines', got {mode!r}")
    report = DatasetReport(list(class_names))
    main = Path(voc_root) / f"VOC{year}" / "ImageSets" / "Main"
    existing = [s for s in SPLITS if (main / f"{s}.txt").is_file()]
    kept = ""
    if mode in ("all", "split") and existing and not resplit:
        if mode == "split" or not {"train", "val"} <= set(existing):
            names = ", ".join(f"{s}.txt" for s in existing)
            raise FileExistsError(
                f"{main} already has {names} (the dataset's own split?): not replaced; "
                "pass --resplit to write a new split over them"
                + ("" if mode == "split" else ", or add train.txt and val.txt")
            )
        mode, kept = "lines", " (kept; --resplit writes a new one)"
    if mode in ("all", "split"):
        splits = split_voc(voc_root, year, trainval_percent, train_percent, seed)
        report.files += [str(main / f"{s}.txt") for s in SPLITS]
        counts = ", ".join(f"{len(v)} {k}" for k, v in splits.items())
        replaced = f"; replaced the existing {', '.join(existing)}" if existing else ""
        report.notes.append(
            f"Split: new split of {main} (seed {seed}, trainval {trainval_percent}, "
            f"train {train_percent}): {counts}{replaced}"
        )
    else:
        report.notes.append(
            f"Split: existing split {main / 'train.txt'} and {main / 'val.txt'}{kept}"
        )
    if mode in ("all", "lines"):
        for split in ("train", "val"):
            records, problems = read_voc_split(voc_root, year, split, class_names, keep_difficult)
            report.problems += problems
            out = Path(out_dir) / f"{year}_{split}.txt"
            write_annotation_file(out, records)
            report.add_split(split, records)
            report.files.append(str(out))
    return report
