"""PASCAL VOC detection AP (the VOC devkit / ``voc_eval.py`` conventions), float64 NumPy.

Rules, as in the reference ``voc_eval`` with ``ovthresh=0.5, use_diff=False``:

- detections of a class are ranked by descending score (stable order on ties);
- each is matched to the ground-truth box of its image and class with the highest IoU, where
  areas and intersections count inclusive pixels (``+1`` on widths and heights);
- a match needs IoU strictly ``> iou_threshold``; a GT is matched at most once (later
  detections on it are false positives);
- *difficult* GTs are not counted in the number of positives, and a detection matched to one is
  neither a true nor a false positive;
- AP is the 11-point interpolated AP (``voc07``) or the area under the monotone precision
  envelope at every recall change (``voc``, VOC2010+).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass
class ClassAP:
    """VOC result of one class.

    Attributes:
        ap: average precision (NaN when the class has no non-difficult ground truth).
        recall: ``[N]`` float64 recall after each of the ``N`` ranked detections.
        precision: ``[N]`` float64 precision after each ranked detection.
        num_gt: non-difficult ground-truth boxes (the positives).
        num_det: detections of the class.
    """

    ap: float
    recall: np.ndarray
    precision: np.ndarray
    num_gt: int
    num_det: int


@dataclass
class VOCResult:
    """VOC AP of every class.

    Attributes:
        metric: ``"voc07"`` (11-point) or ``"voc"`` (all-point area).
        per_class: ``{class name: ClassAP}`` in class-id order.
        mean_ap: mean AP over the classes that have ground truth.
        iou_threshold: the IoU a match had to exceed.
    """

    metric: str
    per_class: dict[str, ClassAP]
    mean_ap: float
    iou_threshold: float = 0.5

    @property
    def per_class_ap(self) -> dict[str, float]:
        """``{class name: AP}``."""
        return {name: r.ap for name, r in self.per_class.items()}

    def to_dict(self) -> dict:
        """JSON-ready summary (curves left out: they go to the plots)."""
        return {
            "metric": self.metric,
            "iou_threshold": self.iou_threshold,
            "mAP": _json_float(self.mean_ap),
            "per_class": {
                name: {"ap": _json_float(r.ap), "num_gt": r.num_gt, "num_det": r.num_det}
                for name, r in self.per_class.items()
            },
        }


def _json_float(v: float) -> float | None:
    return None if np.isnan(v) else float(v)


def group_by_image(
    gt: Sequence[Mapping], class_id: int, image_ids: Sequence | None = None
) -> tuple[dict, dict]:
    """Ground truth of one class grouped by image.

    Args:
        gt: ground-truth records ``{image_id, bbox, class, difficult}``.
        class_id: the class to keep.
        image_ids: all images of the split (images without a box of the class get an empty
            entry); default: the images that appear in ``gt``.

    Returns:
        ``(boxes, difficult)``: ``{image_id: [M, 4] float64}`` and ``{image_id: [M] bool}``.
    """
    ids = list(image_ids) if image_ids is not None else [g["image_id"] for g in gt]
    boxes: dict = {i: [] for i in ids}
    difficult: dict = {i: [] for i in ids}
    for g in gt:
        if int(g["class"]) != class_id:
            continue
        if g["image_id"] not in boxes:
            raise ValueError(f"ground truth on image {g['image_id']!r}, which is not listed")
        boxes[g["image_id"]].append([float(v) for v in g["bbox"]])
        difficult[g["image_id"]].append(bool(g.get("difficult", 0)))
    return (
        {i: np.asarray(b, np.float64).reshape(-1, 4) for i, b in boxes.items()},
        {i: np.asarray(d, bool).reshape(-1) for i, d in difficult.items()},
    )


def eleven_point_precision(
    recall: np.ndarray, precision: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The VOC2007 11-point interpolated precision: at each recall threshold ``t`` of
    ``0, 0.1, …, 1`` (the reference's float steps), the highest precision at recall ``>= t``
    (0 where the recall never gets there). The 11-point AP is their mean.

    Args:
        recall: ``[N]`` cumulative recall after each ranked detection.
        precision: ``[N]`` cumulative precision after each ranked detection.

    Returns:
        ``(thresholds [11], precision [11])``, float64.
    """
    rec = np.asarray(recall, np.float64)
    prec = np.asarray(precision, np.float64)
    thresholds = np.arange(0.0, 1.1, 0.1)
    values = [float(np.max(prec[rec >= t])) if np.any(rec >= t) else 0.0 for t in thresholds]
    return thresholds, np.asarray(values, np.float64)


