"""Training-pipeline throughput: images/s at 512 with full augmentation and targets.

Measures ``make_dataset(training=True)`` over a folder of JPEGs (VOC-like sizes, 1–8 boxes)
with one tf.data thread and with all cores, and — in the same run — a peer: the NumPy/PIL
generator of the Keras CenterNet ports (random scale + aspect jitter on a gray canvas, flip,
HSV jitter, gaussians drawn per box in Python), single process. Prints one JSON line.

With ``--annotation-file`` it runs on your data instead (annotation lines as written by
``voc_annotation.py``, read by the same reader as training); bad lines and missing images are
reported on stderr and left out.

    python bench/pipeline.py                  # 200 synthetic images, 512x512
    python bench/pipeline.py --images 400 --size 384
    python bench/pipeline.py --annotation-file 2007_train.txt --images 500
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2
import numpy as np
import tensorflow as tf
from PIL import Image

from centernet_keras.data.annotations import ImageRecord, read_annotation_file
from centernet_keras.data.pipeline import PipelineConfig, make_dataset
from centernet_keras.targets import draw_gaussian, encode_targets, gaussian_radius

BATCH = 8


def write_jpegs(folder: Path, n: int, rng: np.random.Generator) -> list[ImageRecord]:
    records = []
    for i in range(n):
        h, w = int(rng.integers(300, 500)), int(rng.integers(350, 500))
        image = cv2.GaussianBlur(rng.integers(0, 255, (h, w, 3), np.uint8), (7, 7), 0)
        k = int(rng.integers(1, 9))
        x1, y1 = rng.uniform(0, w - 40, k), rng.uniform(0, h - 40, k)
        boxes = np.stack(
            [x1, y1, x1 + rng.uniform(20, w / 2, k), y1 + rng.uniform(20, h / 2, k)], 1
        )
        boxes = np.minimum(boxes, [w, h, w, h])
        path = folder / f"{i:05d}.jpg"
        cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        records.append(ImageRecord(str(path), boxes, rng.integers(0, 20, k)))
    return records


def read_records(path: str, root: str | None, limit: int | None) -> tuple[list[ImageRecord], int]:
    """The first ``limit`` usable records of an annotation file (problems go to stderr), and
    the class count they need (largest class id + 1).

    Raises:
        SystemExit: no usable record.
    """
    records, problems = read_annotation_file(path, root)
    missing = [r for r in records if not os.path.isfile(r.path)]
    records = [r for r in records if os.path.isfile(r.path)][:limit]
    for message in problems:
        print(f"skipped line: {message}", file=sys.stderr)
    for record in missing[:10]:
        print(f"skipped missing image: {record.path}", file=sys.stderr)
    if len(missing) > 10:
        print(f"... and {len(missing) - 10} more missing images", file=sys.stderr)
    if len(records) < BATCH:
        raise SystemExit(
            f"error: {len(records)} usable annotation line(s) with an existing image in {path}; "
            f"the bench needs at least one batch ({BATCH})"
        )
    ids = np.concatenate([r.classes for r in records])
    return records, int(ids.max()) + 1 if ids.size else 1


def tf_throughput(
    records, size: int, threads: int | None, batches: int, num_classes: int = 20
) -> float:
    config = PipelineConfig((size, size), batch_size=BATCH)

    def encode(boxes, classes, image_hw):  # CenterNet's targets (CenterNet.target_encoder)
        return encode_targets(boxes, classes, image_hw, num_classes, config.max_objects)

    data = make_dataset(records, config, training=True, encoder=encode).repeat()
    if threads:
        options = tf.data.Options()
        options.threading.private_threadpool_size = threads
        data = data.with_options(options)
    it = iter(data)
    for _ in range(3):  # warm-up (graph building, thread pools)
        next(it)
    start = time.perf_counter()
    for _ in range(batches):
        next(it)
    return batches * BATCH / (time.perf_counter() - start)


def ports_generator(records, size: int, num_classes: int = 20, rng=None):
    """The familiar NumPy generator: PIL resize/paste, cv2 HSV, per-box gaussians."""
    rng = rng or np.random.default_rng(0)
    out = size // 4
    while True:
        for r in records:
            image = Image.open(r.path).convert("RGB")
            iw, ih = image.size
            ar = iw / ih * rng.uniform(0.7, 1.3) / rng.uniform(0.7, 1.3)
            scale = rng.uniform(0.25, 2)
            nh, nw = (
                (int(scale * size), int(scale * size * ar))
                if ar < 1
                else (int(scale * size / ar), int(scale * size))
            )
            image = image.resize((max(nw, 1), max(nh, 1)), Image.BICUBIC)
            dx, dy = int(rng.random() * (size - nw)), int(rng.random() * (size - nh))
            canvas = Image.new("RGB", (size, size), (128, 128, 128))
            canvas.paste(image, (dx, dy))
            data = np.asarray(canvas)
            if rng.uniform() < 0.5:
                data = data[:, ::-1]
            hsv = cv2.cvtColor(np.ascontiguousarray(data), cv2.COLOR_RGB2HSV).astype(np.float32)
            hsv[..., 0] = (hsv[..., 0] + rng.uniform(-0.1, 0.1) * 180) % 180
            hsv[..., 1:] *= rng.uniform(2 / 3, 1.5, 2)
            data = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB)
            heatmap = np.zeros((out, out, num_classes), np.float32)
            boxes = r.boxes * [nw / iw, nh / ih, nw / iw, nh / ih] + [dx, dy, dx, dy]
            boxes = np.clip(boxes / 4, 0, out - 1)
            for box, cls in zip(boxes, r.classes, strict=True):
                bw, bh = box[2] - box[0], box[3] - box[1]
                if bw > 0 and bh > 0:
                    radius = max(0, int(gaussian_radius(np.ceil(bh), np.ceil(bw))))
                    centre = ((box[:2] + box[2:]) / 2).astype(int)
                    hm = np.ascontiguousarray(heatmap[..., cls])
                    heatmap[..., cls] = draw_gaussian(hm, centre, radius)
            yield data.astype(np.float32), heatmap


def peer_throughput(records, size: int, images: int, num_classes: int = 20) -> float:
    gen = ports_generator(records, size, num_classes)
    for _ in range(5):
        next(gen)
    start = time.perf_counter()
    for _ in range(images):
        next(gen)
    return images / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument(
        "--annotation-file",
        help="your annotation lines ('path x1,y1,x2,y2,cls ...'); default: synthetic JPEGs",
    )
    parser.add_argument(
        "--root", help="folder that relative image paths of --annotation-file start from"
    )
    parser.add_argument(
        "--num-classes",
        type=int,
        help="classes of --annotation-file (default: its largest class id + 1)",
    )
    parser.add_argument(
        "--images",
        type=int,
        help="synthetic JPEGs written to a temp folder (default 200), or the first N lines "
        "of --annotation-file (default all)",
    )
    parser.add_argument("--size", type=int, default=512, help="square network input (px)")
    parser.add_argument("--batches", type=int, default=40, help="timed batches of 8")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        if args.annotation_file:
            records, needed = read_records(args.annotation_file, args.root, args.images)
            if args.num_classes is not None and args.num_classes < needed:
                parser.error(
                    f"--num-classes {args.num_classes}: the file has class id {needed - 1}"
                )
            num_classes = args.num_classes or needed
        else:
            records, num_classes = write_jpegs(Path(tmp), args.images or 200, rng), 20
        one = tf_throughput(records, args.size, 1, args.batches, num_classes)
        total = tf_throughput(records, args.size, None, args.batches, num_classes)
        peer = peer_throughput(records, args.size, args.batches * BATCH, num_classes)
    cores = os.cpu_count()
    print(json.dumps({
        "bench": "pipeline", "size": args.size, "images": len(records),
        "source": args.annotation_file or "synthetic", "num_classes": num_classes,
        "tf_data_1_thread_img_s": round(one, 1),
        "tf_data_all_cores_img_s": round(total, 1),
        "tf_data_per_core_img_s": round(total / cores, 1),
        "ports_numpy_1_process_img_s": round(peer, 1),
        "ratio_1_thread_vs_ports": round(one / peer, 2),
        "ratio_all_cores_vs_ports": round(total / peer, 2),
        "cpu_count": cores, "tensorflow": tf.__version__,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
