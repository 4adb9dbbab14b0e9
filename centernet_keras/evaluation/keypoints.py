"""COCO keypoint metrics (OKS AP / AR) through pycocotools ``COCOeval(iouType="keypoints")``.

Inputs are COCO as stored (those of ``tests/data/reference/oks_eval.json``): a keypoints
dataset ``{images, annotations, categories}`` and a results list ``[{image_id, category_id,
bbox [x, y, w, h], score, keypoints [3J]}]``. pycocotools' defaults apply: maxDets 20, area
ranges all / medium / large, a ground truth with ``num_keypoints`` 0 is ignored. The OKS sigmas
are pycocotools' (the 17 COCO ones) unless given, or unless the categories do not have 17
joints: then they are those of :meth:`KeypointSpec.from_coco_category` (COCO sigma of each COCO
joint name, the mean COCO sigma for any other). pycocotools' output is captured, not printed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from centernet_keras.evaluation.coco import coco_results, run_cocoeval
from centernet_keras.keypoints import KeypointSpec

KEYPOINT_STAT_NAMES = (
    "AP@[.5:.95]",
    "AP@.5",
    "AP@.75",
    "AP_medium",
    "AP_large",
    "AR@[.5:.95]",
    "AR@.5",
    "AR@.75",
    "AR_medium",
    "AR_large",
)


@dataclass
class KeypointResult:
    """COCO keypoint metrics.

    Attributes:
        stats: pycocotools' 10 ``COCOeval.stats`` (AP, AP50, AP75, APm, APl, AR, AR50, AR75,
            ARm, ARl; −1 where undefined) keyed, in that order, by ``KEYPOINT_STAT_NAMES``.
        summary_text: pycocotools' printed summary (10 lines).
        sigmas: the ``J`` OKS sigmas used.
    """

    stats: dict[str, float]
    summary_text: str
    sigmas: tuple[float, ...]
    metric: str = "coco_keypoints"

    @property
    def mean_ap(self) -> float:
        """OKS AP@[.5:.95]."""
        return self.stats["AP@[.5:.95]"]

    def to_dict(self) -> dict:
        """JSON-ready summary."""
        return {
            "metric": self.metric,
            "stats": dict(self.stats),
            "sigmas": list(self.sigmas),
            "summary_text": self.summary_text.splitlines(),
        }


def _num_joints(ground_truth: Mapping) -> int:
    """``J`` of the categories' ``keypoints`` names (else of the annotations' keypoints)."""
    counts = {len(c["keypoints"]) for c in ground_truth["categories"] if c.get("keypoints")}
    if not counts:
        counts = {len(a["keypoints"]) // 3 for a in ground_truth["annotations"] if "keypoints" in a}
    if len(counts) != 1:
        raise ValueError(f"the categories must share one number of joints, got {sorted(counts)}")
    return counts.pop()


def _default_sigmas(ground_truth: Mapping, num_joints: int) -> tuple[float, ...] | None:
    """``None`` (pycocotools' COCO sigmas) for 17 joints, else the sigmas of the category."""
    if num_joints == 17:
        return None
    category = next((c for c in ground_truth["categories"] if c.get("keypoints")), None)
    if category is None:
        raise ValueError(f"{num_joints} joints and no category names them: pass sigmas")
    return KeypointSpec.from_coco_category(category).sigmas


def evaluate_keypoints(
    ground_truth: Mapping,
    detections: Sequence[Mapping],
    sigmas: Sequence[float] | None = None,
) -> KeypointResult:
    """COCO keypoint AP / AR (OKS) with pycocotools' default keypoint parameters.

    Args:
        ground_truth: COCO keypoints dict: ``images``, ``annotations`` (``{id, image_id,
            category_id, iscrowd, bbox, area, num_keypoints, keypoints [3J]}``), ``categories``
            (with ``keypoints`` names). Not modified.
        detections: COCO results: ``[{image_id, category_id, bbox [x, y, w, h], score,
            keypoints [3J]}]`` (the visibility entries are not used). May be empty.
        sigmas: ``J`` OKS sigmas; default as in the module doc.

    Returns:
        ``KeypointResult``. With no detections every AP and AR is 0 (pycocotools' value when
        there are ground truths), not −1.

    Raises:
        ValueError: ``sigmas`` or a detection's ``keypoints`` do not fit the ``J`` joints, or a
            detection is on an image the ground truth does not list.
    """
    num_joints = _num_joints(ground_truth)
    if sigmas is not None:
        sigmas = tuple(float(s) for s in sigmas)
        if len(sigmas) != num_joints:
            raise ValueError(f"got {len(sigmas)} sigmas for {num_joints} joints")
    else:
        sigmas = _default_sigmas(ground_truth, num_joints)
    image_ids = {im["id"] for im in ground_truth["images"]}
    for d in detections:
        if d["image_id"] not in image_ids:
            raise ValueError(f"detection on image {d['image_id']!r}, which is not listed")
        if len(d["keypoints"]) != 3 * num_joints:
            raise ValueError(
                f"a detection has {len(d['keypoints'])} keypoint values, not 3 × {num_joints}"
            )
    dataset = {k: ground_truth[k] for k in ("images", "annotations", "categories")}
    evaluator, summary_text = run_cocoeval(dataset, detections, "keypoints", sigmas)
    stats = [float(s) for s in evaluator.stats]
    return KeypointResult(
        stats=dict(zip(KEYPOINT_STAT_NAMES, stats, strict=True)),
        summary_text=summary_text,
        sigmas=tuple(float(s) for s in evaluator.params.kpt_oks_sigmas),
    )


def evaluate_keypoint_records(
    ground_truth: Mapping, detections: Sequence[Mapping]
) -> KeypointResult:
    """OKS AP of a pose model's detection records on ground truth read from a keypoints file.

    The metric ``"keypoints"`` of ``evaluation.evaluate`` (``get_map.py`` on a
    ``person_keypoints_*.json``): the file's own annotations (crowds as ignore regions, people
    without labelled joints ignored, as pycocotools does) and the detections' ``keypoints`` in
    original-image pixels, with the file's joint names and OKS sigmas.

    Args:
        ground_truth: plain records whose ``coco_json`` entry has a ``keypoint_spec`` (see
            ``evaluation.runner``).
        detections: ``[{image_id, bbox [x1, y1, x2, y2], class, score, keypoints [3J]}]``.

    Raises:
        ValueError: the ground truth is not from a keypoints file, or the detections have no
            or other joints.
    """
    coco = ground_truth.get("coco_json") or {}
    if "keypoint_spec" not in coco:
        raise ValueError(
            "keypoint AP needs a COCO keypoints file (categories with 'keypoints'), e.g. "
            "person_keypoints_val2017.json"
        )
    spec = KeypointSpec.from_config(coco["keypoint_spec"])
    missing = sum("keypoints" not in d for d in detections)
    if missing:
        raise ValueError(f"{missing} detection(s) without keypoints: not a pose model?")
    results = coco_results(ground_truth, detections)
    categories = [
        {**c, "keypoints": list(spec.names), "skeleton": [[i + 1, j + 1] for i, j in spec.skeleton]}
        for c in coco["categories"]
    ]
    with_joints = [a for a in coco["annotations"] if "keypoints" in a]
    kept = {a["category_id"] for a in with_joints}
    dataset = {
        "images": coco["images"],
        "annotations": with_joints,
        "categories": [c for c in categories if c["id"] in kept] or categories[:1],
    }
    results = [r for r in results if r["category_id"] in {c["id"] for c in dataset["categories"]}]
    return evaluate_keypoints(dataset, results, spec.sigmas)
