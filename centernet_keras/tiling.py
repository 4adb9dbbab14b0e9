"""Tiled inference for small objects: an image cut into overlapping tiles, each run at the
network input size, besides the whole image downscaled as usual, and the detections merged.

An object of 10 px in a 2048 px image is under 1 px once the whole image is fitted to a
128 px input; in a 128 px tile it keeps its 10 px. ``Tiler`` (the ``Predictor``'s ``tile=``,
``--tile SIZE --tile-overlap F``):

1. ``tile_grid``: SIZE x SIZE windows of the original image (cut to the image where it is
   smaller), neighbours overlapping by ``round(F * SIZE)`` px, the last one of each row and
   column aligned to the image edge; an image no larger than a tile gets none (and exactly
   the un-tiled detections);
2. each tile fitted to the network input as the whole image is (``preprocess.fit_to_input``;
   a model with a dynamic input: the tile side rounded up to a multiple of 32), all views
   batched through the engine (``engine.detect``: ``TILE_BATCH_PIXELS`` input pixels a call,
   at most ``TILE_BATCH`` views; the last batch padded so a traced function keeps one shape);
3. each view's detections mapped back by ``ImageTransform.postprocess`` (in the tile's
   pixels) and shifted by the tile's corner; a tile's detection touching an inner tile edge
   (an edge inside the image) is dropped: it is a cut object, which the neighbouring tile
   (objects up to the overlap) or the whole image (larger ones) sees whole;
4. ``merge``: greedy NMS across views, class-wise, by IoU for boxes and by OKS for a pose
   model's people (the model's ``keypoint_spec`` sigmas); detections of one view do not
   suppress each other (the decoder has done that, as the model is set up to); at most the
   decoder's ``max_detections`` are kept.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from centernet_keras.boxes import iou_matrix
from centernet_keras.choices import DEFAULT_TILE_OVERLAP, MIN_TILE
from centernet_keras.data.image_io import ImageInput, load_image
from centernet_keras.detections import Detections
from centernet_keras.preprocess import ImageTransform, fit_to_input

#: Network input pixels per engine call (32 views of 128 x 128, 8 of 256, 2 of 512)…
TILE_BATCH_PIXELS = 32 * 128 * 128
#: … and at most this many views (tiles and the whole image).
TILE_BATCH = 32
#: Detections of two views with a box IoU above this are one object (class-wise).
MERGE_IOU = 0.5
#: A pose model's people of two views with an OKS above this are one person.
MERGE_OKS = 0.5
#: A tile's detection within this many network-input pixels of an inner tile edge is cut.
EDGE_MARGIN = 2.0


def check_tile(tile: int | None, overlap: float) -> None:
    """The errors of a ``tile`` / ``tile_overlap`` setting (``Predictor``'s).

    Raises:
        ValueError: a tile side below ``MIN_TILE``, or an overlap outside ``[0, 1)``.
    """
    if tile is not None and not (isinstance(tile, int | np.integer) and tile >= MIN_TILE):
        raise ValueError(f"tile (--tile) must be a side of at least {MIN_TILE} pixels, got {tile}")
    if not 0.0 <= float(overlap) < 1.0:
        raise ValueError(f"tile_overlap (--tile-overlap) must be in [0, 1), got {overlap}")


def _starts(length: int, tile: int, overlap: float) -> list[int]:
    """Tile starts along one side: a stride of ``tile - round(overlap * tile)``, the last
    start ``length - tile``; ``[0]`` when the side fits in a tile."""
    if length <= tile:
        return [0]
    stride = max(1, tile - round(overlap * tile))
    count = math.ceil((length - tile) / stride) + 1
    return [min(i * stride, length - tile) for i in range(count)]


def tile_grid(
    image_hw: Sequence[int], tile: int, overlap: float = DEFAULT_TILE_OVERLAP
) -> np.ndarray:
    """The tiles of an image: ``[N, 4]`` int64 windows ``(x1, y1, x2, y2)`` in its pixels.

    Each is ``min(tile, h) x min(tile, w)``; neighbours overlap by ``round(overlap * tile)``
    px (more for the last, aligned to the edge); together they cover the image. An image no
    larger than a tile on both sides gets none (``[0, 4]``).
    """
    h, w = (int(v) for v in image_hw)
    if h <= tile and w <= tile:
        return np.zeros((0, 4), np.int64)
    th, tw = min(tile, h), min(tile, w)
    return np.array(
        [
            (x, y, x + tw, y + th)
            for y in _starts(h, tile, overlap)
            for x in _starts(w, tile, overlap)
        ],
        np.int64,
    )


def tile_input_hw(model_hw: Sequence[int | None], crop_hw: Sequence[int]) -> tuple[int, int]:
    """The network input of a tile: the model's fixed input, else (a dynamic input) the tile's
    sides rounded up to multiples of 32."""
    if None not in tuple(model_hw):
        return int(model_hw[0]), int(model_hw[1])
    return tuple(max(32, math.ceil(int(v) / 32) * 32) for v in crop_hw)  # type: ignore[return-value]


def shifted(found: Detections, window: Sequence[int], image_hw: Sequence[int]) -> Detections:
    """A tile's detections (in its pixels) moved to the image's: boxes and joints shifted by
    the tile's corner ``window[:2]``."""
    x1, y1 = float(window[0]), float(window[1])
    return Detections(
        boxes=(np.asarray(found.boxes, np.float32) + np.float32([x1, y1, x1, y1])),
        scores=found.scores,
        class_ids=found.class_ids,
        class_names=list(found.class_names),
        image_size=(int(image_hw[0]), int(image_hw[1])),
        keypoints=None if found.keypoints is None else found.keypoints + np.float32([x1, y1]),
        keypoint_scores=found.keypoint_scores,
    )


def inner_edge_mask(
    boxes: np.ndarray, window: Sequence[int], image_hw: Sequence[int], margin: float
) -> np.ndarray:
    """``[N]`` bool: the boxes (image pixels) within ``margin`` px of an edge of ``window``
    that lies inside the image (not on the image border)."""
    x1, y1, x2, y2 = (float(v) for v in window)
    h, w = (float(v) for v in image_hw)
    b = np.asarray(boxes, np.float32).reshape(-1, 4)
    touch = np.zeros(len(b), bool)
    if x1 > 0:
        touch |= b[:, 0] <= x1 + margin
    if y1 > 0:
        touch |= b[:, 1] <= y1 + margin
    if x2 < w:
        touch |= b[:, 2] >= x2 - margin
    if y2 < h:
        touch |= b[:, 3] >= y2 - margin
    return touch


def oks_one(
    joints: np.ndarray, box: np.ndarray, others: np.ndarray, sigmas: Sequence[float]
) -> np.ndarray:
    """OKS of one person's ``[J, 2]`` joints (box ``[4]``, its area the scale) with ``[N, J,
    2]`` others: pycocotools' ``computeOks`` (``exp(-d² / (2 · area · (2σ)²))`` averaged over
    the joints), with the person's box area for the object area."""
    variances = (2.0 * np.asarray(sigmas, np.float32)) ** 2
    area = max(float((box[2] - box[0]) * (box[3] - box[1])), 1e-9)
    d2 = ((np.asarray(others, np.float32) - joints[None]) ** 2).sum(-1)  # [N, J]
    return np.exp(-d2 / (2.0 * area * variances)).mean(-1)


def merge(
    parts: Sequence[Detections],
    image_hw: Sequence[int],
    max_detections: int,
    sigmas: Sequence[float] | None = None,
    iou_threshold: float = MERGE_IOU,
    oks_threshold: float = MERGE_OKS,
) -> Detections:
    """The detections of several views of one image as one set: greedy NMS across views.

    By descending score, a detection is kept unless a kept one of another view, of its class,
    overlaps it by more than the threshold: box IoU, or for people (``sigmas`` given: a pose
    model's) the OKS of their joints. Stops at ``max_detections`` kept.

    Args:
        parts: each view's detections, in the image's pixels.
        image_hw: the image's ``(h, w)``.
        max_detections: the most detections returned.
        sigmas: a pose model's ``J`` OKS sigmas (``KeypointSpec.sigmas``), else ``None``.
        iou_threshold, oks_threshold: above these two detections are one.
    """
    view = np.concatenate([np.full(len(p), i) for i, p in enumerate(parts)]).astype(np.int64)
    boxes = np.concatenate([np.asarray(p.boxes, np.float32).reshape(-1, 4) for p in parts])
    scores = np.concatenate([np.asarray(p.scores, np.float32) for p in parts])
    classes = np.concatenate([np.asarray(p.class_ids, np.int32) for p in parts])
    names = [n for p in parts for n in p.class_names]
    pose = sigmas is not None and parts[0].keypoints is not None
    joints = np.concatenate([p.keypoints for p in parts]) if pose else None
    joint_scores = (
        np.concatenate([p.keypoint_scores for p in parts])
        if pose and parts[0].keypoint_scores is not None
        else None
    )
    order = np.argsort(-scores, kind="stable")
    alive = np.ones(len(scores), bool)
    kept: list[int] = []
    for i in order:
        if not alive[i]:
            continue
        kept.append(int(i))
        if len(kept) >= max_detections:
            break
        if pose:
            same = oks_one(joints[i], boxes[i], joints, sigmas) > oks_threshold
        else:
            same = iou_matrix(boxes[i], boxes)[0] > iou_threshold
        alive &= ~(same & (classes == classes[i]) & (view != view[i]))
    keep = np.asarray(kept, np.int64)
    return Detections(
        boxes=boxes[keep],
        scores=scores[keep],
        class_ids=classes[keep],
        class_names=[names[i] for i in keep],
        image_size=(int(image_hw[0]), int(image_hw[1])),
        keypoints=None if joints is None else joints[keep],
        keypoint_scores=None if joint_scores is None else joint_scores[keep],
    )


def detect_batched(
    detect: Callable[[np.ndarray], dict],
    inputs: Sequence[np.ndarray],
    batch_size: int | None = None,
) -> list[tuple[dict, int]]:
    """``detect`` over ``[H, W, 3]`` inputs, ``batch_size`` a call (``None``: as many as
    ``TILE_BATCH_PIXELS`` allows, 1 to ``TILE_BATCH``; evened out over the calls; the inputs
    of one shape together; a short last batch padded with copies of its last input, so a
    traced function sees one batch shape): ``(decoded batch, index in it)`` of each input,
    in order."""
    by_shape: dict[tuple, list[int]] = {}
    for i, x in enumerate(inputs):
        by_shape.setdefault(x.shape, []).append(i)
    found: list[tuple[dict, int] | None] = [None] * len(inputs)
    for shape, indices in by_shape.items():
        fit = min(max(TILE_BATCH_PIXELS // (shape[0] * shape[1]), 1), TILE_BATCH)
        size = min(batch_size or fit, len(indices))
        size = math.ceil(len(indices) / math.ceil(len(indices) / size))  # even batches
        for start in range(0, len(indices), size):
            chunk = indices[start : start + size]
            batch = np.stack([inputs[i] for i in chunk] + [inputs[chunk[-1]]] * (size - len(chunk)))
            decoded = detect(batch)
            for k, i in enumerate(chunk):
                found[i] = (decoded, k)
    return found  # type: ignore[return-value]


@dataclass
class Tiler:
    """Tiled detection of one image with an engine (see the module docstring).

    Attributes:
        transform: the ``Predictor``'s ``ImageTransform`` (the whole image's input, the tiles'
            letterbox or stretch, and the mapping back).
        detect: the engine's ``detect`` (``uint8 [B, H, W, 3]`` → padded detections).
        class_names: name of each class id.
        tile: the tile side in original pixels.
        overlap: the fraction of the tile neighbours overlap.
        max_detections: the most detections of an image.
        sigmas: a pose model's OKS sigmas (merged by OKS), else ``None`` (by box IoU).
        batch_size: views per engine call (``None``: by ``TILE_BATCH_PIXELS``).
        drop_cut: drop a tile's detections touching an inner tile edge (``EDGE_MARGIN``).
        iou_threshold, oks_threshold: ``merge``'s.
    """

    transform: ImageTransform
    detect: Callable[[np.ndarray], dict]
    class_names: Sequence[str]
    tile: int
    overlap: float = DEFAULT_TILE_OVERLAP
    max_detections: int = 100
    sigmas: Sequence[float] | None = None
    batch_size: int | None = None
    drop_cut: bool = True
    iou_threshold: float = MERGE_IOU
    oks_threshold: float = MERGE_OKS

    def timed(self, image: ImageInput) -> tuple[Detections, dict[str, float]]:
        """The merged detections of the whole image and its tiles, and the seconds of each
        stage (``preprocess``: load, cut and fit; ``detect``: the engine calls;
        ``postprocess``: mapping back and merging)."""
        parts, _, stages = self.views(image)
        start = time.perf_counter()
        merged = parts[0]
        if len(parts) > 1:
            merged = merge(
                parts, merged.image_size, self.max_detections, self.sigmas,
                self.iou_threshold, self.oks_threshold,
            )  # fmt: skip
        stages["postprocess"] += time.perf_counter() - start
        return merged, stages

    def views(self, image: ImageInput) -> tuple[list[Detections], np.ndarray, dict[str, float]]:
        """Each view's detections in the image's pixels, not merged: the whole image's first,
        then those of each tile (cut objects dropped when ``drop_cut``); the tiles' ``[N, 4]``
        windows (``tile_grid``); the seconds of the stages."""
        start = time.perf_counter()
        rgb = load_image(image)
        whole, image_hw = self.transform(rgb)
        windows = tile_grid(image_hw, self.tile, self.overlap)
        crop_hw = (min(self.tile, image_hw[0]), min(self.tile, image_hw[1]))
        tile_hw = tile_input_hw(self.transform.model_hw, crop_hw)
        inputs = [whole[0]] + [
            fit_to_input(rgb[y1:y2, x1:x2], tile_hw, self.transform.letterbox)
            for x1, y1, x2, y2 in windows
        ]
        prepared = time.perf_counter()
        decoded = detect_batched(self.detect, inputs, self.batch_size)
        detected = time.perf_counter()
        batch, index = decoded[0]
        names = self.class_names
        parts = [self.transform.postprocess(batch, image_hw, whole.shape[1:3], names, index)]
        margin = EDGE_MARGIN * max(c / t for c, t in zip(crop_hw, tile_hw, strict=True))
        for window, (batch, index) in zip(windows, decoded[1:], strict=True):
            found = self.transform.postprocess(batch, crop_hw, tile_hw, names, index)
            found = shifted(found, window, image_hw)
            if self.drop_cut:
                found = found.where(~inner_edge_mask(found.boxes, window, image_hw, margin))
            parts.append(found)
        stages = {
            "preprocess": prepared - start,
            "detect": detected - prepared,
            "postprocess": time.perf_counter() - detected,
        }
        return parts, windows, stages
