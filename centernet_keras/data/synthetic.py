"""A synthetic shapes dataset in the real PASCAL VOC layout, for demos and tests.

``python -m centernet_keras.data.synthetic --out VOCdevkit --num-images 500 --seed 0`` writes
``VOCdevkit/VOC2007/{JPEGImages,Annotations,ImageSets/Main}``: JPEG images of varied,
non-square sizes with textured, noisy, low-saturation backgrounds and solid, saturated shapes
(:data:`SHAPE_CLASSES`, one distinct colour per instance), some overlapping (each object stays
at least 60 % visible), about 5 % of images without objects. Objects under 16 px are marked
``<difficult>1</difficult>``.

Boxes are the tight bounds of the visible pixels of each shape, written in pixel-edge
coordinates: ``xmin``/``ymin`` = first 0-based column/row of the shape, ``xmax``/``ymax`` =
last column/row + 1, so :func:`centernet_keras.data.voc.parse_voc_xml`, which reads
coordinates as written, gives the exact box.

Deterministic: image ``i`` is drawn from ``numpy.random.default_rng([seed, i])``, so the same
seed gives byte-identical files (with the same NumPy, OpenCV and Pillow builds).
"""

from __future__ import annotations

import argparse
import colorsys
import io
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

from centernet_keras.data.voc import split_stems, write_splits
from centernet_keras.io import atomic_path, atomic_write_text

SHAPE_CLASSES = ("circle", "square", "triangle", "star", "cross")
DIFFICULT_BELOW = 16  # px: objects whose box is smaller on its longer side are difficult
MIN_VISIBLE = 0.6  # later shapes may hide at most 40 % of an earlier one


@dataclass(frozen=True)
class SyntheticObject:
    """One drawn shape: class id, tight pixel-edge box ``(x1, y1, x2, y2)``, RGB colour."""

    cls: int
    box: tuple[int, int, int, int]
    colour: tuple[int, int, int]
    difficult: bool


@dataclass
class SyntheticImage:
    """A rendered image (``[H, W, 3]`` uint8 RGB), its objects, and its instance map.

    ``instance_map[y, x] = k`` where ``objects[k - 1]`` is visible, ``0`` on background.
    """

    image: np.ndarray
    objects: list[SyntheticObject]
    instance_map: np.ndarray


@dataclass
class GeneratedDataset:
    """What :func:`generate_voc` wrote."""

    voc_dir: Path
    splits: dict[str, list[str]]
    objects_per_class: dict[str, int]
    difficult_objects: int
    empty_images: int
    seconds: float


