"""Detection confusion matrix: detections at a score threshold matched to ground truth.

Takes the plain records of ``evaluation`` (ground truth ``{"images", "gt"}``, detections
``[{image_id, bbox, class, score}]``). Rows are the true classes plus a last ``background`` row
(detections that matched no ground truth: false positives); columns are the predicted classes
plus a last ``background`` column (ground truth that no detection matched: misses).

Matching, per image, greedy by descending score (stable on ties): a detection takes the
not-yet-matched ground-truth box whose IoU with it is above ``iou_threshold`` — one of its own
class if there is one (the highest IoU), else the highest-IoU box of any class (a class
confusion). IoU and the strict ``>`` are those of the VOC metric (``voc._iou_plus_one``), so
the diagonal counts the true positives VOC AP@0.5 counts at that score. As in VOC, a
detection matched to a *difficult* box, and an unmatched difficult box, are not counted.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence

import numpy as np

from centernet_keras.evaluation.voc import _iou_plus_one

BACKGROUND = "background"


def _by_image(records: Sequence[Mapping], image_ids: set, what: str) -> dict:
    grouped: dict = {}
    for record in records:
        if record["image_id"] not in image_ids:
            raise ValueError(f"{what} on image {record['image_id']!r}, which is not listed")
        grouped.setdefault(record["image_id"], []).append(record)
    return grouped


def confusion_matrix(
    ground_truth: Mapping,
    detections: Sequence[Mapping],
    num_classes: int,
    score_threshold: float = 0.3,
    iou_threshold: float = 0.5,
) -> np.ndarray:
    """Count detections against ground truth by class (see the module doc for the matching).

    Args:
        ground_truth: ``{"images": [{id, ...}], "gt": [{image_id, bbox, class, difficult}]}``.
        detections: ``[{image_id, bbox [x1, y1, x2, y2], class, score}]``; those scoring below
            ``score_threshold`` are ignored.
        num_classes: ``C``, the number of classes (ids ``0..C-1``).
        score_threshold: the lowest score of a counted detection.
        iou_threshold: a match needs IoU strictly above this.

    Returns:
        ``[C + 1, C + 1]`` int64 counts: ``[true class, predicted class]``; row ``C`` holds
        false positives by predicted class, column ``C`` misses by true class
        (``[C, C]`` is always 0).

    Raises:
        ValueError: a record on an image not in ``ground_truth["images"]``, or a class id
            outside ``0..C-1``.
    """
    c = int(num_classes)
    image_ids = {image["id"] for image in ground_truth["images"]}
    for record in [*ground_truth["gt"], *detections]:
        if not 0 <= int(record["class"]) < c:
            raise ValueError(f"class id {record['class']} outside 0..{c - 1}")
    gts = _by_image(ground_truth["gt"], image_ids, "ground truth")
    kept = [d for d in detections if float(d["score"]) >= score_threshold]
    dets = _by_image(kept, image_ids, "detection")
    matrix = np.zeros((c + 1, c + 1), np.int64)
    for image_id in image_ids:
        truth = gts.get(image_id, [])
        boxes = np.asarray([g["bbox"] for g in truth], np.float64).reshape(-1, 4)
        classes = np.asarray([int(g["class"]) for g in truth], np.int64)
        difficult = np.asarray([bool(g.get("difficult", 0)) for g in truth], bool)
        matched = np.zeros(len(truth), bool)
        found = dets.get(image_id, [])
        order = np.argsort([-float(d["score"]) for d in found], kind="stable")
        for i in order:
            det = found[i]
            cls = int(det["class"])
            overlaps = (
                _iou_plus_one(np.asarray(det["bbox"], np.float64), boxes)
                if len(boxes)
                else np.zeros(0)
            )
            free = (overlaps > iou_threshold) & ~matched
            if not free.any():
                matrix[c, cls] += 1  # false positive
                continue
            same = free & (classes == cls)
            j = int(np.argmax(np.where(same if same.any() else free, overlaps, -1.0)))
            matched[j] = True
            if not difficult[j]:
                matrix[classes[j], cls] += 1
        for j in np.flatnonzero(~matched & ~difficult):
            matrix[classes[j], c] += 1  # missed
    return matrix


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    """Each row divided by its sum (rows summing to 0 stay 0): ``[C + 1, C + 1]`` float64.

    For a true class: the fraction of its boxes found as each class or missed; for the
    background row: how the false positives spread over the predicted classes.
    """
    counts = np.asarray(matrix, np.float64)
    sums = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, sums, out=np.zeros_like(counts), where=sums > 0)


def confusion_csv(matrix: np.ndarray, class_names: Sequence[str]) -> str:
    """The counts as CSV text: header ``true\\predicted,<classes>,background``, one row per
    true class and a last ``background`` row."""
    names = [*(str(n) for n in class_names), BACKGROUND]
    if np.shape(matrix) != (len(names), len(names)):
        raise ValueError(f"matrix {np.shape(matrix)} does not fit {len(class_names)} classes")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["true\\predicted", *names])
    for name, row in zip(names, np.asarray(matrix), strict=True):
        writer.writerow([name, *(int(v) for v in row)])
    return out.getvalue()
