"""FCOS decoding in ``keras.ops`` (TF, JAX and PyTorch backends), after torchvision's
``FCOS.postprocess_detections``.

Pipeline: ``score = sqrt(σ(class) · σ(centerness))`` → per level, the top ``pre_nms_top_k``
(location, class) pairs → those scoring above ``score_threshold`` → ``box = location ∓ deltas ·
stride`` clipped to the input → class-wise greedy NMS over all levels → the best
``max_detections``. The output always has ``max_detections`` rows per image; invalid rows are
padded with ``-1`` after the valid ones (the KerasHub convention), as ``decode_centernet``.

Head outputs are flat over the locations: ``[B, L, ·]``, levels concatenated, row-major inside
a level (``centernet_keras.locations``). The image size is a static ``(height, width)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import keras
from keras import ops

from centernet_keras.decoding.base import Decoder
from centernet_keras.decoding.common import class_nms, compact_rows
from centernet_keras.gather import take_rows
from centernet_keras.locations import (
    FCOS_STRIDES,
    fcos_level_shapes,
    fcos_location_strides,
    fcos_locations,
)


def boxes_from_deltas(
    locations: keras.KerasTensor, deltas: keras.KerasTensor, strides: keras.KerasTensor | float
) -> keras.KerasTensor:
    """Boxes ``(x − l·s, y − t·s, x + r·s, y + b·s)`` around locations (the write-up's
    ``fcos_apply_deltas_to_locations``); negative deltas count as 0.

    Args:
        locations: ``[..., 2]`` ``(x, y)`` input pixels.
        deltas: ``[..., 4]`` ``(l, t, r, b)`` in stride units.
        strides: The stride, a number or ``[...]`` per location.

    Returns:
        ``[..., 4]`` float32 ``xyxy`` boxes in input pixels.
    """
    loc = ops.cast(locations, "float32")
    s = ops.cast(strides, "float32")
    if len(s.shape):
        s = ops.expand_dims(s, -1)
    d = ops.relu(ops.cast(deltas, "float32")) * s
    return ops.concatenate([loc - d[..., :2], loc + d[..., 2:]], axis=-1)


def _level_candidates(
    scores: keras.KerasTensor, counts: Sequence[int], k: int
) -> tuple[keras.KerasTensor, keras.KerasTensor, keras.KerasTensor]:
    """The top ``min(k, L_l · C)`` (location, class) pairs of each level, levels concatenated.

    Args:
        scores: ``[B, L, C]`` scores.
        counts: Locations per level, summing to ``L``.
        k: Candidates per level (at most).

    Returns:
        ``scores [B, K]`` float32, ``locations [B, K]`` int32 (flat index into ``L``) and
        ``classes [B, K]`` int32, ``K = Σ min(k, L_l · C)``.
    """
    num_classes = scores.shape[-1]
    out_scores, out_locations, out_classes = [], [], []
    start = 0
    for count in counts:
        level = ops.reshape(scores[:, start : start + count, :], (-1, count * num_classes))
        top, idx = ops.top_k(level, k=min(k, count * num_classes), sorted=True)
        idx = ops.cast(idx, "int32")
        out_scores.append(top)
        out_locations.append(idx // num_classes + start)
        out_classes.append(idx % num_classes)
        start += count
    return tuple(
        ops.concatenate(parts, axis=1) for parts in (out_scores, out_locations, out_classes)
    )


def _pad_rows(t: keras.KerasTensor, rows: int) -> keras.KerasTensor:
    """``[B, K, ...]`` → ``[B, rows, ...]``: the first ``rows``, or padded with ``-1``."""
    k = t.shape[1]
    if k >= rows:
        return t[:, :rows]
    pad_shape = (ops.shape(t)[0], rows - k, *t.shape[2:])
    return ops.concatenate([t, ops.full(pad_shape, -1, dtype=t.dtype)], axis=1)


def decode_fcos(
    classes: keras.KerasTensor,
    deltas: keras.KerasTensor,
    centerness: keras.KerasTensor,
    image_size: Sequence[int],
    strides: Sequence[int] = FCOS_STRIDES,
    max_detections: int = 100,
    score_threshold: float = 0.05,
    iou_threshold: float | None = 0.6,
    pre_nms_top_k: int = 1000,
    from_logits: bool = True,
) -> dict[str, keras.KerasTensor]:
    """Decode FCOS head outputs into padded per-image detections.

    Args:
        classes: ``[B, L, C]`` class logits (probabilities with ``from_logits=False``).
        deltas: ``[B, L, 4]`` ``(l, t, r, b)`` in stride units (negative values count as 0).
        centerness: ``[B, L]`` centerness logits (probabilities with ``from_logits=False``).
        image_size: ``(height, width)`` of the network input, Python ints: gives the locations
            and the clipping window (``0 ≤ x ≤ W``, ``0 ≤ y ≤ H``).
        strides: Stride of each level; ``L`` must be ``Σ ceil(H/s) · ceil(W/s)``.
        max_detections: ``K``, rows per image in the output.
        score_threshold: A detection needs ``score > score_threshold`` (strict, torchvision).
        iou_threshold: Class-wise greedy NMS IoU (a box is removed when its IoU with a
            higher-scoring kept box of its class is ``> iou_threshold``); ``None``: no NMS.
        pre_nms_top_k: (location, class) candidates kept per level before the NMS. The NMS
            costs ``O(B · N²)`` memory for ``N = Σ_l min(pre_nms_top_k, L_l · C)`` candidates.
        from_logits: Whether ``classes`` and ``centerness`` are logits (raw head outputs) or
            already sigmoid probabilities (a model's activated maps, as ``FCOSDecoder`` reads).

    Returns:
        ``boxes [B, K, 4]`` float32 xyxy input pixels, ``scores [B, K]`` float32, ``classes
        [B, K]`` int32 and ``num_detections [B]`` int32. Valid rows come first, sorted by score
        descending; the rest are ``-1``.

    Raises:
        ValueError: If the number of locations does not fit ``image_size`` and ``strides``.
    """
    height, width = (int(v) for v in image_size)
    counts = [h * w for h, w in fcos_level_shapes(image_size, strides)]
    if classes.shape[1] is not None and classes.shape[1] != sum(counts):
        raise ValueError(
            f"{classes.shape[1]} locations given, but image_size {tuple(image_size)} with "
            f"strides {tuple(strides)} has {sum(counts)}"
        )
    cls = ops.cast(classes, "float32")
    ctr = ops.cast(centerness, "float32")
    if from_logits:
        cls, ctr = ops.sigmoid(cls), ops.sigmoid(ctr)
    scores = ops.sqrt(cls * ops.expand_dims(ctr, -1))  # [B, L, C]

    scores, loc_idx, labels = _level_candidates(scores, counts, int(pre_nms_top_k))  # [B, N]
    scores, order = ops.top_k(scores, k=scores.shape[1], sorted=True)  # NMS wants them sorted
    loc_idx = take_rows(loc_idx, order)
    labels = take_rows(labels, order)
    valid = scores > float(score_threshold)

    locations = ops.take(ops.convert_to_tensor(fcos_locations(image_size, strides)), loc_idx, 0)
    loc_strides = ops.take(
        ops.convert_to_tensor(fcos_location_strides(image_size, strides)), loc_idx, 0
    )  # [B, N]
    d = take_rows(ops.cast(deltas, "float32"), loc_idx)  # [B, N, 4]
    boxes = boxes_from_deltas(locations, d, loc_strides)  # [B, N, 4]
    upper = ops.convert_to_tensor([width, height, width, height], "float32")
    boxes = ops.minimum(ops.maximum(boxes, 0.0), upper)

    if iou_threshold is not None:
        valid = class_nms(boxes, labels, valid, float(iou_threshold))
    boxes, scores, labels = compact_rows(valid, boxes, scores, labels)
    num_detections = ops.minimum(ops.sum(ops.cast(valid, "int32"), axis=1), int(max_detections))
    return {
        "boxes": _pad_rows(boxes, int(max_detections)),
        "scores": _pad_rows(scores, int(max_detections)),
        "classes": ops.cast(_pad_rows(labels, int(max_detections)), "int32"),
        "num_detections": ops.cast(num_detections, "int32"),
    }


def _mirror_levels(
    x: keras.KerasTensor, level_shapes: Sequence[Sequence[int]]
) -> keras.KerasTensor:
    """Mirror ``[B, L, ...]`` flat per-level maps left–right, level by level."""
    trailing = tuple(x.shape[2:])
    parts, start = [], 0
    for h, w in level_shapes:
        n = int(h) * int(w)
        level = ops.reshape(x[:, start : start + n], (-1, int(h), int(w), *trailing))
        parts.append(ops.reshape(ops.flip(level, axis=2), (-1, n, *trailing)))
        start += n
    return ops.concatenate(parts, axis=1)


def merge_fcos_flip(
    maps: Mapping[str, keras.KerasTensor],
    flipped: Mapping[str, keras.KerasTensor],
    level_shapes: Sequence[Sequence[int]],
) -> dict[str, keras.KerasTensor]:
    """Flip test: merge the maps of images with those of their mirror images.

    ``flipped`` holds the maps of the horizontally flipped images, still flipped. Each level is
    mirrored back; ``classes`` and ``centerness`` are averaged (probabilities, as the model's
    activated maps), ``deltas`` are averaged after swapping ``l`` and ``r``. The mirror of the
    location ``x`` is ``W − x``, exact when ``W`` is a multiple of every stride. Other keys are
    taken from ``maps``.

    Args:
        maps: ``{"classes" [B, L, C], "deltas" [B, L, 4], "centerness" [B, L], ...}``.
        flipped: The same for the mirrored images.
        level_shapes: ``(H_l, W_l)`` of each level (``fcos_level_shapes``).

    Returns:
        The merged maps, same keys and shapes as ``maps``.
    """
    merged = dict(maps)
    for key in ("classes", "centerness"):
        merged[key] = (maps[key] + _mirror_levels(flipped[key], level_shapes)) / 2.0
    mirrored = _mirror_levels(flipped["deltas"], level_shapes)
    swapped = ops.stack(
        [mirrored[..., 2], mirrored[..., 1], mirrored[..., 0], mirrored[..., 3]], axis=-1
    )
    merged["deltas"] = (maps["deltas"] + swapped) / 2.0
    return merged


@keras.saving.register_keras_serializable(package="centernet_keras")
class FCOSDecoder(Decoder):
    """FCOS boxes (``decode_fcos``) from the model's activated maps.

    The model activates before the decoder, as for CenterNet: its ``activate`` applies the
    sigmoid to ``classes`` and ``centerness`` (the flip test averages those probabilities,
    ``merge_fcos_flip``) and passes ``deltas`` through; this decoder reads probabilities.

    Args:
        max_detections: rows per image in the output (``K``).
        score_threshold: a detection needs ``sqrt(p_class · p_centerness) > score_threshold``.
        iou_threshold: class-wise greedy NMS IoU, or ``None`` for no NMS.
        pre_nms_top_k: (location, class) candidates per level before the NMS.
        strides: stride of each pyramid level.
        image_size: ``(height, width)`` of the network input the maps belong to (the locations
            and the clipping window); ``None`` when the model's input size is not fixed, then
            each call passes it.

    Call: ``{"classes" probabilities [B, L, C], "deltas" [B, L, 4] (stride units),
    "centerness" probabilities [B, L]}`` and optionally ``image_size=(H, W)`` (overrides the
    setting) → ``{"boxes" [B, K, 4], "scores" [B, K], "classes" [B, K], "num_detections" [B]}``.
    """

    def __init__(
        self,
        max_detections: int = 100,
        score_threshold: float = 0.05,
        iou_threshold: float | None = 0.6,
        pre_nms_top_k: int = 1000,
        strides: Sequence[int] = FCOS_STRIDES,
        image_size: Sequence[int] | None = None,
        **kwargs,
    ):
        strides = tuple(int(s) for s in strides)
        if not strides or any(s < 1 for s in strides):
            raise ValueError(f"strides must be positive, got {strides}")
        if int(pre_nms_top_k) < 1:
            raise ValueError(f"pre_nms_top_k must be >= 1, got {pre_nms_top_k}")
        super().__init__(max_detections, score_threshold, iou_threshold, strides[0], **kwargs)
        self.pre_nms_top_k = int(pre_nms_top_k)
        self.strides = strides
        self.image_size = None if image_size is None else tuple(int(v) for v in image_size)

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("stride")
        return {
            **config,
            "pre_nms_top_k": self.pre_nms_top_k,
            "strides": list(self.strides),
            "image_size": None if self.image_size is None else list(self.image_size),
        }

    def call(
        self, maps: Mapping[str, keras.KerasTensor], image_size: Sequence[int] | None = None
    ) -> dict[str, keras.KerasTensor]:
        size = self.image_size if image_size is None else image_size
        if size is None:
            raise ValueError("FCOSDecoder needs image_size: set it, or pass it to the call")
        return decode_fcos(
            maps["classes"],
            maps["deltas"],
            maps["centerness"],
            image_size=tuple(int(v) for v in size),
            strides=self.strides,
            max_detections=self.max_detections,
            score_threshold=self.score_threshold,
            iou_threshold=self.iou_threshold,
            pre_nms_top_k=self.pre_nms_top_k,
            from_logits=False,
        )
