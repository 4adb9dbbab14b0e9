"""The training data of a run: annotation lines, COCO JSON or TFDS → records, classes, keypoints.

Two sources (``TrainConfig``): annotation-line files (``train_annotations`` /
``val_annotations``, classes from ``classes_path``, default ``model_data/voc_classes.txt``), or
COCO JSON files with their image folders (``train_json`` + ``train_images``, ``val_json`` +
``val_images``), read by :func:`~centernet_keras.data.coco.read_coco` with no conversion step:
classes are the JSON's categories unless ``classes_path`` is given (then matched by name), and a
keypoints file (``person_keypoints_*.json``) gives the records' joints and the ``KeypointSpec``
(its flip pairs replaced by ``--flip-pairs`` if given; joints that look left/right but are in no
pair are logged).
Or TFDS splits (``train_tfds`` / ``val_tfds`` in ``data_dir``, read by
:func:`~centernet_keras.data.tfds_source.read_tfds`; classes from the dataset's features).
Bad data is reported (logged, counted), never fatal unless nothing is left.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from centernet_keras.data.annotations import (
    ImageRecord,
    drop_out_of_range_classes,
    read_annotation_file,
)
from centernet_keras.data.classes import class_list_difference, read_classes
from centernet_keras.data.coco import read_coco
from centernet_keras.data.image_io import read_image_size
from centernet_keras.data.problems import QUIET_KINDS, skips_image
from centernet_keras.data.tfds_source import keypoint_spec, read_tfds
from centernet_keras.keypoints import KeypointSpec, parse_flip_pairs
from centernet_keras.text import quote, shorten
from centernet_keras.training.config import flag_name

log = logging.getLogger("centernet_keras.training")

#: The class list of annotation-line training when ``classes_path`` is not set.
DEFAULT_CLASSES = "model_data/voc_classes.txt"


@dataclass
class TrainingData:
    """What ``load_training_data`` read.

    Attributes:
        train: the training records.
        val: the validation records, or ``None``.
        class_names: the classes (model outputs, in order).
        keypoint_spec: the joints of a COCO keypoints file, else ``None``.
        dropped_boxes: boxes dropped for a class id outside the classes (annotation lines).
        source: what was read, for the log.
        skipped_images: images skipped while reading (COCO JSON: missing, unreadable or
            repeated image entries, each warned about), both splits.
    """

    train: list[ImageRecord]
    val: list[ImageRecord] | None
    class_names: list[str]
    keypoint_spec: KeypointSpec | None
    dropped_boxes: int
    source: str
    skipped_images: int = 0


#: The flags of each split: its annotation lines, and its COCO JSON and image folder.
SPLIT_FLAGS = {
    "training": ("--train", "--train-json", "--train-images"),
    "validation": ("--val", "--val-json", "--val-images"),
}


def looks_like_coco_json(path: str | Path) -> bool:
    """Whether ``path`` holds a COCO JSON (an object with ``images`` or ``annotations``)
    rather than annotation lines."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
        if not text.lstrip().startswith("{"):
            return False
        data = json.loads(text)
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and bool({"images", "annotations"} & set(data))


def _unreadable(path: str) -> str | None:
    """Why the image at ``path`` cannot be opened (its header), else ``None``."""
    if not os.path.isfile(path):
        return "not found"
    try:
        read_image_size(path)
    except Exception as err:  # PIL raises many kinds for broken files
        return f"unreadable ({shorten(err)})"
    return None


def check_readable(records: list[ImageRecord], path: str | Path, split: str) -> None:
    """Refuse a split none of whose images can be opened, before anything trains on it.

    The records are tried in order until one image header reads (usually the first): cheap.
    The endless training stream skips unreadable images, so a split without one would never
    yield a batch. The pipeline stops too (``make_dataset``: an error once every image of the
    set failed to decode) but only after TensorFlow has started; this names the cause.

    Raises:
        ValueError: no image header of ``records`` reads; the message names the file, the first
            image and why, the flag of ``split`` (``"training"`` / ``"validation"``), and the
            COCO JSON flags when ``path`` is a COCO JSON.
    """
    lines_flag, json_flag, images_flag = SPLIT_FLAGS[split]
    first = None
    for record in records:
        reason = _unreadable(record.path)
        if reason is None:
            return
        first = first or (record.path, reason)
    message = f"no readable {split} image in {path} ({lines_flag})"
    if looks_like_coco_json(path):
        raise ValueError(
            f"{message}: this looks like a COCO JSON: use {json_flag} {path} {images_flag} DIR"
        )
    where, reason = first or ("", "")
    folder = "" if os.path.isabs(where) else f" (relative paths start from {os.getcwd()})"
    raise ValueError(
        f"{message}: none of its {len(records)} images can be opened (the first, "
        f"{quote(where, 300)}: {reason}{folder}); moved since the file was written?"
    )


def load_records(
    path: str | Path, num_classes: int, split: str = "training"
) -> tuple[list[ImageRecord], int]:
    """Read an annotation file; report bad lines; drop (and count) boxes of unknown class ids.

    Args:
        path: the annotation-line file.
        num_classes: the number of classes (ids outside ``0..num_classes - 1`` are dropped).
        split: ``"training"`` or ``"validation"``: which flags the messages name.

    Returns:
        ``(records, dropped_boxes)``.

    Raises:
        ValueError: no usable line, or no readable image (``check_readable``).
    """
    records, problems = read_annotation_file(path)
    if records or looks_like_coco_json(path):  # before the warnings about its lines
        check_readable(records, path, split)
    for message in problems:
        log.warning("skipped annotation line: %s", message)
    dropped, messages = drop_out_of_range_classes(records, num_classes)
    for message in messages:
        log.warning("%s", message)
    if not records:
        raise ValueError(f"{path}: no usable annotation lines")
    return records, dropped


