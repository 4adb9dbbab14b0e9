"""A synthetic multi-person keypoint dataset in the COCO layout, for the pose demo and tests.

``python -m centernet_keras.data.synthetic_pose --out demo_pose --num-images 600 --seed 0``
writes ``images/*.jpg`` and ``annotations/person_keypoints_{train,val}.json``: stick figures with
the 17 COCO joints (nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles), all facing
the camera (a person's left joints on the image's right, as in COCO), of varied scale (≈ 48–220
px tall), pose (limb angles, torso tilt) and colour, with dark dots at the nose, eyes and ears,
on the textured backgrounds of
``data.synthetic``; some overlap, some are cut by the image border; about 5 % of images have no
one.

Per person (COCO semantics): ``keypoints`` ``[x, y, v] × 17``, the joint's position in pixel
coordinates (the drawn limbs pass through it), ``v = 2`` visible, ``v = 1`` on a pixel covered
by a person drawn later, ``v = 0`` (and ``x = y = 0``) outside the image; ``num_keypoints`` =
joints with ``v > 0``; ``bbox`` xywh = the tight bounds of the person's drawn pixels inside the
image; ``area`` = the count of its pixels left visible (the OKS scale); ``iscrowd`` 0. People
with fewer than 4 pixels visible are not written.

Deterministic: image ``i`` is drawn from ``numpy.random.default_rng([seed, i])``.
"""

from __future__ import annotations

import argparse
import colorsys
import io
import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from centernet_keras.data.synthetic import background, write_bytes

#: COCO person keypoints, in COCO order.
COCO_KEYPOINTS = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
#: COCO's person skeleton, 1-based joint indices as in the JSON.
COCO_SKELETON = (
    (16, 14), (14, 12), (17, 15), (15, 13), (12, 13), (6, 12), (7, 13), (6, 7), (6, 8),
    (7, 9), (8, 10), (9, 11), (2, 3), (1, 2), (1, 3), (2, 4), (3, 5), (4, 6), (5, 7),
)  # fmt: skip
_LIMBS = ((5, 7), (7, 9), (6, 8), (8, 10), (11, 13), (13, 15), (12, 14), (14, 16))
MIN_PIXELS = 4


@dataclass
class SyntheticPose:
    """A rendered image ``[H, W, 3]`` uint8 and its people (COCO annotation dicts without ids)."""

    image: np.ndarray
    people: list[dict]


def _skeleton(rng: np.random.Generator, height: float, cx: float, cy: float) -> np.ndarray:
    """Joint positions ``[17, 2]`` (x, y) of a camera-facing figure ``height`` px tall whose hip
    centre is at ``(cx, cy)``."""
    h = height
    tilt = rng.uniform(-0.25, 0.25)  # torso lean (radians)
    up = np.array([math.sin(tilt), -math.cos(tilt)])  # hip → neck direction
    side = np.array([math.cos(tilt), math.sin(tilt)])  # towards the person's left (image right)
    hip = np.array([cx, cy])
    neck = hip + up * 0.30 * h
    joints = np.zeros((17, 2))
    joints[[5, 6]] = neck + np.outer([1, -1], side * 0.11 * h)
    joints[[11, 12]] = hip + np.outer([1, -1], side * 0.07 * h)
    head = neck + up * 0.10 * h
    joints[0] = head + rng.uniform(-0.015, 0.015, 2) * h
    joints[[1, 2]] = head + up * 0.025 * h + np.outer([1, -1], side * 0.025 * h)
    joints[[3, 4]] = head + np.outer([1, -1], side * 0.05 * h)

    def limb(start: np.ndarray, base_angle: float, spread: float, length: float) -> np.ndarray:
        angle = base_angle + rng.uniform(-spread, spread)
        return start + length * np.array([math.cos(angle), math.sin(angle)])

    down = math.atan2(-up[1], -up[0])
    for sign, (shoulder, elbow, wrist) in ((1, (5, 7, 9)), (-1, (6, 8, 10))):
        joints[elbow] = limb(joints[shoulder], down - sign * 0.5, 1.2, 0.16 * h)
        joints[wrist] = limb(joints[elbow], down - sign * 0.4, 1.4, 0.14 * h)
    for sign, (hip_j, knee, ankle) in ((1, (11, 13, 15)), (-1, (12, 14, 16))):
        joints[knee] = limb(joints[hip_j], down - sign * 0.15, 0.35, 0.24 * h)
        joints[ankle] = limb(joints[knee], down - sign * 0.05, 0.35, 0.24 * h)
    return joints


def _draw_person(joints: np.ndarray, height: float, shape: tuple[int, int]) -> np.ndarray:
    """The person's pixels (bool ``[H, W]``): torso polygon, head disc, limbs as thick lines."""
    mask = np.zeros(shape, np.uint8)
    thick = max(2, round(0.035 * height))
    pts = np.round(joints * 16).astype(np.int32)  # 4 fractional bits
    cv2.fillConvexPoly(mask, pts[[5, 6, 12, 11]], 1, cv2.LINE_8, 4)
    head_r = round(0.065 * height * 16)
    cv2.circle(mask, tuple(int(v) for v in pts[0]), head_r, 1, -1, cv2.LINE_8, 4)
    neck = np.round((joints[5] + joints[6]) / 2 * 16).astype(np.int32)
    cv2.line(mask, tuple(int(v) for v in neck), tuple(int(v) for v in pts[0]), 1, thick, 8, 4)
    for a, b in _LIMBS:
        cv2.line(mask, tuple(int(v) for v in pts[a]), tuple(int(v) for v in pts[b]), 1, thick, 8, 4)
    return mask.astype(bool)


