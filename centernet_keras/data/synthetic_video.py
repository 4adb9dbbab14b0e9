"""A synthetic video of moving objects with known identities, for measuring trackers.

``python -m centernet_keras.data.synthetic_video --out DIR --frames 150 --kind shapes --seed 0``
writes ``DIR/<kind>.mp4`` (or with ``--as-frames`` the folder ``DIR/<kind>/000001.png`` …)
and ``DIR/<kind>_gt.txt``, the ground truth in the MOT16 format (``tracking.mot``): each
object's id, full box (hidden parts included) and visibility in every frame.

Drawn like the demo data, with its renderers: ``shapes``: 4–6 shapes of
``data.synthetic`` (classes of ``SHAPE_CLASSES``, 24–56 px, one saturated colour each) on
its textured background; ``people``: 2–4 figures of ``data.synthetic_pose`` (45–80 % of the
height) walking sideways. Every object moves at a constant velocity (1.5–3.5 px a frame) and
bounces off the borders; drawn in a fixed depth order, they cross and hide each other. Each
frame gets fresh pixel noise. Deterministic: the same ``seed`` gives the same frames.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from centernet_keras.data.synthetic import SHAPE_CLASSES, background, shape_colour, shape_mask
from centernet_keras.data.synthetic_pose import figure_joints, paint_person, person_parts
from centernet_keras.data.video_io import video_writer
from centernet_keras.detections import Detections
from centernet_keras.io import atomic_path
from centernet_keras.tracking.mot import ground_truth_line, write_lines

KINDS = ("shapes", "people")
#: The frame size (width, height) unless given: within the demo images' 160–320 px.
DEFAULT_SIZE = (320, 240)
FPS = 25.0


@dataclass
class _Mover:
    """One object: its class, its look (a mask and colour, or a figure's joints about its hip
    centre, its height and its colours' seed), where it is (float top-left / hip centre) and
    its velocity."""

    class_id: int
    position: np.ndarray
    velocity: np.ndarray
    mask: np.ndarray | None = None
    colour: tuple[int, int, int] = (0, 0, 0)
    joints: np.ndarray | None = None
    height: float = 0.0
    paint_seed: int = 0  # a figure's colours: the same every frame


@dataclass
class Frame:
    """One rendered frame: the RGB image ``[H, W, 3]`` uint8 and its ground truth
    ``(object id, box [x1, y1, x2, y2], class id, visibility)`` per object (ids from 1)."""

    image: np.ndarray
    objects: list[tuple[int, tuple[float, float, float, float], int, float]]


def _velocity(rng: np.random.Generator, sideways: bool) -> np.ndarray:
    speed = rng.uniform(1.5, 3.5)
    angle = rng.uniform(-0.15, 0.15) if sideways else rng.uniform(0, 2 * math.pi)
    sign = rng.choice([-1.0, 1.0]) if sideways else 1.0
    return np.array([sign * math.cos(angle), math.sin(angle)]) * speed


def _shapes(rng: np.random.Generator, width: int, height: int) -> list[_Mover]:
    movers, hues = [], []
    for _ in range(int(rng.integers(4, 7))):
        cls = int(rng.integers(len(SHAPE_CLASSES)))
        mask = shape_mask(SHAPE_CLASSES[cls], rng.uniform(24, 56), rng)
        limit = np.array([width - mask.shape[1], height - mask.shape[0]], float)
        movers.append(_Mover(cls, rng.uniform(0, 1, 2) * limit, _velocity(rng, False), mask,
                             shape_colour(rng, hues, cls)))  # fmt: skip
    return movers


def _people(rng: np.random.Generator, width: int, height: int) -> list[_Mover]:
    movers = []
    count = int(rng.integers(2, 5))
    for slot in range(count):
        tall = rng.uniform(0.45, 0.8) * height
        joints = figure_joints(rng, tall, 0.0, 0.0)  # about the hip centre
        hip = np.array([(slot + 0.5) / count * width, rng.uniform(0.45, 0.6) * height])
        seed = int(rng.integers(2**31))
        movers.append(
            _Mover(0, hip, _velocity(rng, True), joints=joints, height=tall, paint_seed=seed)
        )
    return movers


def _bounce(mover: _Mover, low: np.ndarray, high: np.ndarray) -> None:
    mover.position = mover.position + mover.velocity
    for axis in (0, 1):
        if not low[axis] <= mover.position[axis] <= high[axis]:
            mover.velocity[axis] *= -1
            mover.position[axis] = np.clip(mover.position[axis], low[axis], high[axis])


def render_frames(
    kind: str, frames: int, seed: int = 0, size: tuple[int, int] = DEFAULT_SIZE
) -> Iterator[Frame]:
    """The video's frames, one at a time (see the module docstring).

    Args:
        kind: ``"shapes"`` or ``"people"``.
        frames: how many.
        seed: the random source's seed.
        size: ``(width, height)`` of the frames.

    Raises:
        ValueError: an unknown ``kind``.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
    width, height = size
    rng = np.random.default_rng([seed, KINDS.index(kind)])
    scene = background(rng, height, width).astype(np.int16)
    movers = (_shapes if kind == "shapes" else _people)(rng, width, height)
    for _ in range(frames):
        image = np.clip(scene + rng.integers(-6, 7, scene.shape), 0, 255).astype(np.uint8)
        owner = np.zeros((height, width), np.int16)
        areas, boxes = [], []
        for k, mover in enumerate(movers, 1):  # back to front
            if mover.joints is None:
                x, y = (round(float(v)) for v in mover.position)
                mh, mw = mover.mask.shape
                region = (slice(y, y + mh), slice(x, x + mw))
                image[region][mover.mask] = mover.colour
                owner[region][mover.mask] = k
                areas.append(int(mover.mask.sum()))
                boxes.append((x, y, x + mw, y + mh))
            else:
                joints = mover.joints + mover.position
                parts = person_parts(joints, mover.height, (height, width))
                mask = paint_person(image, parts, np.random.default_rng(mover.paint_seed))
                owner[mask] = k
                rows, cols = np.nonzero(mask)
                areas.append(int(mask.sum()))
                boxes.append((cols.min(), rows.min(), cols.max() + 1, rows.max() + 1))
        shown = np.bincount(owner.ravel(), minlength=len(movers) + 1)[1:]
        objects = [
            (k, tuple(float(v) for v in box), mover.class_id, float(shown[k - 1]) / max(area, 1))
            for k, (mover, box, area) in enumerate(zip(movers, boxes, areas, strict=True), 1)
        ]
        yield Frame(image, objects)
        for mover in movers:
            if mover.joints is None:
                high = np.array([width - mover.mask.shape[1], height - mover.mask.shape[0]])
                _bounce(mover, np.zeros(2), high.astype(float))
            else:
                span = np.abs(mover.joints).max(axis=0)
                _bounce(mover, span, np.array([width, height]) - span - 1)


def noisy_detections(
    frame: Frame,
    rng: np.random.Generator,
    class_names: Sequence[str],
    jitter: float = 0.05,
    hidden: float = 0.3,
    false_positives: float = 0.5,
) -> Detections:
    """What an imperfect detector might return for a frame: its ground truth, with each box
    side moved by a normal ``jitter`` × the box's size; objects less than ``hidden`` visible
    missed; partly hidden ones (visible < 0.8) scored low (0.2–0.5, ByteTrack's second stage),
    the others 0.6–0.95; plus Poisson(``false_positives``) random low-score (0.1–0.45) boxes of
    random classes. A tracker's input without a model (tests, ``bench/track.py``).
    """
    height, width = frame.image.shape[:2]
    boxes, scores, classes = [], [], []
    for _, box, cls, visible in frame.objects:
        if visible < hidden:
            continue
        side = np.array([box[2] - box[0], box[3] - box[1]] * 2)
        boxes.append(np.asarray(box) + rng.normal(0, jitter, 4) * side)
        scores.append(rng.uniform(0.6, 0.95) if visible >= 0.8 else rng.uniform(0.2, 0.5))
        classes.append(cls)
    for _ in range(rng.poisson(false_positives)):
        w, h = rng.uniform(16, 48, 2)
        x, y = rng.uniform(0, width - w), rng.uniform(0, height - h)
        boxes.append(np.array([x, y, x + w, y + h]))
        scores.append(rng.uniform(0.1, 0.45))
        classes.append(int(rng.integers(len(class_names))))
    order = np.argsort(-np.asarray(scores), kind="stable")
    return Detections(
        boxes=np.array(boxes, np.float32).reshape(-1, 4)[order],
        scores=np.array(scores, np.float32)[order],
        class_ids=np.array(classes, np.int32)[order],
        class_names=[class_names[classes[i]] for i in order],
        image_size=(height, width),
    )


def write_video(
    out: str | os.PathLike,
    kind: str,
    frames: int,
    seed: int = 0,
    size: tuple[int, int] = DEFAULT_SIZE,
    as_frames: bool = False,
) -> tuple[Path, Path]:
    """Write the video (``<out>/<kind>.mp4``, or PNG frames in ``<out>/<kind>/``) and its
    ground truth ``<out>/<kind>_gt.txt``.

    Returns:
        ``(video file or frames folder, ground-truth file)``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    target = out / kind if as_frames else out / f"{kind}.mp4"
    lines = []
    with atomic_path(target) as tmp:
        if as_frames:
            tmp.mkdir()
        writer = None if as_frames else video_writer(tmp, FPS, size, target)
        for index, frame in enumerate(render_frames(kind, frames, seed, size), 1):
            bgr = cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR)
            if writer is None:
                cv2.imwrite(os.fspath(tmp / f"{index:06d}.png"), bgr)
            else:
                writer.write(bgr)
            lines += [ground_truth_line(index, *obj) for obj in frame.objects]
        if writer is not None:
            writer.release()
    truth = out / f"{kind}_gt.txt"
    write_lines(truth, lines)
    return target, truth


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: write the video and its ground truth, print where."""
    parser = argparse.ArgumentParser(
        prog="python -m centernet_keras.data.synthetic_video",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--frames", type=int, default=150, help="frames")
    parser.add_argument("--kind", choices=KINDS, default="shapes", help="what moves")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same video")
    parser.add_argument("--size", type=int, nargs=2, default=DEFAULT_SIZE, metavar=("W", "H"),
                        help="frame width and height")  # fmt: skip
    parser.add_argument("--as-frames", action="store_true", help="PNG frames, not an .mp4")
    args = parser.parse_args(argv)
    if args.frames < 1 or min(args.size) < 64:
        parser.error("--frames must be >= 1 and --size at least 64 x 64")
    video, truth = write_video(
        args.out, args.kind, args.frames, args.seed, tuple(args.size), args.as_frames
    )
    print(f"wrote {args.frames} frames to {video}, ground truth {truth}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
