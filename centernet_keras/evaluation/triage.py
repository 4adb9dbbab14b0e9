"""Why mAP is near zero: the usual causes, checked on the detections of one validation pass.

Takes the plain records of ``evaluation`` as ``runner.collect_detections`` makes them (ground
truth ``{"images", "gt": [{image_id, bbox, class, difficult}], "classes"}``, detections
``[{image_id, bbox [x1, y1, x2, y2], class, score}]``, original-image pixels). Each check is one
function returning a :class:`Finding` (a one-line message and the numbers behind it) or
``None``; :func:`diagnose` runs them all. The causes:

- ``scores``: no detection scores at or above the threshold, or above ``UNTRAINED_SCORE``
  (untrained or unloaded weights);
- ``shift_scale``: boxes match ground truth at IoU 0.5 only after a constant per-axis scale and
  offset (letterbox undone wrongly, boxes in input-size pixels, a coordinate mismatch);
- ``class_shift``: boxes match at IoU 0.5 but with another class (class ids shifted, another
  classes file);
- ``no_nms``: many overlapping boxes of one class (no NMS / max-pool suppression);
- ``class_names``: the model's class names are not the data's.

Detections of a healthy model trigger none. Difficult (and COCO crowd) objects are left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from centernet_keras.boxes import iou_matrix
from centernet_keras.data.classes import class_list_difference
from centernet_keras.evaluation.confusion import confusion_matrix

#: ``centernet val`` and the training mAP callback run :func:`diagnose` below this mAP.
TRIAGE_BELOW_MAP = 0.05
#: Images and detections per image the geometric checks look at (the top-scoring ones).
MAX_IMAGES, MAX_DETECTIONS = 200, 100
#: The shift/scale and class checks match only the top ``TOP_PER_OBJECT`` × (objects in the
#: image) detections of each image: a model's best boxes, not boxes that overlap by chance
#: (100 random boxes an image match 1-2 % of objects with a random class).
TOP_PER_OBJECT = 2
#: Below this best score the model is taken as untrained (CenterNet's heatmap prior is 0.1).
UNTRAINED_SCORE = 0.15
#: IoU above which two boxes of one class count as duplicates (the ``no_nms`` check).
DUPLICATE_IOU = 0.7


@dataclass(frozen=True)
class Finding:
    """One cause the data shows.

    Attributes:
        cause: ``"scores"``, ``"shift_scale"``, ``"class_shift"``, ``"no_nms"`` or
            ``"class_names"``.
        message: one line, with the numbers.
        numbers: the numbers behind it, JSON-ready.
    """

    cause: str
    message: str
    numbers: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"cause": self.cause, "message": self.message, **self.numbers}


def _pair_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of ``a[i]`` with ``b[i]``: ``[N, 4]`` × ``[N, 4]`` → ``[N]``."""
    w = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    h = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = w * h
    area = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area - inter, 1e-9)


def _top_detections(ground_truth: Mapping, detections: Sequence[Mapping]) -> list[dict]:
    """The ``TOP_PER_OBJECT`` × (objects in its image) top-scoring detections of each image."""
    objects: dict = {}
    for g in ground_truth["gt"]:
        objects[g["image_id"]] = objects.get(g["image_id"], 0) + 1
    kept: list[dict] = []
    for image_id, found in _grouped(detections).items():
        found.sort(key=lambda d: -float(d["score"]))
        kept += found[: TOP_PER_OBJECT * objects.get(image_id, 0)]
    return kept


def _grouped(records: Sequence[Mapping]) -> dict:
    grouped: dict = {}
    for record in records:
        grouped.setdefault(record["image_id"], []).append(record)
    return grouped


def _by_image(ground_truth: Mapping, detections: Sequence[Mapping]) -> list[tuple]:
    """Per image with objects (the first ``MAX_IMAGES``): ``(gt boxes [G, 4], gt classes [G],
    detection boxes [D, 4], detection classes [D])``, the non-difficult ground truth and the
    ``MAX_DETECTIONS`` top-scoring detections."""
    gts: dict = {}
    for g in ground_truth["gt"]:
        if not g.get("difficult", 0):
            gts.setdefault(g["image_id"], []).append(g)
    dets = _grouped(detections)
    images = []
    for image_id in list(gts)[:MAX_IMAGES]:
        found = sorted(dets.get(image_id, []), key=lambda d: -float(d["score"]))[:MAX_DETECTIONS]
        images.append(
            (
                np.asarray([g["bbox"] for g in gts[image_id]], np.float64).reshape(-1, 4),
                np.asarray([int(g["class"]) for g in gts[image_id]], np.int64),
                np.asarray([d["bbox"] for d in found], np.float64).reshape(-1, 4),
                np.asarray([int(d["class"]) for d in found], np.int64),
            )
        )
    return images


