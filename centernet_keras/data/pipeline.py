"""The ``tf.data`` input pipeline: read → augment / letterbox → CenterNet targets → batch.

Every step after reading is TF ops in one graph (``num_parallel_calls=AUTOTUNE``, prefetch).
Reading goes through ``tf.numpy_function`` + OpenCV so that a corrupt or unreadable image is
*skipped and counted* (its path logged, see ``SkipLog``) instead of killing the epoch.
Augmentation randomness is stateless and derived from ``seed``: the same seed gives the same
batches, and every epoch draws new augmentations.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from centernet_keras.data.annotations import ImageRecord
from centernet_keras.data.augment import (
    drop_tiny_boxes,
    hsv_jitter,
    letterbox_geometry,
    random_geometry,
    warp_boxes,
    warp_image,
)
from centernet_keras.data.image_io import SkipLog, safe_read_image
from centernet_keras.targets import encode_targets

log = logging.getLogger("centernet_keras.data")


@dataclass
class PipelineConfig:
    """Settings of ``make_dataset``.

    Attributes:
        input_size: network input ``(height, width)``, multiples of 32.
        num_classes: number of classes.
        batch_size: images per batch.
        max_objects: target slots per image (boxes beyond it are not trained on; reported).
        image_resize: ``"letterbox"`` or ``"resize"`` (validation / inference geometry).
        augment: random augmentation when training; ``False`` trains on the deterministic
            letterbox / resize of validation (the fields below are then unused).
        jitter, scale_range: random aspect jitter and scale range (training).
        flip_prob: horizontal flip probability (training).
        hue, sat, val: HSV jitter (training).
        min_box_size: boxes at most this many pixels wide or tall after augmentation are dropped.
        shuffle_buffer: shuffle buffer (training); ``0`` = the whole dataset.
        seed: seed of the shuffling and the augmentation.
    """

    input_size: tuple[int, int]
    num_classes: int
    batch_size: int = 8
    max_objects: int = 100
    image_resize: str = "letterbox"
    augment: bool = True
    jitter: float = 0.3
    scale_range: tuple[float, float] = (0.25, 2.0)
    flip_prob: float = 0.5
    hue: float = 0.1
    sat: float = 1.5
    val: float = 1.5
    min_box_size: float = 1.0
    shuffle_buffer: int = 0
    seed: int = 0


#: The augmentation settings, shared by name with ``TrainConfig``.
AUGMENT_FIELDS = ("jitter", "scale_range", "flip_prob", "hue", "sat", "val")


def records_to_tensors(records: Sequence[ImageRecord]) -> tuple[tf.Tensor, ...]:
    """Records → ``(paths [N], boxes ragged [N, (n), 4], classes ragged [N, (n)])``.

    Difficult objects (``ImageRecord.difficult``) are left out: they are not trained on, as in
    the reference, and the VOC metrics ignore them. The records are not modified.
    """
    keep = [~r.difficult for r in records]
    lengths = [int(k.sum()) for k in keep]
    boxes = [r.boxes[k] for r, k in zip(records, keep, strict=True)]
    classes = [r.classes[k] for r, k in zip(records, keep, strict=True)]
    boxes = np.concatenate(boxes or [np.zeros((0, 4))]).astype(np.float32)
    classes = np.concatenate(classes or [np.zeros(0)]).astype(np.int32)
    return (
        tf.constant([str(r.path) for r in records], tf.string),
        tf.RaggedTensor.from_row_lengths(boxes.reshape(-1, 4), lengths),
        tf.RaggedTensor.from_row_lengths(classes, lengths),
    )


def _read(path: tf.Tensor, skips: SkipLog) -> tuple[tf.Tensor, tf.Tensor]:
    image, ok = tf.numpy_function(
        lambda p: safe_read_image(p, skips), [path], [tf.uint8, tf.bool], stateful=False
    )
    image.set_shape([None, None, 3])
    ok.set_shape([])
    return image, ok


def transform_example(image, boxes, classes, config: PipelineConfig, seed=None):
    """One image ``[h, w, 3]`` + boxes ``[n, 4]`` → network input and targets.

    With ``seed`` (``[2]`` int), the random training augmentation; without, the deterministic
    letterbox / resize.

    Returns:
        ``(image [H, W, 3] float32 0–255, targets dict of encode_targets)``.
    """
    image_hw = tf.shape(image)[:2]
    hw = config.input_size
    if seed is None:
        geometry, flip = letterbox_geometry(image_hw, hw, config.image_resize), False
    else:
        seeds = tf.random.experimental.stateless_split(seed, 3)
        geometry = random_geometry(image_hw, hw, seeds[0], config.jitter, config.scale_range)
        flip = tf.random.stateless_uniform([], seed=seeds[1]) < config.flip_prob
    out = warp_image(image, image_hw, geometry, hw, flip)
    boxes = warp_boxes(boxes, geometry, image_hw, hw, flip)
    if seed is not None:
        out = hsv_jitter(out, seeds[2], config.hue, config.sat, config.val)
    classes = drop_tiny_boxes(boxes, classes, config.min_box_size)
    targets = encode_targets(boxes, classes, hw, config.num_classes, config.max_objects)
    return out, targets


def _report_overfull(records: Sequence[ImageRecord], max_objects: int) -> None:
    counts = [int((~r.difficult).sum()) for r in records]  # difficult boxes are left out
    over = [(n, r) for n, r in zip(counts, records, strict=True) if n > max_objects]
    if over:
        log.warning(
            "%d image(s) have more than max_objects=%d boxes (most: %d in %s); the extra boxes "
            "are not trained on. Raise max_objects to use them.",
            len(over), max_objects, max(n for n, _ in over), over[0][1].path,
        )  # fmt: skip


def make_dataset(
    records: Sequence[ImageRecord],
    config: PipelineConfig,
    training: bool,
    skips: SkipLog | None = None,
    drop_remainder: bool | None = None,
) -> tf.data.Dataset:
    """Build the batched dataset ``(images [B, H, W, 3] float32 0–255, targets)``.

    Args:
        records: images and their boxes (e.g. from ``read_annotation_file``).
        config: pipeline settings.
        training: shuffle + random augmentation (else letterbox/resize only, file order).
        skips: collects the images that could not be read (count, messages); pass one to
            report them after an epoch.
        drop_remainder: drop the last partial batch (default: ``training``), which keeps the
            number of steps per epoch fixed.

    Returns:
        A ``tf.data.Dataset``; targets are ``heatmap [B, H/4, W/4, C]``, ``size``/``offset``
        ``[B, M, 2]``, ``indices`` ``[B, M]`` int32, ``mask`` ``[B, M]``.
    """
    if not records:
        raise ValueError("no images to build a dataset from")
    for dim in config.input_size:
        if dim % 32:
            raise ValueError(f"input_size must be multiples of 32, got {config.input_size}")
    skips = skips if skips is not None else SkipLog()
    _report_overfull(records, config.max_objects)
    data = tf.data.Dataset.from_tensor_slices(records_to_tensors(records))
    if training:
        buffer = config.shuffle_buffer or len(records)
        data = data.shuffle(buffer, seed=config.seed, reshuffle_each_iteration=True)
        noise = tf.data.Dataset.random(seed=config.seed, rerandomize_each_iteration=True)
        data = tf.data.Dataset.zip(data, noise.batch(2))

    if not training:  # same element structure as the training branch; the seed is unused
        data = data.map(lambda *example: (example, tf.zeros([2], tf.int64)))

    def read(example, noise):
        path, boxes, classes = example
        image, ok = _read(path, skips)
        return image, boxes, classes, ok, noise

    def transform(image, boxes, classes, ok, noise):
        random = training and config.augment
        return transform_example(image, boxes, classes, config, noise if random else None)

    data = data.map(read, num_parallel_calls=tf.data.AUTOTUNE)
    data = data.filter(lambda image, boxes, classes, ok, noise: ok)
    data = data.map(transform, num_parallel_calls=tf.data.AUTOTUNE)
    drop = training if drop_remainder is None else drop_remainder
    return data.batch(config.batch_size, drop_remainder=drop).prefetch(tf.data.AUTOTUNE)
