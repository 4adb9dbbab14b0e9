"""A TensorFlow Datasets (TFDS) detection split as ``ImageRecord`` s, streamed from its files.

Any TFDS dataset with the VOC / COCO ``objects`` layout is read (``voc/2007``, ``voc/2012``,
``coco/2017``, ``coco/2014``…): ``image`` (encoded), ``objects/bbox`` (normalised
``[ymin, xmin, ymax, xmax]``), ``objects/label`` (class names from
``info.features["objects"]["label"].names``), optional ``objects/is_difficult`` (VOC) and
``objects/is_crowd`` (COCO), optional ``image/filename``.

Boxes: ``[x1, y1, x2, y2] = [xmin·W, ymin·H, xmax·W, ymax·H]`` with ``W × H`` the stored
image's size, no shift. TFDS's VOC builder divides the XML's values by the width / height as
written (no 1-based correction), and :mod:`~centernet_keras.data.voc_xml` reads the XML's
values as written too: a VOC image gives the same boxes through its XML and through TFDS
(rounded to 0.01 px, ``LINE_DECIMALS``, which takes off the float32 noise: 118.00000763 →
118). COCO's builder divides ``x, y, x + w, y + h``: the
JSON's boxes come back. *Difficult* objects are flagged (not trained on, ignored by the VOC
metrics); *crowd* objects are, as in a COCO JSON (:func:`~centernet_keras.data.coco.read_coco`),
skipped and counted for training or, with ``keep_crowd``, kept flagged difficult (evaluation).

Images are not converted: a record's ``path`` is ``tfds:<name>:<split>#<index>/<filename>``, and
:data:`~centernet_keras.data.image_io.BYTE_SOURCES` reads such a path from the dataset's own
files, so the ``tf.data`` pipeline (augmentation, exact resume by position) and evaluation read
it like a file. TFDS prepares TFRecord files by default, which ``tfds.data_source`` cannot
read (it needs ``array_record``) and ``tfds.load`` reads only in order: the split's records are
located once (file, byte offset, length: an int64 ``[N, 3]`` array, 2.8 MB for COCO's 118k
images) and an image is read by one seek. ``array_record`` datasets are read by index with
their own reader.
Nothing is downloaded unless ``download`` (which needs the internet). A keypoints dataset
(``objects/keypoints`` ``[K, 3]`` ``(x / W, y / H, v)``, its joints in
``info.metadata["keypoint_spec"]``: :mod:`~centernet_keras.data.tfds_coco_keypoints`) gives the
records their joints in pixels.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from io import BytesIO

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image

from centernet_keras.data.annotations import LINE_DECIMALS, ImageRecord
from centernet_keras.data.image_io import BYTE_SOURCES, ImageReadError
from centernet_keras.data.problems import Problem
from centernet_keras.data.tfds_coco_keypoints import CocoKeypoints
from centernet_keras.keypoints import KeypointSpec
from centernet_keras.text import quote

#: Builders of this package, registered with TFDS by their import (``coco_keypoints/2017``).
OWN_BUILDERS = (CocoKeypoints,)

#: The prefix of a record path whose image is in a TFDS dataset.
PREFIX = "tfds:"
_PATH = re.compile(r"^(tfds:.*)#(\d+)(?:/|$)")
#: The data_dir of each split key read in this process (``_locate``).
_DATA_DIRS: dict[str, str] = {}


@dataclass
class TfdsSplit:
    """Where the examples of one split are: ``(file, byte offset, length)`` per example
    (TFRecord) or ``(file, index in file, 0)`` (array_record)."""

    key: str
    array_record: bool
    files: list[str] = field(default_factory=list)
    where: list | np.ndarray = field(default_factory=list)  # [N, 3] int64 once located
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _readers: dict = field(default_factory=dict, repr=False)

    def serialized(self, index: int) -> bytes:
        """The serialized ``tf.train.Example`` of example ``index``."""
        file, offset, length = (int(v) for v in self.where[index])
        if self.array_record:
            with self._lock:
                if file not in self._readers:
                    # array_record datasets only
                    from array_record.python import array_record_module

                    self._readers[file] = array_record_module.ArrayRecordReader(self.files[file])
                return self._readers[file].read([offset])[0]
        with open(self.files[file], "rb") as f:
            f.seek(offset)
            return f.read(length)

    def image_bytes(self, path: str) -> bytes:
        """The encoded image of a record path of this split."""
        match = _PATH.match(path)
        if match is None or match.group(1) != self.key or int(match.group(2)) >= len(self.where):
            raise ImageReadError(f"{path}: not an image of {self.key}")
        return _feature(tf.train.Example.FromString(self.serialized(int(match.group(2)))), "image")


def _feature(example, name: str, kind: str = "bytes_list"):
    """Feature ``name`` of a parsed example: the bytes of a ``bytes_list`` feature, the values
    (list) of a numeric one; ``None`` if absent."""
    if name not in example.features.feature:
        return None
    values = getattr(example.features.feature[name], kind).value
    return values[0] if kind == "bytes_list" else list(values)


def _tfrecord_offsets(path: str, skip: int, take: int) -> list[tuple[int, int]]:
    """``(offset, length)`` of records ``skip .. skip + take - 1`` of a TFRecord file (``take``
    −1: to the end), found from the record headers without reading the records."""
    out, number = [], 0
    with open(path, "rb") as f:
        while take < 0 or number < skip + take:
            header = f.read(12)  # uint64 length, uint32 crc of the length
            if len(header) < 12:
                break
            (length,) = struct.unpack("<Q", header[:8])
            if number >= skip:
                out.append((f.tell(), length))
            f.seek(length + 4, os.SEEK_CUR)  # data, uint32 crc of the data
            number += 1
    return out


@contextlib.contextmanager
def _quiet_absl() -> Iterator[None]:
    """TFDS's INFO / WARNING log lines (``Load dataset info``, ``Variant folder … has no
    dataset_info.json``) left out while a builder is looked up: the outcome is reported here."""
    logger = logging.getLogger("absl")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


class TfdsError(ValueError):
    """A TFDS dataset or split that cannot be read (one line naming the flag)."""


def parse_spec(spec: str, flag: str) -> tuple[str, str]:
    """``"voc/2007:train"`` → ``("voc/2007", "train")``.

    Raises:
        TfdsError: no ``:split``.
    """
    name, _, split = spec.partition(":")
    if not name or not split:
        raise TfdsError(f"{flag} {quote(spec)}: want NAME:SPLIT, e.g. voc/2007:train")
    return name, split


def open_builder(spec: str, data_dir: str | None, flag: str, download: bool = False):
    """The prepared TFDS builder and split of ``spec`` (``NAME:SPLIT``) in ``data_dir``.

    Raises:
        TfdsError: an unknown dataset, one not prepared in ``data_dir`` (how to prepare it),
            a split it does not have (its splits listed).
    """
    name, split = parse_spec(spec, flag)
    where = data_dir or "~/tensorflow_datasets"
    try:
        with _quiet_absl():
            builder = tfds.builder(name, data_dir=data_dir)
            prepared = builder.is_prepared()
    except Exception as err:  # DatasetNotFoundError, a bad config or version
        raise TfdsError(f"{flag} {quote(spec)}: {str(err).splitlines()[0]}") from None
    if not prepared and download:
        try:
            builder.download_and_prepare()
        except Exception as err:  # no network, a manual-download dataset, a full disk...
            first = (str(err).splitlines() or [type(err).__name__])[0]
            raise TfdsError(
                f"{flag} {quote(spec)}: --tfds-download could not prepare {name} in {where}: "
                f"{first}"
            ) from None
    elif not prepared:
        how = getattr(builder, "PREPARE_COMMAND", None)  # the package's own builders
        how = how.format(data_dir=where) if how else f"tfds build {name} --data_dir {where}"
        raise TfdsError(
            f"{flag} {quote(spec)}: {name} is not prepared in {where} (--data-dir): prepare it "
            f"once with `{how}`" + ("" if getattr(builder, "PREPARE_COMMAND", None) else
            " (downloads it: needs the internet; manual-download datasets need their files in "
            "--manual_dir)")
        )  # fmt: skip
    splits = sorted(builder.info.splits)
    base = re.split(r"[\[+]", split)[0]
    if base not in builder.info.splits:
        raise TfdsError(f"{flag} {quote(spec)}: {name} has no split {quote(base)}; its splits: "
                        f"{', '.join(splits)}")  # fmt: skip
    return builder, split


def _locate(builder, spec: str, split: str) -> TfdsSplit:
    """The examples of ``split`` in the builder's files, in TFDS's order, registered as an
    image source (``image_io.BYTE_SOURCES``)."""
    fmt = str(builder.info.file_format or "tfrecord").lower()
    key, number = f"{PREFIX}{spec}", 1
    while _DATA_DIRS.setdefault(key, str(builder.data_dir)) != str(builder.data_dir):
        number += 1  # the same split of another data_dir, read in the same process
        key = f"{PREFIX}{spec}@{number}"
    located = TfdsSplit(key, array_record="array" in fmt)
    for instruction in builder.info.splits[split].file_instructions:
        located.files.append(str(instruction.filename))
        file = len(located.files) - 1
        take = instruction.take if instruction.take is not None else -1
        if located.array_record:
            stop = instruction.examples_in_shard if take < 0 else instruction.skip + take
            located.where += [(file, i, 0) for i in range(instruction.skip, stop)]
        else:
            offsets = _tfrecord_offsets(located.files[file], instruction.skip, take)
            located.where += [(file, offset, length) for offset, length in offsets]
    located.where = np.asarray(located.where, np.int64).reshape(-1, 3)  # 24 bytes an image
    BYTE_SOURCES[located.key + "#"] = located.image_bytes
    return located


def class_names(builder) -> list[str]:
    """The names of ``objects/label`` (``info.features``)."""
    try:
        return list(builder.info.features["objects"]["label"].names)
    except (KeyError, AttributeError, TypeError):
        raise TfdsError(
            f"{builder.name}: not a detection dataset (no objects/label class names in its "
            "features)"
        ) from None


def read_tfds(
    spec: str,
    data_dir: str | None,
    flag: str,
    keep_crowd: bool = False,
    download: bool = False,
) -> tuple[list[ImageRecord], list[str], list[Problem]]:
    """Read the records of a TFDS split (one pass over its files; images are not decoded:
    only their headers, for the size).

    Args:
        spec: ``NAME:SPLIT`` (a TFDS split string: ``train``, ``train[:10%]``…).
        data_dir: the TFDS data folder (``None``: TFDS's default).
        flag: the flag that named it, for the messages.
        keep_crowd: keep crowd objects flagged difficult (evaluation); else skip and count.
        download: download and prepare a missing dataset (needs the internet).

    Returns:
        ``(records, class names, problems)``: counted ``crowd_skipped`` / ``difficult`` kinds
        and images whose header does not read (``unreadable_image``, skipped).

    Raises:
        TfdsError: see :func:`open_builder`; no ``objects`` features.
    """
    builder, split = open_builder(spec, data_dir, flag, download)
    names = class_names(builder)
    num_joints = _num_joints(builder)
    located = _locate(builder, spec, split)
    records, problems = [], []
    for index in range(len(located.where)):
        example = tf.train.Example.FromString(located.serialized(index))
        filename = _feature(example, "image/filename")
        path = f"{located.key}#{index}/{filename.decode() if filename else ''}".rstrip("/")
        try:
            with Image.open(BytesIO(_feature(example, "image"))) as image:
                width, height = image.size
        except Exception as err:  # PIL raises many kinds for broken data
            problems.append(Problem("unreadable_image", path, f"{path}: {err}: image skipped"))
            continue
        boxes = np.asarray(_feature(example, "objects/bbox", "float_list") or [], np.float64)
        boxes = boxes.reshape(-1, 4)[:, [1, 0, 3, 2]] * [width, height, width, height]
        boxes = boxes.round(LINE_DECIMALS)  # float32 noise off: XML / JSON values come back
        labels = np.asarray(_feature(example, "objects/label", "int64_list") or [], np.int32)
        count = len(labels)
        difficult = _flags(example, "objects/is_difficult", count)
        crowd = _flags(example, "objects/is_crowd", count)
        joints = None
        if num_joints is not None:  # [N, K, 3] (x / W, y / H, v): coco_keypoints/2017
            joints = _feature(example, "objects/keypoints", "float_list") or []
            joints = np.asarray(joints, np.float32).reshape(count, num_joints, 3)
            joints = (joints * np.array([width, height, 1], np.float32)).round(LINE_DECIMALS)
        if crowd.any() and not keep_crowd:
            for _ in range(int(crowd.sum())):
                problems.append(Problem("crowd_skipped", path, f"{path}: crowd: skipped"))
        keep = ~crowd | keep_crowd
        record = ImageRecord(
            path, boxes[keep], labels[keep], (difficult | crowd)[keep], width, height,
            None if joints is None else joints[keep],
        )  # fmt: skip
        records.append(record)
    return records, names, problems


def _num_joints(builder) -> int | None:
    """``K`` of the ``objects/keypoints`` feature ``[K, 3]``, ``None`` without keypoints."""
    try:
        return int(builder.info.features["objects"]["keypoints"].shape[0])
    except (KeyError, TypeError, IndexError):
        return None


def keypoint_spec(spec: str, data_dir: str | None, flag: str) -> KeypointSpec | None:
    """The joints of a keypoints dataset (``info.metadata["keypoint_spec"]``, e.g.
    ``coco_keypoints/2017``), else ``None``."""
    builder, _ = open_builder(spec, data_dir, flag)
    config = (builder.info.metadata or {}).get("keypoint_spec")
    return None if config is None else KeypointSpec.from_config(config)


def _flags(example, name: str, count: int) -> np.ndarray:
    """``[count]`` bool of an ``objects/is_*`` feature (all false when absent)."""
    values = _feature(example, name, "int64_list")
    if not values:
        return np.zeros(count, bool)
    return np.asarray(values, bool).reshape(count)
