"""Large images with small objects, to measure tiled inference (``--tile``).

``python -m centernet_keras.data.synthetic_tiles --out large --num-images 20 --seed 0``
writes ``large/images/large_000000.jpg``…, ``large/large_val.txt`` (annotation lines,
absolute image paths) and ``large/large_val_classes.txt`` (:data:`SHAPE_CLASSES`, the
classes the lines were written with, which ``centernet val`` compares with the model's).

Drawn with the demo data's renderers (``data.synthetic``: its textured background, shapes and
colours) at another scale: ``width x height`` images (default 2048 x 1536) holding
``min_objects``–``max_objects`` shapes of 8–32 px (log-uniform sizes), apart from each other
(none overlap). Boxes are the tight pixel-edge bounds of each shape, none marked difficult.
Deterministic: image ``i`` is drawn from ``numpy.random.default_rng([seed, i])``.
"""

from __future__ import annotations

import argparse
import io
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from centernet_keras.data.annotations import ImageRecord, write_annotation_file
from centernet_keras.data.synthetic import (
    SHAPE_CLASSES,
    background,
    shape_colour,
    shape_mask,
    write_bytes,
    write_classes,
)

#: The object sizes (longer side, px) drawn, log-uniform.
OBJECT_SIZES = (8.0, 32.0)


def render_large_image(
    rng: np.random.Generator,
    size: tuple[int, int] = (2048, 1536),
    objects: tuple[int, int] = (10, 40),
    object_sizes: tuple[float, float] = OBJECT_SIZES,
) -> tuple[np.ndarray, ImageRecord]:
    """One large image and its objects.

    Args:
        rng: the random source (the image is a pure function of its state).
        size: ``(width, height)``.
        objects: the fewest and most shapes placed (fewer when placement fails).
        object_sizes: the smallest and largest longer side of a shape, px.

    Returns:
        ``([H, W, 3]`` uint8 RGB, the record (no path) with the tight boxes and class ids).
    """
    width, height = size
    image = background(rng, height, width)
    taken = np.zeros((height, width), bool)
    boxes, classes = [], []
    low, high = (math.log(v) for v in object_sizes)
    for _ in range(int(rng.integers(objects[0], objects[1] + 1))):
        cls = int(rng.integers(len(SHAPE_CLASSES)))
        mask = shape_mask(SHAPE_CLASSES[cls], math.exp(rng.uniform(low, high)), rng)
        mh, mw = mask.shape
        for _ in range(30):
            y0, x0 = int(rng.integers(0, height - mh + 1)), int(rng.integers(0, width - mw + 1))
            region = (slice(max(y0 - 4, 0), y0 + mh + 4), slice(max(x0 - 4, 0), x0 + mw + 4))
            if not taken[region].any():  # 4 px apart from the others
                break
        else:
            continue
        taken[region] = True
        colour = shape_colour(rng, [], cls)  # any hue of the class's band: objects are apart
        image[y0 : y0 + mh, x0 : x0 + mw][mask] = colour
        rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
        boxes.append([x0 + cols[0], y0 + rows[0], x0 + cols[-1] + 1, y0 + rows[-1] + 1])
        classes.append(cls)
    return image, ImageRecord("", boxes, classes, width=width, height=height)


def generate(
    out: str | os.PathLike,
    num_images: int,
    seed: int = 0,
    size: tuple[int, int] = (2048, 1536),
    objects: tuple[int, int] = (10, 40),
) -> Path:
    """Write the set (see the module docstring); returns the annotation file.

    Raises:
        ValueError: ``num_images`` < 1.
    """
    if num_images < 1:
        raise ValueError(f"num_images must be >= 1, got {num_images}")
    folder = Path(out).resolve()
    (folder / "images").mkdir(parents=True, exist_ok=True)
    records = []
    for index in range(num_images):
        image, record = render_large_image(np.random.default_rng([seed, index]), size, objects)
        record.path = str(folder / "images" / f"large_{index:06d}.jpg")
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=92)
        write_bytes(Path(record.path), buffer.getvalue())
        records.append(record)
    lines = folder / "large_val.txt"
    write_annotation_file(lines, records)
    write_classes(folder / "large_val_classes.txt")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: write the set and say where."""
    parser = argparse.ArgumentParser(
        prog="python -m centernet_keras.data.synthetic_tiles",
        description="Write large synthetic images with small shapes (annotation lines).",
    )
    parser.add_argument("--out", default="large", help="output folder (default: %(default)s)")
    parser.add_argument("--num-images", type=int, default=20, help="images (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    parser.add_argument("--width", type=int, default=2048, help="(default: %(default)s)")
    parser.add_argument("--height", type=int, default=1536, help="(default: %(default)s)")
    args = parser.parse_args(argv)
    lines = generate(args.out, args.num_images, args.seed, (args.width, args.height))
    print(f"wrote {args.num_images} images and {lines} (classes: {lines.stem}_classes.txt)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