def background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Grey, low-saturation texture with noise: every channel spread stays below 60."""
    grey = rng.uniform(70, 185)
    cells = rng.integers(3, 12, size=2)
    coarse = rng.uniform(-35, 35, size=(cells[0], cells[1])).astype(np.float32)
    texture = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_LINEAR)
    tint = rng.uniform(-12, 12, size=3)
    noise = rng.integers(-14, 15, size=(height, width, 3), dtype=np.int16)
    image = (grey + texture)[..., None] + tint + noise
    return np.clip(image, 0, 255).astype(np.uint8)


def shape_colour(
    rng: np.random.Generator, used_hues: list[float], cls: int
) -> tuple[int, int, int]:
    """A saturated colour (channel spread ≥ 143) whose hue differs from those used.

    Each class draws its hue from its own band (a fifth of the colour wheel), so colour is a
    cue as well as shape: a small model learns the classes in minutes on a CPU (``make
    demo``); near the band edges the shape still has to decide.
    """
    band = 1.0 / len(SHAPE_CLASSES)
    for _ in range(50):
        hue = float((cls + rng.uniform(0, 1)) * band)
        if all(min(abs(hue - h), 1 - abs(hue - h)) >= 0.07 for h in used_hues):
            break
    used_hues.append(hue)
    r, g, b = colorsys.hsv_to_rgb(hue, rng.uniform(0.75, 1.0), rng.uniform(0.75, 1.0))
    return round(r * 255), round(g * 255), round(b * 255)


def _polygon(kind: str, rng: np.random.Generator) -> np.ndarray:
    """Unit-size outline ``[P, 2]`` of a shape, randomly rotated and stretched."""
    if kind == "square":
        angles = np.pi / 4 + np.arange(4) * np.pi / 2
        points = np.stack([np.cos(angles), np.sin(angles)], 1)
        spin = rng.uniform(-np.pi / 12, np.pi / 12)
    elif kind == "triangle":
        angles = -np.pi / 2 + np.arange(3) * 2 * np.pi / 3
        points = np.stack([np.cos(angles), np.sin(angles)], 1)
        spin = rng.uniform(-np.pi, np.pi)
    elif kind == "star":
        angles = -np.pi / 2 + np.arange(10) * np.pi / 5
        radii = np.where(np.arange(10) % 2 == 0, 1.0, rng.uniform(0.4, 0.5))
        points = np.stack([np.cos(angles), np.sin(angles)], 1) * radii[:, None]
        spin = rng.uniform(-np.pi, np.pi)
    elif kind == "cross":
        t = rng.uniform(0.3, 0.42)  # half arm thickness, in half-widths
        half = [(-t, -1), (t, -1), (t, -t), (1, -t), (1, t), (t, t)]
        points = np.array([*half, *(-np.array(half))], float)
        spin = rng.uniform(-np.pi / 12, np.pi / 12)
    else:
        raise ValueError(f"unknown shape {kind!r}")
    c, s = math.cos(spin), math.sin(spin)
    points = points @ np.array([[c, s], [-s, c]])
    if kind != "square":
        stretch = math.sqrt(rng.uniform(0.75, 1.33))
        points = points * [stretch, 1 / stretch]
    return points


def shape_mask(kind: str, size: float, rng: np.random.Generator) -> np.ndarray:
    """Boolean mask of one shape whose longer side is about ``size`` px."""
    if kind == "circle":
        side = round(size)
        canvas = Image.new("L", (side, side), 0)
        ImageDraw.Draw(canvas).ellipse([0, 0, side - 1, side - 1], fill=1)
        return np.asarray(canvas, bool)
    points = _polygon(kind, rng)
    points = points - points.min(0)
    points = points * ((size - 1) / points.max())
    width, height = (math.ceil(v) + 1 for v in points.max(0))
    canvas = Image.new("L", (width, height), 0)
    ImageDraw.Draw(canvas).polygon([tuple(p) for p in points], fill=1)
    return np.asarray(canvas, bool)


def render_image(
    rng: np.random.Generator,
    min_side: int = 160,
    max_side: int = 320,
    max_objects: int = 6,
    empty_fraction: float = 0.05,
) -> SyntheticImage:
    """Draw one synthetic image.

    Args:
        rng: the random source (the image is a pure function of its state).
        min_side, max_side: width and height are drawn independently from this range.
        max_objects: up to this many shapes (fewer when placement fails).
        empty_fraction: probability of an image without objects.

    Returns:
        The image, its objects (tight boxes of visible pixels), and the instance map.
    """
    height, width = (int(v) for v in rng.integers(min_side, max_side + 1, size=2))
    image = background(rng, height, width)
    instance_map = np.zeros((height, width), np.int16)
    placed: list[tuple[int, tuple[slice, slice], tuple[int, int, int]]] = []
    areas: list[int] = []  # pixels of each placed shape
    visible: list[int] = []  # of which still visible
    used_hues: list[float] = []
    count = 0 if rng.uniform() < empty_fraction else int(rng.integers(1, max_objects + 1))
    largest = min(width, height) / 2
    for _ in range(count):
        cls = int(rng.integers(len(SHAPE_CLASSES)))
        size = math.exp(rng.uniform(math.log(12), math.log(largest)))
        mask = shape_mask(SHAPE_CLASSES[cls], size, rng)
        mh, mw = mask.shape
        for _ in range(30):
            y0, x0 = int(rng.integers(0, height - mh + 1)), int(rng.integers(0, width - mw + 1))
            region = (slice(y0, y0 + mh), slice(x0, x0 + mw))
            under = instance_map[region][mask]
            hidden = np.bincount(under, minlength=len(placed) + 1)[1:]
            left = [v - h for v, h in zip(visible, hidden, strict=True)]
            if all(v >= MIN_VISIBLE * a for v, a in zip(left, areas, strict=True)):
                break
        else:
            continue
        visible = left
        colour = shape_colour(rng, used_hues, cls)
        instance_map[region][mask] = len(placed) + 1
        image[region][mask] = colour
        placed.append((cls, region, colour))
        areas.append(int(mask.sum()))
        visible.append(areas[-1])
    objects = []
    for k, (cls, region, colour) in enumerate(placed, 1):
        own = instance_map[region] == k
        rows, cols = np.flatnonzero(own.any(1)), np.flatnonzero(own.any(0))
        x1, y1 = region[1].start + cols[0], region[0].start + rows[0]
        x2, y2 = region[1].start + cols[-1] + 1, region[0].start + rows[-1] + 1
        tiny = max(x2 - x1, y2 - y1) < DIFFICULT_BELOW
        objects.append(SyntheticObject(cls, (int(x1), int(y1), int(x2), int(y2)), colour, tiny))
    return SyntheticImage(image, objects, instance_map)


def voc_xml(
    filename: str, width: int, height: int, objects: Sequence[SyntheticObject], folder: str
) -> str:
    """A VOC annotation XML document for one image (pixel-edge box coordinates)."""
    parts = [
        "<annotation>",
        f"\t<folder>{folder}</folder>",
        f"\t<filename>{filename}</filename>",
        "\t<source><database>centernet-keras synthetic shapes</database></source>",
        f"\t<size><width>{width}</width><height>{height}</height><depth>3</depth></size>",
        "\t<segmented>0</segmented>",
    ]
    for obj in objects:
        x1, y1, x2, y2 = obj.box
        parts += [
            "\t<object>",
            f"\t\t<name>{SHAPE_CLASSES[obj.cls]}</name>",
            "\t\t<pose>Unspecified</pose>",
            "\t\t<truncated>0</truncated>",
            f"\t\t<difficult>{int(obj.difficult)}</difficult>",
            f"\t\t<bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin>"
            f"<xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox>",
            "\t</object>",
        ]
    parts.append("</annotation>")
    return "\n".join(parts) + "\n"


def write_bytes(path: Path, data: bytes) -> None:
    """Write via a temporary file and rename (no fsync: a rerun regenerates the same file)."""
    with atomic_path(path, durable=False) as tmp:
        tmp.write_bytes(data)


def generate_voc(
    out: str | os.PathLike,
    num_images: int,
    seed: int = 0,
    year: str | int = 2007,
    trainval_percent: float = 0.9,
    train_percent: float = 0.9,
    overwrite: bool = False,
) -> GeneratedDataset:
    """Write a synthetic shapes dataset to ``<out>/VOC<year>``.

    Images are ``shapes_000000.jpg``…; the ImageSets split uses
    :func:`~centernet_keras.data.voc.split_stems` and is written last, so an interrupted run
    leaves no split files.

    Args:
        out: the ``VOCdevkit`` folder.
        num_images: number of images.
        seed: same seed → byte-identical files.
        year: the ``VOC<year>`` sub-folder.
        trainval_percent, train_percent: the split proportions.
        overwrite: allow writing into a non-empty ``VOC<year>`` (other files there are kept).

    Raises:
        FileExistsError: ``VOC<year>`` holds files and ``overwrite`` is false.
        ValueError: ``num_images`` < 1.
    """
    if num_images < 1:
        raise ValueError(f"num_images must be >= 1, got {num_images}")
    voc_dir = Path(out) / f"VOC{year}"
    if not overwrite and voc_dir.is_dir() and any(p.is_file() for p in voc_dir.rglob("*")):
        raise FileExistsError(f"{voc_dir} is not empty; choose another --out or pass --overwrite")
    image_dir, xml_dir = voc_dir / "JPEGImages", voc_dir / "Annotations"
    image_dir.mkdir(parents=True, exist_ok=True)
    xml_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    per_class = dict.fromkeys(SHAPE_CLASSES, 0)
    difficult = empty = 0
    stems = []
    for index in range(num_images):
        stem = f"shapes_{index:06d}"
        sample = render_image(np.random.default_rng([seed, index]))
        buffer = io.BytesIO()
        Image.fromarray(sample.image).save(buffer, format="JPEG", quality=92)
        write_bytes(image_dir / f"{stem}.jpg", buffer.getvalue())
        height, width = sample.image.shape[:2]
        xml = voc_xml(f"{stem}.jpg", width, height, sample.objects, voc_dir.name)
        write_bytes(xml_dir / f"{stem}.xml", xml.encode("utf-8"))
        for obj in sample.objects:
            per_class[SHAPE_CLASSES[obj.cls]] += 1
            difficult += obj.difficult
        empty += not sample.objects
        stems.append(stem)
    splits = split_stems(stems, trainval_percent, train_percent, seed)
    write_splits(voc_dir / "ImageSets" / "Main", splits)
    seconds = time.perf_counter() - start
    return GeneratedDataset(voc_dir, splits, per_class, difficult, empty, seconds)


def write_classes(path: str | os.PathLike) -> None:
    """Write :data:`SHAPE_CLASSES`, one a line (the ``model_data/shapes_classes.txt`` file)."""
    atomic_write_text(path, "".join(f"{name}\n" for name in SHAPE_CLASSES))


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: generate the dataset and print a summary."""
    parser = argparse.ArgumentParser(
        prog="python -m centernet_keras.data.synthetic",
        description="Write a synthetic shapes detection dataset in the PASCAL VOC layout.",
    )
    parser.add_argument(
        "--out", default="VOCdevkit", help="VOCdevkit folder (default: %(default)s)"
    )
    parser.add_argument("--num-images", type=int, default=500, help="images (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    parser.add_argument("--year", default="2007", help="writes VOC<year> (default: %(default)s)")
    parser.add_argument(
        "--trainval-percent", type=float, default=0.9, help="trainval share (default: %(default)s)"
    )
    parser.add_argument(
        "--train-percent",
        type=float,
        default=0.9,
        help="train share of trainval (default: %(default)s)",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="write into a non-empty VOC<year> folder"
    )
    args = parser.parse_args(argv)
    result = generate_voc(
        args.out,
        args.num_images,
        seed=args.seed,
        year=args.year,
        trainval_percent=args.trainval_percent,
        train_percent=args.train_percent,
        overwrite=args.overwrite,
    )
    print(f"Wrote {args.num_images} images to {result.voc_dir} in {result.seconds:.1f} s")
    print("splits: " + ", ".join(f"{k} {len(v)}" for k, v in result.splits.items()))
    print("objects: " + ", ".join(f"{k} {v}" for k, v in result.objects_per_class.items()))
    print(f"difficult (< {DIFFICULT_BELOW} px): {result.difficult_objects}; ", end="")
    print(f"images without objects: {result.empty_images}")
    print(f"classes: {', '.join(SHAPE_CLASSES)} (model_data/shapes_classes.txt)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