def score_finding(
    scores: np.ndarray, score_threshold: float, num_images: int, num_objects: int
) -> Finding | None:
    """``scores``: no detection scores at or above ``score_threshold``, or none above
    ``UNTRAINED_SCORE`` (an untrained head's scores sit at its prior: CenterNet 0.1)."""
    scores = np.asarray(scores, np.float64).reshape(-1)
    top = float(scores.max()) if len(scores) else None
    if top is not None and top >= max(score_threshold, UNTRAINED_SCORE):
        return None
    seen = f"{len(scores)} detections, max score {top:.4f}" if top is not None else "0 detections"
    if top is None or top < score_threshold:
        what = f"every score is under the score threshold {score_threshold:g}"
        why = "the model is untrained, its weights did not load, or the threshold is too high"
    else:
        what = f"no score reaches {UNTRAINED_SCORE:g}, an untrained head's level"
        why = "the model is untrained or its weights did not load"
    return Finding(
        "scores",
        f"{what} ({seen} in {num_images} images with {num_objects} objects): {why}",
        {"score_threshold": float(score_threshold), "detections": len(scores), "max_score": top},
    )


def _pairs(images: Sequence[tuple]) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Every (ground-truth box, detection box) pair of one image, any class: ``[P, 4]`` gt
    boxes, ``[P, 4]`` detection boxes, ``[P]`` ground-truth index, and the object count."""
    gt, det, index, offset = [], [], [], 0
    for gt_boxes, _, det_boxes, _ in images:
        g, d = np.meshgrid(np.arange(len(gt_boxes)), np.arange(len(det_boxes)), indexing="ij")
        gt.append(gt_boxes[g.ravel()])
        det.append(det_boxes[d.ravel()])
        index.append(g.ravel() + offset)
        offset += len(gt_boxes)
    if not gt:
        return np.zeros((0, 4)), np.zeros((0, 4)), np.zeros(0, np.int64), 0
    return np.concatenate(gt), np.concatenate(det), np.concatenate(index), offset


def _transformed(boxes: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``boxes`` ``[N, 4]`` under ``t = (sx, ox, sy, oy)``: x' = sx·x + ox, y' = sy·y + oy."""
    return boxes * t[[0, 2, 0, 2]] + t[[1, 3, 1, 3]]


def _match_rate(pairs: tuple, t: np.ndarray) -> tuple[float, np.ndarray]:
    """Fraction of objects some transformed detection overlaps at IoU >= 0.5, and each
    object's best IoU ``[G]``."""
    gt, det, index, count = pairs
    best = np.zeros(count)
    np.maximum.at(best, index, _pair_iou(gt, _transformed(det, t)))
    return float((best >= 0.5).mean()) if count else 0.0, best


def _candidates(pairs: tuple, limit: int = 400) -> np.ndarray:
    """Transforms ``[K, 4]`` that map one detection of a pair exactly onto its object."""
    gt, det = pairs[0], pairs[1]
    keep = ((det[:, 2] - det[:, 0]) > 0) & ((det[:, 3] - det[:, 1]) > 0)
    gt, det = gt[keep], det[keep]
    if len(gt) > limit:
        pick = np.random.default_rng(0).choice(len(gt), limit, replace=False)
        gt, det = gt[pick], det[pick]
    sx = (gt[:, 2] - gt[:, 0]) / (det[:, 2] - det[:, 0])
    sy = (gt[:, 3] - gt[:, 1]) / (det[:, 3] - det[:, 1])
    ox = (gt[:, 0] + gt[:, 2]) / 2 - sx * (det[:, 0] + det[:, 2]) / 2
    oy = (gt[:, 1] + gt[:, 3]) / 2 - sy * (det[:, 1] + det[:, 3]) / 2
    return np.stack([sx, ox, sy, oy], axis=1)


def _refine(pairs: tuple, t: np.ndarray) -> np.ndarray:
    """Least squares per axis on the pairs ``t`` matches best: centre = s·centre + o and
    size = s·size, over the objects matched at IoU >= 0.5."""
    gt, det, index, count = pairs
    iou = _pair_iou(gt, _transformed(det, t))
    best = np.full(count, -1)
    order = np.argsort(iou)  # the last write of an object is its highest-IoU pair
    best[index[order]] = order
    chosen = best[(best >= 0) & (iou[np.maximum(best, 0)] >= 0.5)]
    if len(chosen) < 2:
        return t
    refined = []
    for lo, hi in ((0, 2), (1, 3)):
        g, d = gt[chosen], det[chosen]
        a = np.concatenate(
            [np.stack([(d[:, lo] + d[:, hi]) / 2, np.ones(len(d))], 1),
             np.stack([d[:, hi] - d[:, lo], np.zeros(len(d))], 1)]
        )  # fmt: skip
        b = np.concatenate([(g[:, lo] + g[:, hi]) / 2, g[:, hi] - g[:, lo]])
        refined += list(np.linalg.lstsq(a, b, rcond=None)[0])
    return np.asarray(refined)


