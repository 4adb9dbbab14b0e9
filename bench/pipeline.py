"""Training-pipeline throughput: images/s at 512 with full augmentation and targets.

Measures ``make_dataset(training=True)`` over a folder of JPEGs (VOC-like sizes, 1–8 boxes)
with one tf.data thread and with all cores, and — in the same run — a peer: the NumPy/PIL
generator of the Keras CenterNet ports (random scale + aspect jitter on a gray canvas, flip,
HSV jitter, gaussians drawn per box in Python), single process. Prints one JSON line.

    python bench/pipeline.py                  # 200 images, 512x512
    python bench/pipeline.py --images 400 --size 384
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2
import numpy as np
import tensorflow as tf
from PIL import Image

from centernet_keras.data.annotations import ImageRecord
from centernet_keras.data.pipeline import PipelineConfig, make_dataset
from centernet_keras.targets import draw_gaussian, gaussian_radius


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


def tf_throughput(records, size: int, threads: int | None, batches: int) -> float:
    config = PipelineConfig((size, size), 20, batch_size=8)
    data = make_dataset(records, config, training=True).repeat()
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
    return batches * 8 / (time.perf_counter() - start)


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


def peer_throughput(records, size: int, images: int) -> float:
    gen = ports_generator(records, size)
    for _ in range(5):
        next(gen)
    start = time.perf_counter()
    for _ in range(images):
        next(gen)
    return images / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200, help="JPEGs written to a temp folder")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--batches", type=int, default=40, help="timed batches of 8")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        records = write_jpegs(Path(tmp), args.images, rng)
        one = tf_throughput(records, args.size, 1, args.batches)
        total = tf_throughput(records, args.size, None, args.batches)
        peer = peer_throughput(records, args.size, args.batches * 8)
    cores = os.cpu_count()
    print(json.dumps({
        "bench": "pipeline", "size": args.size, "images": args.images,
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
