"""A tiny COCO detection file with what the official scorer looks at, and the official scorer.

The file has crowd regions (``iscrowd=1``), segmentation areas that put objects in another
small/medium/large bucket than their box area, non-contiguous image and category ids, and a
dummy category 0 without annotations (as Roboflow exports have).
"""

import contextlib
import io
import json
from pathlib import Path

import numpy as np
from PIL import Image

CLASSES = ["cat", "dog"]
CATEGORY_IDS = {"cat": 17, "dog": 18}
CATEGORIES = [
    {"id": 18, "name": "dog", "supercategory": "animals"},
    {"id": 0, "name": "animals", "supercategory": "none"},
    {"id": 17, "name": "cat", "supercategory": "animals"},
]
# JSON image id → (file name, width, height), in the file's order
IMAGES = {397133: ("a.jpg", 128, 96), 42: ("b.png", 110, 100), 7: ("c.jpg", 64, 64)}
# (image id, class, [x, y, w, h], area, iscrowd)
ANNOTATIONS = [
    (397133, "cat", [10, 10, 40, 40], 900.0, 0),  # box 1600 (medium), area 900 (small)
    (397133, "cat", [60, 8, 60, 80], 3000.0, 1),  # crowd region
    (42, "dog", [4, 0, 100, 100], 9000.0, 0),  # box 10000 (large), area 9000 (medium)
    (7, "dog", [5, 5, 20, 20], 310.5, 0),
    (7, "cat", [30, 30, 25, 25], 500.0, 0),
    (7, "dog", [34, 0, 30, 28], 700.0, 1),  # crowd region
]


def write_coco(root: Path, annotations=ANNOTATIONS, categories=CATEGORIES) -> tuple[Path, Path]:
    """Write the images and ``instances.json`` under ``root``; returns ``(json, image dir)``."""
    image_dir = root / "images"
    image_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    images = []
    for image_id, (name, width, height) in IMAGES.items():
        pixels = rng.integers(0, 256, (height, width, 3)).astype(np.uint8)
        Image.fromarray(pixels).save(image_dir / name)
        images.append({"id": image_id, "file_name": name, "width": width, "height": height})
    anns = []
    for n, (image_id, name, (x, y, w, h), area, crowd) in enumerate(annotations):
        polygon = [[x, y + h / 2, x + w / 2, y, x + w, y + h / 2, x + w / 2, y + h]]
        crowd_mask = {"counts": [0, w * h], "size": [IMAGES[image_id][2], IMAGES[image_id][1]]}
        anns.append(
            {
                "id": 1000 + 7 * n,
                "image_id": image_id,
                "category_id": CATEGORY_IDS[name],
                "bbox": [x, y, w, h],
                "area": area,
                "iscrowd": crowd,
                "segmentation": crowd_mask if crowd else polygon,
            }
        )
    path = root / "instances.json"
    data = {"images": images, "annotations": anns, "categories": categories}
    path.write_text(json.dumps(data))
    return path, image_dir


def official_eval(json_path, results):
    """pycocotools run on the JSON file and a results list (or ``coco_results.json`` path)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(json_path))
        dt = gt.loadRes(results if isinstance(results, list) else str(results))
        evaluator = COCOeval(gt, dt, iouType="bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator


def official_class_ap(evaluator, name: str) -> float:
    """AP@[.5:.95] of one category (area all, 100 detections) from an official run."""
    k = evaluator.params.catIds.index(CATEGORY_IDS[name])
    p = evaluator.eval["precision"][:, :, k, 0, -1]
    return float(np.mean(p[p > -1])) if (p > -1).any() else float("nan")
