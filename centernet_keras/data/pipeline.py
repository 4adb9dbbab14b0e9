"""The ``tf.data`` input pipeline: read → augment / letterbox → the detector's targets → batch.

Every step after reading is TF ops in one graph (``num_parallel_calls=AUTOTUNE``, prefetch).
Reading goes through ``tf.numpy_function`` + OpenCV so that a corrupt or unreadable image is
*skipped and counted* (its path logged, see ``SkipLog``) instead of killing the epoch.
The order and the augmentation are stateless functions of ``seed`` and the position in the
stream (``training_stream``): the same seed gives the same batches, every pass draws a new order
and new augmentations, and a stream can start at any position (exact ``--resume``).
The targets are the detector's (``encoder``, e.g. ``model.target_encoder(max_objects)``): the
pipeline knows boxes and classes, not what a detector trains on.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import KW_ONLY, dataclass, field

import numpy as np
import tensorflow as tf

from centernet_keras.data.annotations import ImageRecord
from centernet_keras.data.augment import (
    AugmentConfig,
    drop_tiny_boxes,
    hsv_jitter,
    letterbox_geometry,
    random_geometry,
    warp_boxes,
    warp_image,
    warp_keypoints,
)
from centernet_keras.data.image_io import SkipLog, safe_read_image
from centernet_keras.text import shorten

log = logging.getLogger("centernet_keras.data")

#: ``encode(boxes [N, 4] float32 input pixels, classes [N] int32 (−1: ignore), input_hw,
#: keypoints=None) → dict`` of target tensors (TF ops), as ``Detector.target_encoder`` returns
#: it; ``keypoints`` ``[N, K, 3]`` (input pixels) is passed when the records have joints.
TargetEncoder = Callable[..., dict]


@dataclass
class PipelineConfig:
    """Settings of ``make_dataset``.

    Attributes:
        input_size: network input ``(height, width)``, multiples of 32.
        batch_size: images per batch.
        max_objects: target slots per image of the encoder (``Detector.target_slots``; only
            reported here: images with more boxes are named in a warning), or ``None`` when
            the encoder takes every box (FCOS): no warning.
        image_resize: ``"letterbox"`` or ``"resize"`` (validation / inference geometry).
        augment: the random training augmentation (``augment.enabled=False``: training uses
            the deterministic letterbox / resize of validation).
        min_box_size: boxes at most this many pixels wide or tall after augmentation are dropped.
        seed: seed of the shuffling (a full permutation per pass) and the augmentation.
        keypoint_flip: ``[K]`` joint permutation of a horizontal flip
            (``KeypointSpec.flip_permutation()``): needed to train on keypoints with flips.
    """

    input_size: tuple[int, int]
    _: KW_ONLY
    batch_size: int = 8
    max_objects: int | None = 100
    image_resize: str = "letterbox"
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    min_box_size: float = 1.0
    seed: int = 0
    keypoint_flip: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.keypoint_flip is not None:
            self.keypoint_flip = tuple(int(i) for i in self.keypoint_flip)


def num_keypoints(records: Sequence[ImageRecord]) -> int:
    """``K``, the joints per object of the records (0: boxes only).

    Raises:
        ValueError: records with different ``K`` (mixed files?).
    """
    counts = {r.num_keypoints for r in records}
    if len(counts) > 1:
        raise ValueError(f"the records have different numbers of joints: {sorted(counts)}")
    return counts.pop() if counts else 0


def records_to_tensors(records: Sequence[ImageRecord]) -> tuple[tf.Tensor, ...]:
    """Records → ``(paths [N], boxes ragged [N, (n), 4], classes ragged [N, (n)],
    keypoints ragged [N, (n), K, 3])`` (``K = 0`` for box annotations).

    Difficult objects (``ImageRecord.difficult``) are left out: they are not trained on, as in
    the reference, and the VOC metrics ignore them. The records are not modified.
    """
    k = num_keypoints(records)
    keep = [~r.difficult for r in records]
    lengths = [int(m.sum()) for m in keep]

    def joined(field: str, shape: tuple, dtype) -> tf.RaggedTensor:
        parts = [getattr(r, field)[m] for r, m in zip(records, keep, strict=True)]
        values = np.concatenate(parts or [np.zeros((0, *shape))]).astype(dtype)
        return tf.RaggedTensor.from_row_lengths(values.reshape(sum(lengths), *shape), lengths)

    return (
        tf.constant([str(r.path) for r in records], tf.string),
        joined("boxes", (4,), np.float32),
        joined("classes", (), np.int32),
        joined("keypoints", (k, 3), np.float32),
    )


class NothingReadableError(ValueError):
    """Every image of an endless dataset failed to decode: it would never yield a batch."""


class _ReadGuard:
    """Flags the reads of an endless stream whose every image fails to decode
    (``make_dataset``).

    The stream skips unreadable images, so without a readable one its ``filter`` would look
    for the next image forever. Once each distinct path has failed at least once and none
    was ever read, every read says *stop* (and ``skips.nothing_readable`` holds the message):
    the stream lets such a read through its filter, ends on it and then fails (``_stuck``).
    Thread-safe: reads run in parallel.
    """

    def __init__(self, paths: Sequence[str], skips: SkipLog) -> None:
        self.left, self.total, self.skips = set(paths), len(set(paths)), skips
        self.readable = False  # an image was read once: the stream is not stuck
        self.lock = threading.Lock()

    def __call__(self, path: bytes, ok: bool) -> bool:
        """Whether the stream is stuck, after a read of ``path`` that succeeded or not."""
        if self.readable:
            return False
        with self.lock:
            if ok:
                self.readable, self.left = True, set()
            else:
                self.left.discard(path.decode())
            if self.readable or self.left:
                return False
            if self.skips.nothing_readable is None:
                last = self.skips.messages[-1] if self.skips.messages else "no reason recorded"
                self.skips.nothing_readable = (
                    f"none of the {self.total} training images could be decoded (the last: "
                    f"{shorten(last, 300)}): nothing to train on"
                )
            return True


#: The message of the error that ends a stuck stream (``_stuck``).
NOTHING_READABLE = "no training image could be decoded"


def _stuck(spec) -> tf.data.Dataset:
    """One element of ``spec`` (a structure of ``tf.TensorSpec``) whose reading fails
    (``InvalidArgumentError``): what a stuck stream ends with.

    The stream itself ends first (``take_while``), so its reading threads stop and its
    iterator shuts down cleanly; an error raised inside the parallel read instead left the
    process hanging or aborting at exit in 4 of 10 runs.
    """
    zeros = tf.nest.map_structure(
        lambda s: tf.zeros([0 if d is None else d for d in s.shape], s.dtype), spec
    )

    def fail(*element):
        check = tf.debugging.Assert(tf.constant(False), [NOTHING_READABLE])
        with tf.control_dependencies([check]):
            return tf.nest.map_structure(tf.identity, element)

    return tf.data.Dataset.from_tensors(zeros).map(fail)


@contextlib.contextmanager
def nothing_readable_as_error(skips: SkipLog) -> Iterator[None]:
    """Run a block that iterates a dataset of ``make_dataset(..., skips, repeat=True)``;
    TensorFlow's error of a stream stopped because none of its images decodes (``_ReadGuard``)
    becomes a ``NothingReadableError`` with the plain one-line message (no graph trace)."""
    try:
        yield
    except tf.errors.OpError:
        if not skips.nothing_readable:
            raise
        raise NothingReadableError(skips.nothing_readable) from None


def _read(
    path: tf.Tensor, skips: SkipLog, guard: _ReadGuard | None = None
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """``(image [h, w, 3] uint8, ok, stop)``: ``stop`` when ``guard`` finds the stream stuck."""

    def read(p):
        image, ok = safe_read_image(p, skips)
        return image, ok, guard is not None and guard(p, ok)

    image, ok, stop = tf.numpy_function(read, [path], [tf.uint8, tf.bool, tf.bool], stateful=False)
    image.set_shape([None, None, 3])
    ok.set_shape([])
    stop.set_shape([])
    return image, ok, stop


def transform_example(
    image: tf.Tensor,
    boxes: tf.Tensor,
    classes: tf.Tensor,
    config: PipelineConfig,
    seed: tf.Tensor | None = None,
    encoder: TargetEncoder | None = None,
    keypoints: tf.Tensor | None = None,
) -> tuple[tf.Tensor, dict]:
    """One image ``[h, w, 3]`` + boxes ``[n, 4]`` + classes ``[n]`` → network input and targets.

    With ``seed`` (``[2]`` int), the random training augmentation; without, the deterministic
    letterbox / resize. ``keypoints`` ``[n, K, 3]`` (image pixels) move with the boxes
    (``warp_keypoints``; a flip swaps joints by ``config.keypoint_flip``).

    Returns:
        ``(image [H, W, 3] float32 0–255, targets)``: targets are ``encoder``'s dict, or
        without an encoder the moved boxes ``{"boxes": [n, 4] float32 input pixels,
        "classes": [n] (−1 where a box left the canvas or became too small)}`` (and
        ``"keypoints"`` ``[n, K, 3]`` input pixels, ``v`` as annotated, also for a joint that
        left the canvas: the encoder drops such joints).
    """
    image_hw = tf.shape(image)[:2]
    hw = config.input_size
    if seed is None:
        geometry, flip = letterbox_geometry(image_hw, hw, config.image_resize), False
    else:
        seeds = tf.random.experimental.stateless_split(seed, 3)
        aug = config.augment
        geometry = random_geometry(image_hw, hw, seeds[0], aug.jitter, aug.scale_range)
        flip = tf.random.stateless_uniform([], seed=seeds[1]) < aug.flip_prob
    out = warp_image(image, image_hw, geometry, hw, flip)
    boxes = warp_boxes(boxes, geometry, image_hw, hw, flip)
    extra = {}
    if keypoints is not None:
        if seed is not None and config.keypoint_flip is None and config.augment.flip_prob > 0:
            raise ValueError(
                "flipping keypoints needs PipelineConfig.keypoint_flip (the joint permutation "
                "of KeypointSpec.flip_permutation())"
            )
        extra["keypoints"] = warp_keypoints(
            keypoints, geometry, image_hw, hw, flip, config.keypoint_flip
        )
    if seed is not None:
        out = hsv_jitter(out, seeds[2], aug.hue, aug.sat, aug.val)
    classes = drop_tiny_boxes(boxes, classes, config.min_box_size)
    if encoder is None:
        return out, {"boxes": boxes, "classes": classes, **extra}
    return out, encoder(boxes, classes, hw, **extra)


def _report_overfull(records: Sequence[ImageRecord], max_objects: int | None) -> None:
    if max_objects is None:  # the encoder takes every box
        return
    counts = [int((~r.difficult).sum()) for r in records]  # difficult boxes are left out
    over = [(n, r) for n, r in zip(counts, records, strict=True) if n > max_objects]
    if over:
        log.warning(
            "%d image(s) have more than max_objects=%d boxes (most: %d in %s); the extra boxes "
            "are not trained on. Raise max_objects to use them.",
            len(over), max_objects, max(n for n, _ in over), over[0][1].path,
        )  # fmt: skip


def training_stream(num_records: int, seed: int, start: int = 0) -> tf.data.Dataset:
    """The order and augmentation seeds of training, as a pure function of the position.

    Example ``i`` of the endless stream belongs to pass ``p = i // n``: it is record
    ``perm_p[i mod n]`` (``perm_p`` a permutation drawn from ``(seed, p)``) with the
    augmentation seed ``fold_in((seed, 1), i)``. So a stream started at ``start`` yields
    exactly what an unbroken stream yields from its ``start``-th example on, without reading
    the examples before it: a resumed run sees the batches the unbroken run would have seen.

    Returns:
        A dataset of ``(record index int32 [], seed int64 [2])``.
    """
    n = int(num_records)
    first_pass = start // n

    def one_pass(p):
        perm_seed = tf.random.experimental.stateless_fold_in(tf.constant([seed, 0], tf.int64), p)
        order = tf.random.experimental.stateless_shuffle(tf.range(n), seed=perm_seed)
        return tf.data.Dataset.from_tensor_slices((order, p * n + tf.range(n, dtype=tf.int64)))

    def with_seed(index, i):
        base = tf.constant([seed, 1], tf.int64)
        return index, tf.random.experimental.stateless_fold_in(base, i)

    stream = tf.data.Dataset.counter(first_pass).flat_map(one_pass)
    return stream.skip(start - first_pass * n).map(with_seed)


def make_dataset(
    records: Sequence[ImageRecord],
    config: PipelineConfig,
    training: bool,
    skips: SkipLog | None = None,
    drop_remainder: bool | None = None,
    repeat: bool = False,
    start: int = 0,
    shard: tuple[int, int, int] | None = None,
    *,
    encoder: TargetEncoder,
) -> tf.data.Dataset:
    """Build the batched dataset ``(images [B, H, W, 3] float32 0–255, targets)``.

    Args:
        records: images and their boxes (e.g. from ``read_annotation_file``).
        config: pipeline settings.
        encoder: the detector's targets of one image (``model.target_encoder(max_objects)``;
            see ``TargetEncoder``).
        training: shuffle + random augmentation (else letterbox/resize only, file order).
        skips: collects the images that could not be read (count, messages); pass one to
            report them after an epoch.
        drop_remainder: drop the last partial batch (default: ``training``), which keeps the
            number of steps per epoch fixed.
        repeat: training: an endless stream of passes (every batch full, also with fewer
            images than a batch) instead of one pass. Once every image failed to decode, with
            none read, iterating raises TensorFlow's ``InvalidArgumentError`` (its message
            in ``skips.nothing_readable``; ``nothing_readable_as_error`` turns it into a
            ``NothingReadableError``) instead of looking for a readable image forever.
        start: training: begin the stream after this many examples (``--resume``: the
            examples that earlier epochs consumed); see ``training_stream``.
        shard: training: ``(index, count, run)`` keeps, of every ``count`` consecutive runs of
            ``run`` examples of the stream (counted from its beginning), the ``index``-th; the
            others are never read. One worker's share of each global batch when several
            train together (``training.distribute.distribute_training_data``).

    Returns:
        A ``tf.data.Dataset``; targets are the encoder's, batched (CenterNet: ``heatmap
        [B, H/4, W/4, C]``, ``size``/``offset`` ``[B, M, 2]``, ``indices`` ``[B, M]`` int32,
        ``mask`` ``[B, M]``).
    """
    if not records:
        raise ValueError("no images to build a dataset from")
    for dim in config.input_size:
        if dim % 32:
            raise ValueError(f"input_size must be multiples of 32, got {config.input_size}")
    skips = skips if skips is not None else SkipLog()
    _report_overfull(records, config.max_objects)
    tensors = records_to_tensors(records)
    with_keypoints = num_keypoints(records) > 0
    if training:
        data = training_stream(len(records), config.seed, start).map(
            lambda index, seed: (tuple(t[index] for t in tensors), seed)
        )
        if not repeat:
            data = data.take(len(records))
        if shard is not None:
            index, count, run = shard
            data = data.enumerate(start).filter(lambda i, _: (i // run) % count == index)
            data = data.map(lambda i, example: example)
    else:  # file order; same element structure as training (the seed is unused)
        data = tf.data.Dataset.from_tensor_slices(tensors)
        data = data.map(lambda *example: (example, tf.zeros([2], tf.int64)))

    guard = _ReadGuard([str(r.path) for r in records], skips) if training and repeat else None

    def read(example, noise):
        path, boxes, classes, keypoints = example
        image, ok, stop = _read(path, skips, guard)
        return image, boxes, classes, keypoints, ok, stop, noise

    def transform(image, boxes, classes, keypoints, ok, stop, noise):
        random = training and config.augment.enabled
        return transform_example(
            image, boxes, classes, config, noise if random else None, encoder=encoder,
            keypoints=keypoints if with_keypoints else None,
        )  # fmt: skip

    data = data.map(read, num_parallel_calls=tf.data.AUTOTUNE)
    data = data.filter(lambda image, boxes, classes, keypoints, ok, stop, noise: ok | stop)
    if guard is not None:  # a stuck stream ends, with an error (_stuck)
        data = data.take_while(lambda *example: ~example[5])
        data = data.concatenate(_stuck(data.element_spec))
    data = data.map(transform, num_parallel_calls=tf.data.AUTOTUNE)
    drop = training if drop_remainder is None else drop_remainder
    return data.batch(config.batch_size, drop_remainder=drop).prefetch(tf.data.AUTOTUNE)