def shift_scale_finding(images: Sequence[tuple], min_gain: float = 0.25) -> Finding | None:
    """``shift_scale``: a constant per-axis scale and offset (in pixels, one for the whole
    split) raises the IoU-0.5 match rate (any class) by ``min_gain`` or more, to at least 0.5.

    The transform is searched among those that put one detection exactly on one object (the
    best by match rate), then refined by least squares on the pairs it matches.
    """
    pairs = _pairs(images)
    candidates = _candidates(pairs)
    if pairs[3] == 0 or not len(candidates):
        return None
    identity = np.array([1.0, 0.0, 1.0, 0.0])
    before = _match_rate(pairs, identity)[0]
    rates = [_match_rate(pairs, t)[0] for t in candidates]
    t = candidates[int(np.argmax(rates))]
    refined = _refine(pairs, t)
    if _match_rate(pairs, refined)[0] >= max(rates):
        t = refined
    after = _match_rate(pairs, t)[0]
    if after < 0.5 or after - before < min_gain:
        return None
    sx, ox, sy, oy = (float(v) for v in t)
    return Finding(
        "shift_scale",
        f"boxes match ground truth only after a constant shift/scale: IoU-0.5 match rate "
        f"{before:.0%} -> {after:.0%} with x' = {sx:.3f}·x {ox:+.1f} px, y' = {sy:.3f}·y "
        f"{oy:+.1f} px (letterbox undone wrongly, boxes in input-size pixels, or another "
        "coordinate convention)",
        {"match_rate_before": before, "match_rate_after": after,
         "scale_x": sx, "offset_x": ox, "scale_y": sy, "offset_y": oy},
    )  # fmt: skip


def class_shift_finding(
    ground_truth: Mapping,
    detections: Sequence[Mapping],
    class_names: Sequence[str],
    score_threshold: float,
    min_matches: int = 3,
    min_found: float = 0.2,
) -> Finding | None:
    """``class_shift``: the boxes are found (``min_found`` of the objects or more matched at
    IoU >= 0.5 by ``detections``, ``confusion.confusion_matrix``'s matching) but at least half
    of the matches carry another class than their object; names the dominant id offset (class
    k+d for ground truth k, modulo the class count: the last class wraps to 0) or else the most
    frequent confused pair."""
    c = len(class_names)
    classes = [int(r["class"]) for r in (*ground_truth["gt"], *detections)]
    if not classes or min(classes) < 0 or max(classes) >= c:
        return None  # ids outside the model's classes: the class_names check
    matrix = confusion_matrix(ground_truth, detections, c, score_threshold)[:c, :c]
    matches = int(matrix.sum())
    wrong = matches - int(np.trace(matrix))
    objects = sum(not g.get("difficult", 0) for g in ground_truth["gt"])
    if matches < max(min_matches, min_found * objects) or wrong < matches / 2:
        return None
    rows, cols = np.nonzero(matrix)
    offsets = np.zeros(c, np.int64)  # by (detected - true) mod C: k+1 and 0 for C-1 alike
    np.add.at(offsets, (cols - rows) % c, matrix[rows, cols])
    offsets[0] = 0
    shift, count = int(np.argmax(offsets)), int(offsets.max())
    shift = shift - c if shift > c // 2 else shift  # k-1 rather than k+(C-1)
    numbers = {"matches": matches, "other_class": wrong, "dominant_offset": shift}
    if count >= matches / 2:
        k = int(rows[np.argmax((cols - rows) % c == shift % c)])
        what = (
            f"{count / matches:.0%} of the {matches} IoU>=0.5 matches are class k{shift:+d} for "
            f"ground truth k (e.g. {class_names[k]!r} detected as "
            f"{class_names[(k + shift) % c]!r})"
        )
    else:
        k, j = np.unravel_index(np.argmax(matrix - np.diag(np.diag(matrix))), matrix.shape)
        count, numbers["dominant_offset"] = int(matrix[k, j]), None
        what = (
            f"{wrong / matches:.0%} of the {matches} IoU>=0.5 matches have another class; most "
            f"often {class_names[k]!r} detected as {class_names[j]!r} ({count})"
        )
    return Finding(
        "class_shift",
        f"{what}: the class mapping is shifted (another classes file, or 0- vs 1-based ids)",
        {**numbers, "dominant_count": count},
    )


