"""A synthetic multi-person keypoint dataset in the COCO layout, for the pose demo and tests.

``python -m centernet_keras.data.synthetic_pose --out demo_pose --num-images 600 --seed 0``
writes ``images/*.jpg`` and ``annotations/person_keypoints_{train,val}.json``: filled figures
(torso, neck, round head, thick arms and legs, hands and feet) with the 17 COCO joints (nose,
eyes, ears, shoulders, elbows, wrists, hips, knees, ankles), all facing the camera (a person's
left joints on the image's right, as in COCO), 45–95 % of the image's height, of varied pose
(arms from hanging to 75° out, forearms bent up to 40°, each arm on its own side of the body;
legs; torso tilt) and colours: clothes (limbs a darker shade), skin (head, hands), shoes; a
dark dot on every joint (face included). 1–3 people side by side (half the images hold one),
some overlapping, some cut by the image border, on the textured backgrounds of
``data.synthetic``; about 5 % of images have no one. Left and right look alike, as on a photo:
only the side of the body tells them apart, so the training flip (which swaps them) stays
consistent.

Per person (COCO semantics): ``keypoints`` ``[x, y, v] × 17``, the joint's position in pixel
coordinates (the drawn limbs pass through it), ``v = 2`` visible, ``v = 1`` on a pixel covered
by a person drawn later, ``v = 0`` (and ``x = y = 0``) outside the image; ``num_keypoints`` =
joints with ``v > 0``; ``bbox`` xywh = the tight bounds of the person's drawn pixels inside the
image; ``area`` = the count of its pixels left visible, the area of the filled person's visible
segmentation as COCO defines it (the OKS scale); ``iscrowd`` 0. People
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
MIN_PIXELS = 4


@dataclass
class SyntheticPose:
    """A rendered image ``[H, W, 3]`` uint8 and its people (COCO annotation dicts without ids)."""

    image: np.ndarray
    people: list[dict]


def figure_joints(rng: np.random.Generator, height: float, cx: float, cy: float) -> np.ndarray:
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
    joints[0] = head - up * 0.025 * h + rng.uniform(-0.01, 0.01, 2) * h
    joints[[1, 2]] = head + up * 0.02 * h + np.outer([1, -1], side * 0.03 * h)
    joints[[3, 4]] = head + np.outer([1, -1], side * 0.06 * h)

    def limb(start: np.ndarray, base_angle: float, spread: float, length: float) -> np.ndarray:
        angle = base_angle + rng.uniform(-spread, spread)
        return start + length * np.array([math.cos(angle), math.sin(angle)])

    down = math.atan2(-up[1], -up[0])
    for sign, (shoulder, elbow, wrist) in ((1, (5, 7, 9)), (-1, (6, 8, 10))):
        # outward from hanging down (0) to 75° (1.3); the forearm bends up to 40° either way
        # but turns at most 0.3 rad inward, so an arm stays on its own side of the body
        out = rng.uniform(0.2, 1.3)
        joints[elbow] = limb(joints[shoulder], down - sign * out, 0.0, 0.16 * h)
        turn = rng.uniform(max(-0.3, out - 0.7), out + 0.7)
        joints[wrist] = limb(joints[elbow], down - sign * turn, 0.0, 0.14 * h)
    for sign, (hip_j, knee, ankle) in ((1, (11, 13, 15)), (-1, (12, 14, 16))):
        joints[knee] = limb(joints[hip_j], down - sign * 0.15, 0.35, 0.24 * h)
        joints[ankle] = limb(joints[knee], down - sign * 0.05, 0.35, 0.24 * h)
    return joints


#: The person's left limbs ((start joint, end joint), thickness as a share of the figure's
#: height); the right ones are the next joint indices.
_LIMBS = (((5, 7), 0.06), ((7, 9), 0.05), ((11, 13), 0.075), ((13, 15), 0.06))
_TORSO_EDGES = ((5, 6), (6, 12), (12, 11), (11, 5))


def _fixed(point: np.ndarray) -> tuple[int, int]:
    """``(x, y)`` in OpenCV's 4-fractional-bit fixed point."""
    return tuple(int(v) for v in np.round(np.asarray(point) * 16))


def _line(mask: np.ndarray, a: np.ndarray, b: np.ndarray, thick: float) -> None:
    cv2.line(mask, _fixed(a), _fixed(b), 1, max(2, round(thick)), cv2.LINE_8, 4)


def _disc(mask: np.ndarray, centre: np.ndarray, radius: float) -> None:
    cv2.circle(mask, _fixed(centre), max(16, round(radius * 16)), 1, -1, cv2.LINE_8, 4)