def _draw_face(joints: np.ndarray, height: float, shape: tuple[int, int]) -> np.ndarray:
    """The face's pixels (bool ``[H, W]``): dots at the nose, eyes and ears, drawn darker on the
    head so that the face joints are visible features, as on a photo."""
    mask = np.zeros(shape, np.uint8)
    radius = max(16, round(0.014 * height * 16))  # ≥ 1 px
    for x, y in np.round(joints[:5] * 16).astype(np.int32):
        cv2.circle(mask, (int(x), int(y)), radius, 1, -1, cv2.LINE_8, 4)
    return mask.astype(bool)


def _colour(rng: np.random.Generator) -> np.ndarray:
    r, g, b = colorsys.hsv_to_rgb(rng.uniform(0, 1), rng.uniform(0.7, 1.0), rng.uniform(0.7, 1.0))
    return np.array([r, g, b]) * 255


def render_pose_image(rng: np.random.Generator) -> SyntheticPose:
    """One image (sides 160–320 px) with 0–4 people; see the module docstring."""
    height, width = (int(v) for v in rng.integers(160, 321, 2))
    image = background(rng, height, width)
    count = 0 if rng.uniform() < 0.05 else int(rng.integers(1, 5))
    figures = []
    for _ in range(count):
        tall = rng.uniform(48, min(220, 1.1 * height))
        cx = rng.uniform(-0.05, 1.05) * width
        cy = rng.uniform(0.35, 0.75) * height + rng.uniform(-0.2, 0.2) * tall
        joints = _skeleton(rng, tall, cx, cy)
        mask = _draw_person(joints, tall, (height, width))
        colour = _colour(rng)
        image[mask] = np.clip(colour + rng.integers(-10, 11, (mask.sum(), 3)), 0, 255)
        face = _draw_face(joints, tall, (height, width)) & mask
        image[face] = colour * 0.35
        figures.append((joints, mask))
    people = []
    for k, (joints, mask) in enumerate(figures):
        visible = mask.copy()
        for _, later in figures[k + 1 :]:
            visible &= ~later
        if visible.sum() < MIN_PIXELS:
            continue
        keypoints = []
        for x, y in joints:
            col, row = math.floor(x), math.floor(y)
            if not (0 <= col < width and 0 <= row < height):
                keypoints += [0, 0, 0]
                continue
            hidden = any(later[row, col] for _, later in figures[k + 1 :])
            keypoints += [round(float(x), 2), round(float(y), 2), 1 if hidden else 2]
        rows, cols = np.nonzero(mask)
        x1, y1, x2, y2 = cols.min(), rows.min(), cols.max() + 1, rows.max() + 1
        people.append({
            "keypoints": keypoints,
            "num_keypoints": sum(v > 0 for v in keypoints[2::3]),
            "bbox": [float(x1), float(y1), float(x2 - x1), float(y2 - y1)],
            "area": float(visible.sum()),
            "iscrowd": 0,
            "category_id": 1,
        })  # fmt: skip
    return SyntheticPose(image, people)


def person_category() -> dict:
    """The COCO ``categories`` entry of the person class (names and 1-based skeleton)."""
    return {
        "id": 1,
        "name": "person",
        "supercategory": "person",
        "keypoints": list(COCO_KEYPOINTS),
        "skeleton": [list(edge) for edge in COCO_SKELETON],
    }


def generate_pose_dataset(
    out: str | os.PathLike, num_images: int, seed: int = 0, val_fraction: float = 0.2
) -> dict[str, Path]:
    """Write ``<out>/images/pose_XXXXXX.jpg`` and ``<out>/annotations/person_keypoints_{train,
    val}.json`` (the last ``val_fraction`` of the images are validation).

    Returns:
        ``{"images": folder, "train": json path, "val": json path}``.

    Raises:
        ValueError: ``num_images`` < 2 or ``val_fraction`` not in (0, 1).
    """
    if num_images < 2 or not 0 < val_fraction < 1:
        raise ValueError(f"need num_images >= 2 and 0 < val_fraction < 1, got {num_images}, "
                         f"{val_fraction}")  # fmt: skip
    out = Path(out)
    image_dir, ann_dir = out / "images", out / "annotations"
    image_dir.mkdir(parents=True, exist_ok=True)
    ann_dir.mkdir(parents=True, exist_ok=True)
    num_val = max(1, round(num_images * val_fraction))
    splits = {"train": range(num_images - num_val), "val": range(num_images - num_val, num_images)}
    paths = {"images": image_dir}
    annotation_id = 1
    for split, indices in splits.items():
        images, annotations = [], []
        for index in indices:
            sample = render_pose_image(np.random.default_rng([seed, index]))
            name = f"pose_{index:06d}.jpg"
            buffer = io.BytesIO()
            Image.fromarray(sample.image).save(buffer, format="JPEG", quality=92)
            write_bytes(image_dir / name, buffer.getvalue())
            h, w = sample.image.shape[:2]
            images.append({"id": index + 1, "file_name": name, "height": h, "width": w})
            for person in sample.people:
                annotations.append({"id": annotation_id, "image_id": index + 1, **person})
                annotation_id += 1
        data = {"images": images, "annotations": annotations, "categories": [person_category()]}
        paths[split] = ann_dir / f"person_keypoints_{split}.json"
        write_bytes(paths[split], json.dumps(data).encode("utf-8"))
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--num-images", type=int, default=600, help="images in all")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same files")
    parser.add_argument("--val-fraction", type=float, default=0.2, help="share of validation")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    paths = generate_pose_dataset(args.out, args.num_images, args.seed, args.val_fraction)
    print(f"Wrote {args.num_images} images to {paths['images']} and {paths['train']}, "
          f"{paths['val']} in {time.perf_counter() - start:.1f} s")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
