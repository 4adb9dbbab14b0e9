"""Seconds per training step (``model.train_on_batch``, traced once) on this machine.

Default cases: ResNet50 @512 batch 2 and ResNet18 @256 batch 8 (random images, real
``encode_targets`` targets). Prints one JSON line per case.

    python bench/train_step.py
    python bench/train_step.py --cases resnet18:256:8 --steps 20
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf

from centernet_keras.models import build_centernet
from centernet_keras.targets import encode_targets


def batch_of(size: int, batch: int, num_classes: int, rng: np.random.Generator):
    images = rng.uniform(0, 255, (batch, size, size, 3)).astype("float32")
    targets = []
    for _ in range(batch):
        xy = rng.uniform(0, size * 0.6, (6, 2))
        boxes = np.concatenate([xy, xy + rng.uniform(16, size * 0.4, (6, 2))], 1)
        targets.append(
            encode_targets(boxes, rng.integers(0, num_classes, 6), (size, size), num_classes)
        )
    return images, {k: tf.stack([t[k] for t in targets]) for k in targets[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cases", default="resnet50:512:2,resnet18:256:8", help="backbone:size:batch,..."
    )
    parser.add_argument("--steps", type=int, default=10, help="timed steps per case")
    parser.add_argument("--num-classes", type=int, default=20)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    for case in args.cases.split(","):
        backbone, size, batch = case.split(":")
        size, batch = int(size), int(batch)
        model = build_centernet(args.num_classes, backbone, (size, size, 3))
        model.compile(optimizer=keras.optimizers.Adam(1e-4))
        x, y = batch_of(size, batch, args.num_classes, rng)
        start = time.perf_counter()
        model.train_on_batch(x, y)  # traces the train function
        first = time.perf_counter() - start
        model.train_on_batch(x, y)
        times = []
        for _ in range(args.steps):
            start = time.perf_counter()
            model.train_on_batch(x, y)
            times.append(time.perf_counter() - start)
        print(json.dumps({
            "bench": "train_step", "backbone": backbone, "size": size, "batch": batch,
            "s_per_step": round(statistics.median(times), 3),
            "ms_per_image": round(1000 * statistics.median(times) / batch, 1),
            "first_step_s": round(first, 1), "steps": args.steps,
            "params": model.count_params(), "cpu_count": os.cpu_count(),
            "tensorflow": tf.__version__, "keras": keras.__version__,
        }))  # fmt: skip


if __name__ == "__main__":
    main()
