"""COCO detection metrics (AP@[.5:.95], AP50, AP75, by area, AR) through pycocotools.

Ground truth read from a COCO JSON carries that JSON (a ``"coco_json"`` entry, see
:func:`evaluate_coco`) and is scored on it exactly as the official scorer scores the file:
crowd regions are ``iscrowd`` ignore regions, areas are the file's, image and category ids are
the file's. Other plain records are converted at this edge: *difficult* ground truths are
dropped (not turned into ``iscrowd``), boxes become ``[x1, y1, w, h]`` without ``+1``,
``area = w·h`` and ``category_id = class + 1``. pycocotools' progress lines and summary are
captured, not printed.
"""

from __future__ import annotations

import contextlib
import copy
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

STAT_NAMES = (
    "AP@[.5:.95]",
    "AP@.5",
    "AP@.75",
    "AP_small",
    "AP_medium",
    "AP_large",
    "AR@1",
    "AR@10",
    "AR@100",
    "AR_small",
    "AR_medium",
    "AR_large",
)


@dataclass
class COCOResult:
    """COCO metrics.

    Attributes:
        stats: ``[12]`` float64, pycocotools' ``COCOeval.stats`` (−1 where undefined), named by
            ``STAT_NAMES``.
        per_class: ``{class name: {"AP": AP@[.5:.95], "AP50": AP@.5}}`` (area all, 100 dets;
            NaN for a class without ground truth).
        summary_text: pycocotools' printed summary (12 lines).
    """

    stats: np.ndarray
    per_class: dict[str, dict[str, float]]
    summary_text: str
    metric: str = "coco"

    @property
    def mean_ap(self) -> float:
        """AP@[.5:.95] (``stats[0]``)."""
        return float(self.stats[0])

    @property
    def per_class_ap(self) -> dict[str, float]:
        """``{class name: AP@[.5:.95]}``."""
        return {name: v["AP"] for name, v in self.per_class.items()}

    def to_dict(self) -> dict:
        """JSON-ready summary."""
        return {
            "metric": self.metric,
            "stats": dict(zip(STAT_NAMES, (float(s) for s in self.stats), strict=True)),
            "per_class": {
                name: {k: None if np.isnan(v) else float(v) for k, v in d.items()}
                for name, d in self.per_class.items()
            },
            "summary_text": self.summary_text.splitlines(),
        }


def to_coco_dicts(
    ground_truth: Mapping, detections: Sequence[Mapping], class_names: Sequence[str]
) -> tuple[dict, list[dict]]:
    """Plain records → a COCO ground-truth dataset dict and a COCO results list.

    Image ids are kept when they are all integers, else numbered ``1..N`` in order.

    Returns:
        ``(dataset, results)``: ``dataset`` with ``images``, ``annotations`` (difficult ones
        dropped) and ``categories``; ``results`` ``[{image_id, category_id, bbox, score}]``.
    """
    ids = [im["id"] for im in ground_truth["images"]]
    if all(isinstance(i, int | np.integer) for i in ids):
        id_map = {i: int(i) for i in ids}
    else:
        id_map = {i: n for n, i in enumerate(ids, 1)}
    images = [
        {"id": id_map[im["id"]], "width": int(im["width"]), "height": int(im["height"])}
        for im in ground_truth["images"]
    ]
    annotations = []
    for g in ground_truth["gt"]:
        if g.get("difficult", 0):
            continue
        x1, y1, x2, y2 = (float(v) for v in g["bbox"])
        annotations.append(
            {
                "id": len(annotations) + 1,
                "image_id": id_map[g["image_id"]],
                "category_id": int(g["class"]) + 1,
                "bbox": [x1, y1, x2 - x1, y2 - y1],
                "area": (x2 - x1) * (y2 - y1),
                "iscrowd": 0,
            }
        )
    categories = [{"id": c + 1, "name": str(name)} for c, name in enumerate(class_names)]
    results = []
    for d in detections:
        if d["image_id"] not in id_map:
            raise ValueError(f"detection on image {d['image_id']!r}, which is not listed")
        x1, y1, x2, y2 = (float(v) for v in d["bbox"])
        results.append(
            {
                "image_id": id_map[d["image_id"]],
                "category_id": int(d["class"]) + 1,
                "bbox": [x1, y1, x2 - x1, y2 - y1],
                "score": float(d["score"]),
            }
        )
    dataset = {"images": images, "annotations": annotations, "categories": categories}
    return dataset, results


