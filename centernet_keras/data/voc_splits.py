"""VOC ``ImageSets/Main`` splits: drawing a train/val/test split of the annotation stems,
writing its files, and reading the records of the images a split lists.

Layout: ``<voc_root>/VOC<year>/{Annotations,JPEGImages,ImageSets/Main}``.
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Sequence
from pathlib import Path

from centernet_keras.data.annotations import ImageRecord
from centernet_keras.data.problems import Problem
from centernet_keras.data.voc_xml import is_file, parse_voc_xml
from centernet_keras.io import atomic_write_text
from centernet_keras.text import quote

SPLITS = ("trainval", "train", "val", "test")


def split_stems(
    stems: Sequence[str], trainval_percent: float = 0.9, train_percent: float = 0.9, seed: int = 0
) -> dict[str, list[str]]:
    """Randomly split annotation stems into ``trainval``/``train``/``val``/``test``.

    The proportions of the Keras ports' ``voc_annotation.py``: ``int(n · trainval_percent)``
    stems go to trainval, ``int(that · train_percent)`` of those to train, the rest of trainval
    to val, the others to test. Stems are sorted first, so the result depends only on the stems
    and the seed (not on directory listing order). Each list keeps the sorted order.

    Raises:
        ValueError: a percentage outside ``[0, 1]``.
    """
    for name, value in (("trainval_percent", trainval_percent), ("train_percent", train_percent)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {value}")
    stems = sorted(set(stems))
    rng = random.Random(seed)
    n_trainval = int(len(stems) * trainval_percent)
    trainval = set(rng.sample(range(len(stems)), n_trainval))
    train = set(rng.sample(sorted(trainval), int(n_trainval * train_percent)))
    return {
        "trainval": [s for i, s in enumerate(stems) if i in trainval],
        "train": [s for i, s in enumerate(stems) if i in train],
        "val": [s for i, s in enumerate(stems) if i in trainval and i not in train],
        "test": [s for i, s in enumerate(stems) if i not in trainval],
    }


def write_splits(image_sets_dir: str | os.PathLike, splits: dict[str, list[str]]) -> list[Path]:
    """Write ``<split>.txt`` files (one stem a line) atomically; returns the paths."""
    paths = []
    for split, stems in splits.items():
        path = Path(image_sets_dir) / f"{split}.txt"
        atomic_write_text(path, "".join(f"{s}\n" for s in stems))
        paths.append(path)
    return paths


def split_voc(
    voc_root: str | os.PathLike,
    year: str | int = 2007,
    trainval_percent: float = 0.9,
    train_percent: float = 0.9,
    seed: int = 0,
) -> dict[str, list[str]]:
    """Split the XML stems of ``VOC<year>/Annotations`` and write ``ImageSets/Main/*.txt``.

    Existing split files are replaced (:func:`convert_voc` keeps them unless ``resplit``).

    Returns:
        The split (see :func:`split_stems`).

    Raises:
        FileNotFoundError: no ``.xml`` file in the Annotations folder.
    """
    voc_dir = Path(voc_root) / f"VOC{year}"
    stems = [p.stem for p in (voc_dir / "Annotations").glob("*.xml")]
    if not stems:
        raise FileNotFoundError(f"no .xml files in {voc_dir / 'Annotations'}")
    splits = split_stems(stems, trainval_percent, train_percent, seed)
    write_splits(voc_dir / "ImageSets" / "Main", splits)
    return splits


#: A line of the devkit's per-class split files: ``<image id> <-1|0|1>``.
_CLASS_SPLIT_LINE = re.compile(r"(.*\S)\s+-?[01]")


def read_voc_split(
    voc_root: str | os.PathLike,
    year: str | int,
    split: str,
    class_names: Sequence[str],
    keep_difficult: bool = True,
) -> tuple[list[ImageRecord], list[Problem]]:
    """Records of the images listed in ``VOC<year>/ImageSets/Main/<split>.txt``.

    One image id a line; an id may contain spaces (the whole line is the id). In the devkit's
    per-class files (``cat_train.txt``: ``<id> <-1|0|1>``) the flag is dropped when the whole
    line names no annotation. Image paths are absolute. Images that cannot be used are skipped
    and reported. ``keep_difficult``: see :func:`parse_voc_xml`.

    Raises:
        FileNotFoundError: the split file does not exist.
    """
    voc_dir = Path(voc_root) / f"VOC{year}"
    split_file = voc_dir / "ImageSets" / "Main" / f"{split}.txt"
    if not split_file.is_file():
        raise FileNotFoundError(f"{split_file} not found (create it with --mode split)")
    records, problems = [], []
    for line in split_file.read_text(encoding="utf-8-sig").split("\n"):
        stem = line.strip()
        if not stem:
            continue
        xml_path = voc_dir / "Annotations" / f"{stem}.xml"
        per_class = _CLASS_SPLIT_LINE.fullmatch(stem)
        if not is_file(xml_path) and per_class:
            shorter = voc_dir / "Annotations" / f"{per_class.group(1)}.xml"
            if is_file(shorter):
                stem, xml_path = per_class.group(1), shorter
        if not is_file(xml_path):
            where = quote(str(xml_path), 300)
            problems.append(
                Problem("missing_xml", str(split_file), f"no {where}: image {quote(stem)} skipped")
            )
            continue
        record, found = parse_voc_xml(xml_path, class_names, keep_difficult=keep_difficult)
        problems += found
        if record is not None:
            record.path = os.path.abspath(record.path)
            records.append(record)
    return records, problems
