"""Detection metrics: PASCAL VOC AP (2007 11-point and all-point) and COCO (pycocotools).

All metrics take the same plain records (those of ``tests/data/reference/voc_eval.json``):

- ground truth: ``{"images": [{id, width, height}], "gt": [{image_id, bbox [x1, y1, x2, y2],
  class, difficult}], "classes": [names] (optional)}``;
- detections: ``[{image_id, bbox [x1, y1, x2, y2], class, score}]``.

Boxes are in original-image pixels, classes 0-based. Ground truth read from a COCO json
(``runner``) also carries that json (``"coco_json"``), so that the ``"coco"`` metric scores it
as pycocotools does (see :func:`~.coco.evaluate_coco`). ``evaluate(gt, det, "voc07")`` is the
entry point; ``runner`` runs a model over a split to make the records, ``plots`` writes the
per-class table, precision–recall curves and the JSON summary.

Pose (OKS) metrics take COCO keypoint dicts as stored instead: see
:func:`~.keypoints.evaluate_keypoints`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from centernet_keras.evaluation.coco import STAT_NAMES, COCOResult, coco_results, evaluate_coco
from centernet_keras.evaluation.keypoints import (
    KEYPOINT_STAT_NAMES,
    KeypointResult,
    evaluate_keypoint_records,
    evaluate_keypoints,
)
from centernet_keras.evaluation.voc import ClassAP, VOCResult, evaluate_voc, voc_ap

METRICS = ("voc07", "voc", "coco")
#: The pose metric (OKS AP, pycocotools) of ``evaluate`` on ground truth from a keypoints file.
KEYPOINT_METRIC = "keypoints"


def evaluate(
    ground_truth: Mapping,
    detections: Sequence[Mapping],
    metric: str = "voc07",
    class_names: Sequence[str] | None = None,
    iou_threshold: float = 0.5,
) -> VOCResult | COCOResult | KeypointResult:
    """Evaluate detections against ground truth.

    Args:
        ground_truth: ``{"images": [...], "gt": [...]}`` plain records (see the module doc).
        detections: ``[{image_id, bbox, class, score}]``.
        metric: ``"voc07"`` (VOC2007 11-point AP@0.5), ``"voc"`` (all-point AP@0.5, VOC2010+)
            or ``"coco"`` (the 12 pycocotools stats; AP@[.5:.95] is the mean), or
            ``"keypoints"`` (OKS AP of pose detections on a keypoints file:
            ``keypoints.evaluate_keypoint_records``).
        class_names: names of classes ``0..C-1``; default ``ground_truth["classes"]``.
        iou_threshold: match threshold of the VOC metrics (COCO uses its own ten).

    Returns:
        ``VOCResult`` or ``COCOResult`` (``mean_ap``, ``per_class_ap``, ``to_dict()``), or a
        ``KeypointResult`` (``mean_ap``, ``stats``, ``to_dict()``).
    """
    if metric == KEYPOINT_METRIC:
        return evaluate_keypoint_records(ground_truth, detections)
    if class_names is None:
        if "classes" not in ground_truth:
            raise ValueError("pass class_names or a ground truth with a 'classes' entry")
        class_names = ground_truth["classes"]
    if metric == "voc07":
        return evaluate_voc(ground_truth, detections, class_names, True, iou_threshold)
    if metric == "voc":
        return evaluate_voc(ground_truth, detections, class_names, False, iou_threshold)
    if metric == "coco":
        return evaluate_coco(ground_truth, detections, class_names)
    raise ValueError(f"metric must be one of {(*METRICS, KEYPOINT_METRIC)}, got {metric!r}")


__all__ = [
    "KEYPOINT_METRIC",
    "KEYPOINT_STAT_NAMES",
    "METRICS",
    "STAT_NAMES",
    "COCOResult",
    "ClassAP",
    "KeypointResult",
    "VOCResult",
    "coco_results",
    "evaluate",
    "evaluate_coco",
    "evaluate_keypoint_records",
    "evaluate_keypoints",
    "evaluate_voc",
    "voc_ap",
]