def coco_results(ground_truth: Mapping, detections: Sequence[Mapping]) -> list[dict]:
    """Detections in the official COCO results format, on the ids of the ground truth's JSON.

    Args:
        ground_truth: plain records with a ``"coco_json"`` entry (see :func:`evaluate_coco`).
        detections: ``[{image_id, bbox [x1, y1, x2, y2], class, score}]``, pose models' with
            ``keypoints`` ``[3J]`` too.

    Returns:
        ``[{image_id, category_id, bbox [x, y, w, h], score}]`` (and ``keypoints``, as given)
        with the JSON's image and category ids; detections of a class that has no category in
        the JSON are left out
        (the official scorer would not look at them either).

    Raises:
        ValueError: the ground truth has no ``"coco_json"`` entry, or a detection is on an image
            it does not list.
    """
    if "coco_json" not in ground_truth:
        raise ValueError("the ground truth was not read from a COCO json (no 'coco_json' entry)")
    image_ids = {im["id"]: im["coco_id"] for im in ground_truth["images"]}
    category_ids = ground_truth["coco_json"]["category_ids"]
    results = []
    for d in detections:
        if d["image_id"] not in image_ids:
            raise ValueError(f"detection on image {d['image_id']!r}, which is not listed")
        category_id = category_ids[int(d["class"])]
        if category_id is None:
            continue
        x1, y1, x2, y2 = (float(v) for v in d["bbox"])
        result = {
            "image_id": image_ids[d["image_id"]],
            "category_id": category_id,
            "bbox": [x1, y1, x2 - x1, y2 - y1],
            "score": float(d["score"]),
        }
        if "keypoints" in d:
            result["keypoints"] = [float(v) for v in d["keypoints"]]
        results.append(result)
    return results


def evaluate_coco(
    ground_truth: Mapping, detections: Sequence[Mapping], class_names: Sequence[str]
) -> COCOResult:
    """COCO bbox metrics with pycocotools' default parameters.

    Args:
        ground_truth: ``{"images": [{id, width, height}], "gt": [{image_id, bbox, class,
            difficult}]}`` (boxes ``[x1, y1, x2, y2]``). Read from a COCO JSON it also has
            ``"coco_json": {images, annotations, categories, category_ids}`` (the JSON's entries of
            the evaluated images, and the category id of each class, ``None`` for none) and a
            ``coco_id`` in each image: then that JSON is what is scored.
        detections: ``[{image_id, bbox, class, score}]``.
        class_names: names of classes ``0..C-1``.

    Returns:
        ``COCOResult`` (the 12 stats, per-class AP and AP50, the summary text).
    """
    if "coco_json" in ground_truth:
        coco = ground_truth["coco_json"]
        dataset = {k: coco[k] for k in ("images", "annotations", "categories")}
        results = coco_results(ground_truth, detections)
        category_ids = list(coco["category_ids"])
    else:
        dataset, results = to_coco_dicts(ground_truth, detections, class_names)
        category_ids = [c + 1 for c in range(len(class_names))]
    evaluator, summary_text = run_cocoeval(dataset, results, "bbox")

    precision = evaluator.eval["precision"]  # [T, R, K, A, M], K in the order of catIds
    cat_ids = list(evaluator.params.catIds)
    per_class = {}
    for name, category_id in zip(class_names, category_ids, strict=True):
        if category_id not in cat_ids:
            per_class[str(name)] = {"AP": float("nan"), "AP50": float("nan")}
            continue
        k = cat_ids.index(category_id)
        p_all = precision[:, :, k, 0, -1]  # area "all", maxDets 100
        p_50 = precision[0, :, k, 0, -1]  # IoU 0.5
        per_class[str(name)] = {"AP": _mean_valid(p_all), "AP50": _mean_valid(p_50)}
    return COCOResult(
        stats=np.asarray(evaluator.stats, np.float64),
        per_class=per_class,
        summary_text=summary_text,
    )


def run_cocoeval(
    dataset: Mapping,
    results: Sequence[Mapping],
    iou_type: str,
    kpt_oks_sigmas: Sequence[float] | None = None,
) -> tuple[Any, str]:
    """Run pycocotools' ``COCOeval`` silently (progress lines and summary captured).

    Args:
        dataset: COCO ground truth ``{images, annotations, categories}``; not modified.
        results: COCO results list (may be empty); not modified.
        iou_type: ``"bbox"`` or ``"keypoints"``.
        kpt_oks_sigmas: ``[J]`` OKS sigmas; ``None`` keeps pycocotools' (the COCO 17).

    Returns:
        The evaluated, accumulated and summarised ``COCOeval`` and its summary text.
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    # pycocotools writes into the annotations and results it scores: give it copies.
    dataset = copy.deepcopy(dict(dataset))
    results = copy.deepcopy(list(results))
    log = io.StringIO()
    with contextlib.redirect_stdout(log):
        coco_gt = COCO()
        coco_gt.dataset = dataset
        coco_gt.createIndex()
        if results:
            coco_dt = coco_gt.loadRes(results)
        else:  # loadRes cannot take an empty list
            coco_dt = COCO()
            coco_dt.dataset = {**dataset, "annotations": []}
            coco_dt.createIndex()
        evaluator = COCOeval(coco_gt, coco_dt, iouType=iou_type)
        if kpt_oks_sigmas is not None:
            evaluator.params.kpt_oks_sigmas = np.asarray(kpt_oks_sigmas, np.float64)
        evaluator.evaluate()
        evaluator.accumulate()
    summary = io.StringIO()
    with contextlib.redirect_stdout(summary):
        evaluator.summarize()
    return evaluator, summary.getvalue().rstrip("\n")


def _mean_valid(values: np.ndarray) -> float:
    """Mean of the entries > −1 (pycocotools marks missing ones −1); NaN if there are none."""
    valid = values[values > -1]
    return float(np.mean(valid)) if valid.size else float("nan")