def duplicate_finding(images: Sequence[tuple], min_mean: float = 1.0) -> Finding | None:
    """``no_nms``: each detection overlaps ``min_mean`` or more other detections of its class
    at IoU > ``DUPLICATE_IOU`` on average (over the top-scoring detections per image)."""
    overlaps = []
    for _, _, boxes, classes in images:
        for cls in np.unique(classes):
            same = boxes[classes == cls]
            overlaps.append((iou_matrix(same, same) > DUPLICATE_IOU).sum(axis=1) - 1)
    counts = np.concatenate(overlaps) if overlaps else np.zeros(0)
    if not len(counts) or counts.mean() < min_mean:
        return None
    mean = float(counts.mean())
    return Finding(
        "no_nms",
        f"each detection overlaps {mean:.1f} others of its class at IoU > {DUPLICATE_IOU} on "
        f"average ({(counts > 0).mean():.0%} of {len(counts)} detections have a duplicate): "
        "no NMS / peak suppression in the decoder",
        {"mean_duplicates": mean, "detections": len(counts),
         "with_duplicate": float((counts > 0).mean())},
    )  # fmt: skip


def class_names_finding(
    model_classes: Sequence[str], data_classes: Sequence[str] | None, gt_classes: np.ndarray
) -> Finding | None:
    """``class_names``: the data's class names are not the model's (names, order or count),
    or the ground truth has class ids past the model's classes."""
    difference = (
        None
        if data_classes is None
        else class_list_difference(data_classes, model_classes, "the data", "the model")
    )
    outside = int((np.asarray(gt_classes) >= len(model_classes)).sum())
    if difference is None and not outside:
        return None
    parts = [difference] if difference else []
    if outside:
        parts.append(f"{outside} objects have class ids >= the model's {len(model_classes)}")
    return Finding(
        "class_names",
        f"the model's classes are not the data's ({'; '.join(parts)}): evaluate with the "
        "classes file the model was trained with",
        {"model_classes": len(model_classes),
         "data_classes": None if data_classes is None else len(data_classes),
         "ids_outside": outside},
    )  # fmt: skip


def diagnose(
    ground_truth: Mapping,
    detections: Sequence[Mapping],
    score_threshold: float,
    model_classes: Sequence[str] | None = None,
    data_classes: Sequence[str] | None = None,
) -> list[Finding]:
    """Every cause of a near-zero mAP these detections show (empty for a healthy model).

    Args:
        ground_truth: ``{"images", "gt", "classes"}`` plain records (``runner``).
        detections: ``[{image_id, bbox, class, score}]``.
        score_threshold: the threshold the detections were kept at.
        model_classes: the model's class names; default ``ground_truth["classes"]``.
        data_classes: the data's class names, where the data names them (a COCO file's
            categories, a classes file); ``None``: only the ids are checked.

    Returns:
        The findings, in the order of the module doc's list.
    """
    names = list(model_classes if model_classes is not None else ground_truth["classes"])
    gt_classes = np.asarray([int(g["class"]) for g in ground_truth["gt"]], np.int64)
    scores = np.asarray([float(d["score"]) for d in detections], np.float64)
    kept = [d for d in detections if d["score"] >= score_threshold]
    images, top = _by_image(ground_truth, kept), _top_detections(ground_truth, kept)
    objects = sum(not g.get("difficult", 0) for g in ground_truth["gt"])
    found = [
        score_finding(scores, score_threshold, len(ground_truth["images"]), objects),
        shift_scale_finding(_by_image(ground_truth, top)),
        class_shift_finding(ground_truth, top, names, score_threshold),
        duplicate_finding(images),
        class_names_finding(names, data_classes, gt_classes),
    ]
    return [f for f in found if f is not None]


def report_lines(findings: Sequence[Finding], mean_ap: float) -> list[str]:
    """The lines ``centernet val`` prints (and training logs) for a near-zero mAP."""
    head = f"triage: mAP {mean_ap:.4f} < {TRIAGE_BELOW_MAP}"
    if not findings:
        return [
            f"{head}; none of the usual causes found (scores under the threshold, a constant "
            "shift/scale, shifted class ids, no NMS, other class names)"
        ]
    return [f"{head}; the detections show:"] + [f"  - {f.cause}: {f.message}" for f in findings]