def precision_envelope(recall: np.ndarray, precision: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The monotone precision envelope of the all-point AP (VOC2010+): the curve padded with
    recall 0 and 1 (precision 0), each precision raised to the highest one at a higher recall.

    The all-point AP is the area under it as a step function: between ``mrec[i]`` and
    ``mrec[i + 1]`` the precision is ``mpre[i + 1]``.

    Args:
        recall: ``[N]`` cumulative recall after each ranked detection.
        precision: ``[N]`` cumulative precision after each ranked detection.

    Returns:
        ``(mrec [N + 2], mpre [N + 2])``, float64.
    """
    mrec = np.concatenate(([0.0], np.asarray(recall, np.float64), [1.0]))
    mpre = np.concatenate(([0.0], np.asarray(precision, np.float64), [0.0]))
    return mrec, np.maximum.accumulate(mpre[::-1])[::-1]


def voc_ap(recall: np.ndarray, precision: np.ndarray, use_07_metric: bool = False) -> float:
    """Average precision from a ranked precision/recall curve (reference ``voc_ap``).

    Args:
        recall: ``[N]`` cumulative recall after each ranked detection.
        precision: ``[N]`` cumulative precision after each ranked detection.
        use_07_metric: 11-point interpolation (VOC2007, ``eleven_point_precision``) instead of
            the all-point area (``precision_envelope``).

    Returns:
        The AP as a Python float.
    """
    if use_07_metric:
        ap = 0.0
        for p in eleven_point_precision(recall, precision)[1]:
            ap += p / 11.0  # the reference's sum order
        return float(ap)
    mrec, mpre = precision_envelope(recall, precision)
    i = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


def _iou_plus_one(box: np.ndarray, gts: np.ndarray) -> np.ndarray:
    """IoU of one ``[4]`` box with ``[M, 4]`` boxes, inclusive-pixel (``+1``) areas → ``[M]``."""
    iw = np.maximum(np.minimum(gts[:, 2], box[2]) - np.maximum(gts[:, 0], box[0]) + 1.0, 0.0)
    ih = np.maximum(np.minimum(gts[:, 3], box[3]) - np.maximum(gts[:, 1], box[1]) + 1.0, 0.0)
    inters = iw * ih
    union = (
        (box[2] - box[0] + 1.0) * (box[3] - box[1] + 1.0)
        + (gts[:, 2] - gts[:, 0] + 1.0) * (gts[:, 3] - gts[:, 1] + 1.0)
        - inters
    )
    return inters / union


def voc_eval_class(
    gt: Sequence[Mapping],
    det: Sequence[Mapping],
    class_id: int,
    iou_threshold: float = 0.5,
    use_07_metric: bool = False,
    image_ids: Sequence | None = None,
) -> ClassAP:
    """AP of one class (reference ``voc_eval``).

    Args:
        gt: ground-truth records ``{image_id, bbox [x1, y1, x2, y2], class, difficult}``.
        det: detection records ``{image_id, bbox, class, score}``.
        class_id: the 0-based class to evaluate (other records are ignored).
        iou_threshold: a match needs IoU strictly above this.
        use_07_metric: 11-point AP (VOC2007) instead of the all-point area.
        image_ids: the images of the split; a detection on any other image raises.

    Returns:
        ``ClassAP`` with ``ap`` (NaN when the class has no non-difficult GT), the ranked
        ``recall``/``precision`` ``[N]`` arrays, ``num_gt`` (non-difficult) and ``num_det``.
    """
    gt_boxes, gt_difficult = group_by_image(gt, class_id, image_ids)
    npos = int(sum(int(np.count_nonzero(~d)) for d in gt_difficult.values()))
    dets = [d for d in det if int(d["class"]) == class_id]
    scores = np.asarray([float(d["score"]) for d in dets], np.float64)
    order = np.argsort(-scores, kind="stable")
    nd = len(dets)
    tp, fp = np.zeros(nd), np.zeros(nd)
    matched = {k: np.zeros(len(v), bool) for k, v in gt_boxes.items()}
    for rank, i in enumerate(order):
        image_id = dets[i]["image_id"]
        if image_id not in gt_boxes:
            raise ValueError(f"detection on image {image_id!r}, which is not in the ground truth")
        boxes = gt_boxes[image_id]
        if len(boxes) == 0:
            fp[rank] = 1.0
            continue
        overlaps = _iou_plus_one(np.asarray(dets[i]["bbox"], np.float64), boxes)
        j = int(np.argmax(overlaps))
        if overlaps[j] > iou_threshold:
            if gt_difficult[image_id][j]:
                continue  # neither TP nor FP
            if matched[image_id][j]:
                fp[rank] = 1.0
            else:
                tp[rank] = 1.0
                matched[image_id][j] = True
        else:
            fp[rank] = 1.0
    tp, fp = np.cumsum(tp), np.cumsum(fp)
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = tp / float(npos)
    precision = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
    ap = voc_ap(recall, precision, use_07_metric) if npos > 0 else float("nan")
    return ClassAP(ap=ap, recall=recall, precision=precision, num_gt=npos, num_det=nd)


def evaluate_voc(
    ground_truth: Mapping,
    detections: Sequence[Mapping],
    class_names: Sequence[str],
    use_07_metric: bool = False,
    iou_threshold: float = 0.5,
) -> VOCResult:
    """VOC AP of every class and their mean.

    Args:
        ground_truth: ``{"images": [{id, width, height}], "gt": [...]}`` (plain records).
        detections: ``[{image_id, bbox, class, score}]``.
        class_names: names of classes ``0..C-1``.
        use_07_metric: 11-point AP (``"voc07"``) or all-point area (``"voc"``).
        iou_threshold: IoU a match must exceed.

    Returns:
        ``VOCResult`` with ``per_class`` ``{name: ClassAP}`` and ``mean_ap``, the mean over
        classes that have ground truth (classes without any are reported as NaN).
    """
    image_ids = [im["id"] for im in ground_truth["images"]]
    per_class = {
        name: voc_eval_class(
            ground_truth["gt"], detections, c, iou_threshold, use_07_metric, image_ids
        )
        for c, name in enumerate(class_names)
    }
    aps = [r.ap for r in per_class.values() if not np.isnan(r.ap)]
    return VOCResult(
        metric="voc07" if use_07_metric else "voc",
        per_class=per_class,
        mean_ap=float(np.mean(aps)) if aps else float("nan"),
        iou_threshold=iou_threshold,
    )
