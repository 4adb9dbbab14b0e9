"""How precise must joints be for a keypoint AP, and how precise are a model's?

Prints one JSON line per noise level: the OKS AP (pycocotools) of the ground truth itself with
every joint moved by Gaussian noise (the AP a perfect detector with that joint error gets), and,
given a ``coco_results.json`` of ``get_map.py``, the median joint error (pixels) of the best
detection of each person, per joint, beside the OKS tolerance ``sqrt(area)·2σ``.

    python bench/pose_errors.py --gt demo_pose/annotations/person_keypoints_val.json \\
        --results demo_pose/map_out/coco_results.json
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json

import numpy as np

from centernet_keras.evaluation.keypoints import evaluate_keypoints
from centernet_keras.keypoints import KeypointSpec


def noisy_ground_truth_ap(data: dict, sigma: float, seed: int = 0) -> float:
    """OKS AP of the ground truth's joints moved by ``N(0, sigma²)`` per axis (pixels)."""
    rng = np.random.default_rng(seed)
    results = []
    for ann in data["annotations"]:
        if ann.get("iscrowd"):
            continue
        joints = np.reshape(ann["keypoints"], (-1, 3)).astype(np.float64)
        joints[:, :2] += rng.normal(0, sigma, (len(joints), 2))
        joints[:, 2] = 1
        results.append(
            {
                "image_id": ann["image_id"],
                "category_id": ann["category_id"],
                "bbox": ann["bbox"],
                "score": 1.0,
                "keypoints": joints.ravel().tolist(),
            }
        )
    with contextlib.redirect_stdout(io.StringIO()):
        return evaluate_keypoints(data, results).mean_ap


def joint_errors(data: dict, results: list[dict], sigmas: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per person (labelled joints): errors of the detection with the best OKS on the same image.

    Returns:
        ``(errors [P, J] (NaN unlabelled), tolerances [P, J])`` in pixels.
    """
    by_image: dict = {}
    for r in results:
        by_image.setdefault(r["image_id"], []).append(r)
    errors, tolerances = [], []
    for ann in data["annotations"]:
        if ann.get("iscrowd") or not ann.get("num_keypoints"):
            continue
        truth = np.reshape(ann["keypoints"], (-1, 3))
        labelled = truth[:, 2] > 0
        tolerance = np.sqrt(ann["area"]) * 2 * sigmas
        best, best_oks = None, -1.0
        for r in by_image.get(ann["image_id"], []):
            diff = np.reshape(r["keypoints"], (-1, 3))[:, :2] - truth[:, :2]
            oks = np.exp(-(diff**2).sum(1) / (2 * tolerance**2))[labelled].mean()
            if oks > best_oks:
                best, best_oks = np.sqrt((diff**2).sum(1)), oks
        if best is not None:
            errors.append(np.where(labelled, best, np.nan))
            tolerances.append(tolerance)
    return np.array(errors), np.array(tolerances)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gt", required=True, help="COCO keypoints JSON (the split scored)")
    parser.add_argument("--results", help="coco_results.json of get_map.py on that split")
    parser.add_argument("--sigmas", default="0.5,1,1.5,2,3,4", help="noise levels (px per axis)")
    args = parser.parse_args()
    with open(args.gt, encoding="utf-8") as f:
        data = json.load(f)
    for sigma in (float(s) for s in args.sigmas.split(",")):
        ap = noisy_ground_truth_ap(data, sigma)
        print(
            json.dumps(
                {
                    "bench": "pose_errors",
                    "noise_px_per_axis": sigma,
                    "noise_rms_px": round(sigma * 2**0.5, 2),
                    "oks_ap": round(ap, 4),
                }
            )
        )
    if args.results:
        with open(args.results, encoding="utf-8") as f:
            results = json.load(f)
        category = next(c for c in data["categories"] if c.get("keypoints"))
        spec = KeypointSpec.from_coco_category(category)
        errors, tolerances = joint_errors(data, results, np.array(spec.sigmas))
        print(json.dumps({
            "bench": "pose_errors", "people": len(errors), "joints": list(spec.names),
            "median_error_px": np.round(np.nanmedian(errors, 0), 1).tolist(),
            "median_tolerance_px": np.round(np.median(tolerances, 0), 1).tolist(),
        }))  # fmt: skip


if __name__ == "__main__":
    main()