def _read_json(json_path: str, image_dir: str | None, class_names: list[str] | None, flag: str):
    """``read_coco`` with its findings logged (counted kinds, the rest listed); returns
    ``(records, class names, keypoint spec, images skipped)``."""
    if not image_dir:
        raise ValueError(f"{json_path}: a COCO JSON needs its image folder ({flag})")
    flags = {"image_dir": flag, "class_names": flag_name("classes_path")}  # train's flags
    records, names, report = read_coco(json_path, image_dir, class_names, flags=flags)
    counts = report.counts()
    for problem in report.problems:
        if problem.kind not in QUIET_KINDS | {"no_objects"}:
            log.warning("%s", problem)
    if counts:
        log.info("%s: %s", json_path, ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    skipped = sum(skips_image(problem) for problem in report.problems)
    return records, names, report.keypoint_spec, skipped


def _with_flip_pairs(spec: KeypointSpec | None, flip_pairs: str | None, file: str):
    """``spec`` with the pairs of ``--flip-pairs`` (``None``: as read)."""
    if flip_pairs is None:
        return spec
    if spec is None:
        raise ValueError(f"--flip-pairs needs a COCO keypoints file; {file} has no joints")
    return spec.with_flip_pairs(parse_flip_pairs(flip_pairs, spec.names))


def _read_tfds(spec: str, config, flag: str, class_names: list[str] | None):
    """``read_tfds`` with its findings logged; returns ``(records, class names, dropped)``."""
    records, names, problems = read_tfds(spec, config.data_dir, flag, False, config.tfds_download)
    counts = Counter(problem.kind for problem in problems)
    for problem in problems:
        if problem.kind not in QUIET_KINDS:
            log.warning("%s", problem)
    if counts:
        log.info("%s: %s", spec, ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    if class_names is not None and names != class_names:
        difference = class_list_difference(names, class_names, spec, flag_name("train_tfds"))
        raise ValueError(
            f"{flag} {spec} has other classes than {flag_name('train_tfds')}: {difference}"
        )
    dropped, messages = drop_out_of_range_classes(records, len(names))
    for message in messages:
        log.warning("%s", message)
    if not records:
        raise ValueError(f"{flag} {spec}: no images")
    return records, names, dropped


def _load_tfds(config) -> TrainingData:
    """The TFDS splits of ``config`` (``train_tfds``, ``val_tfds``); classes from the dataset's
    ``info.features`` (``classes_path`` is not used)."""
    if config.classes_path:
        raise ValueError(
            f"{flag_name('classes_path')} does not apply to {flag_name('train_tfds')}: the "
            "classes are the dataset's (info.features)"
        )
    train, names, dropped = _read_tfds(config.train_tfds, config, flag_name("train_tfds"), None)
    val = None
    if config.val_tfds:
        val, _, val_dropped = _read_tfds(config.val_tfds, config, flag_name("val_tfds"), names)
        dropped += val_dropped
    spec = keypoint_spec(config.train_tfds, config.data_dir, flag_name("train_tfds"))
    if config.val_tfds and keypoint_spec(config.val_tfds, config.data_dir, "") != spec:
        raise ValueError(f"{config.val_tfds} has other joints than {config.train_tfds}")
    joints = f", {spec.num_joints} joints" if spec is not None else ""
    source = f"TFDS {config.train_tfds} ({len(names)} classes{joints})"
    return TrainingData(train, val, names, spec, dropped, source)


def load_training_data(config) -> TrainingData:
    """Read the training (and validation) split of ``config`` (a ``TrainConfig``).

    Raises:
        ValueError: a missing image folder for a JSON; validation with other classes or joints
            (names, flip pairs, skeleton or sigmas) than training; no usable records (see also
            ``read_coco``); ``flip_pairs`` without a keypoints file, or not its joints.
        FileNotFoundError: a missing file.
    """
    if config.flip_pairs is not None and not config.train_json:
        raise ValueError("--flip-pairs needs a COCO keypoints file (--train-json)")
    if config.train_tfds:
        return _load_tfds(config)
    if not config.train_json:
        class_names = read_classes(config.classes_path or DEFAULT_CLASSES)
        train, dropped = load_records(config.train_annotations, len(class_names))
        val = None
        if config.val_annotations:
            val, val_dropped = load_records(config.val_annotations, len(class_names), "validation")
            dropped += val_dropped
        source = f"annotation lines {config.train_annotations}"
        return TrainingData(train, val, class_names, None, dropped, source)

    given = read_classes(config.classes_path) if config.classes_path else None
    train, class_names, spec, skipped = _read_json(
        config.train_json, config.train_images, given, "--train-images"
    )
    spec = _with_flip_pairs(spec, config.flip_pairs, config.train_json)
    val = None
    if config.val_json:
        val, _, val_spec, val_skipped = _read_json(
            config.val_json, config.val_images, class_names, "--val-images"
        )
        skipped += val_skipped
        val_spec = _with_flip_pairs(val_spec, config.flip_pairs, config.val_json)
        if val_spec != spec:
            difference = val_spec.difference(spec) if val_spec else "no joints"
            raise ValueError(
                f"{config.val_json} has other joints than {config.train_json}: {difference}"
            )
    if spec is not None and spec.unpaired_sided_joints():
        log.warning(
            "joints %s look left/right but are in no flip pair: the training flip leaves them "
            "on their side; give the pairs with --flip-pairs or 'flip_pairs' in the category",
            spec.unpaired_sided_joints(),
        )
    joints = f", {spec.num_joints} joints" if spec is not None else ""
    source = f"COCO JSON {config.train_json} ({len(class_names)} classes{joints})"
    return TrainingData(train, val, list(class_names), spec, 0, source, skipped)