def person_parts(
    joints: np.ndarray, height: float, shape: tuple[int, int]
) -> dict[str, np.ndarray]:
    """The filled person of a figure ``height`` px tall as bool ``[H, W]`` masks of its parts, in
    drawing order: ``"body"`` (torso, neck), ``"head"``, ``"hands"`` (the forearms continued by
    0.06 · ``height``) and ``"feet"`` (0.07 · ``height`` outwards, slightly down): a person
    reaches past its wrists and ankles; ``"limbs"`` (thick arms and legs) and ``"dots"`` (a
    dot on each of the 17 joints ``[17, 2]``: face, shoulders, elbows, wrists, hips, knees,
    ankles)."""
    h = height
    masks = {name: np.zeros(shape, np.uint8) for name in ("body", "head", "hands", "feet", "limbs")}
    corners = np.array([_fixed(joints[j]) for j in (5, 6, 12, 11)])
    cv2.fillConvexPoly(masks["body"], corners, 1, cv2.LINE_8, 4)
    for a, b in _TORSO_EDGES:  # rounded, filled torso
        _line(masks["body"], joints[a], joints[b], 0.06 * h)
    neck, head = (joints[5] + joints[6]) / 2, (joints[3] + joints[4]) / 2  # head: between the ears
    _line(masks["body"], neck, head, 0.06 * h)
    _disc(masks["head"], head, 0.075 * h)
    for side, (elbow, wrist, ankle) in ((1, (7, 9, 15)), (-1, (8, 10, 16))):
        forearm = joints[wrist] - joints[elbow]
        hand = joints[wrist] + forearm / max(np.linalg.norm(forearm), 1e-6) * 0.06 * h
        _line(masks["hands"], joints[wrist], hand, 0.05 * h)
        _line(masks["feet"], joints[ankle], joints[ankle] + np.array([side * 0.066, 0.025]) * h,
              0.05 * h)  # fmt: skip
    for (a, b), thick in _LIMBS:
        for first in (0, 1):  # the person's left, then right limb
            _line(masks["limbs"], joints[a + first], joints[b + first], thick * h)
    masks["dots"] = np.zeros(shape, np.uint8)
    for joint in joints:
        _disc(masks["dots"], joint, 0.016 * h)
    return {name: mask.astype(bool) for name, mask in masks.items()}


def _colour(rng: np.random.Generator, hue: tuple[float, float], saturation: tuple[float, float],
            value: tuple[float, float]) -> np.ndarray:  # fmt: skip
    """An RGB colour ``[3]`` (0–255) drawn uniformly in these HSV ranges."""
    r, g, b = colorsys.hsv_to_rgb(rng.uniform(*hue), rng.uniform(*saturation), rng.uniform(*value))
    return np.array([r, g, b]) * 255


def paint_person(
    image: np.ndarray, parts: dict[str, np.ndarray], rng: np.random.Generator
) -> np.ndarray:
    """Paint a person's parts (``person_parts``) onto ``image`` ``[H, W, 3]`` (in place):
    clothes, a darker shade on the limbs, skin, shoes, each drawn from ``rng``, with pixel
    noise; the joint dots darkened. Returns the person's pixels, bool ``[H, W]``."""
    clothes = _colour(rng, (0, 1), (0.7, 1.0), (0.7, 1.0))
    skin = _colour(rng, (0.03, 0.1), (0.25, 0.6), (0.45, 0.95))
    shades = {"body": clothes, "head": skin, "hands": skin, "limbs": clothes * 0.75,
              "feet": _colour(rng, (0, 1), (0, 0.4), (0.1, 0.3))}  # fmt: skip
    mask = np.zeros(image.shape[:2], bool)
    for name in ("body", "head", "hands", "feet", "limbs"):
        pixels = parts[name]
        noise = rng.integers(-10, 11, (pixels.sum(), 3))
        image[pixels] = np.clip(shades[name] + noise, 0, 255)
        mask |= pixels
    dots = parts["dots"] & mask
    image[dots] = image[dots] * 0.3
    return mask


def render_pose_image(rng: np.random.Generator) -> SyntheticPose:
    """One image (sides 160–320 px) with 0–3 people; see the module docstring."""
    height, width = (int(v) for v in rng.integers(160, 321, 2))
    image = background(rng, height, width)
    count = 0 if rng.uniform() < 0.05 else int(rng.choice([1, 2, 3], p=[0.5, 0.35, 0.15]))
    figures = []
    for slot in rng.permutation(count):  # side by side, in random depth order
        tall = rng.uniform(0.45, 0.95) * height
        cx = (slot + rng.uniform(0.1, 0.9)) / count * width
        cy = rng.uniform(0.4, 0.65) * height
        joints = figure_joints(rng, tall, cx, cy)
        mask = paint_person(image, person_parts(joints, tall, (height, width)), rng)
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
