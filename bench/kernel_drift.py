"""How far outputs move between TensorFlow's two CPU kernel families (oneDNN and Eigen).

Runs itself twice, with ``TF_ENABLE_ONEDNN_OPTS=0`` (Eigen) and ``=1`` (oneDNN), on the same
inputs and weights: the saved legacy models of ``tests/data/legacy`` (raw head outputs) and
seeded FCOS-RegNetX / CenterNet-ResNet-18 / pose-DLA-34 networks at 128 px (head outputs, and
the gradient of a sum-of-squares loss for FCOS: its grouped convs take the per-group backward
on Eigen). Prints one JSON line per output: the largest absolute difference, the output's
largest magnitude, and their ratio — the figure ``tests/helpers.py KERNEL_DRIFT`` is set from.

    python bench/kernel_drift.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _child(out: str) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import numpy as np
    import tensorflow as tf

    from centernet_keras.cpu_kernels import kernel_family
    from centernet_keras.models import build_centernet
    from centernet_keras.models.fcos import build_fcos
    from centernet_keras.models.pose import build_centernet_pose

    results: dict[str, np.ndarray] = {}
    image = np.random.default_rng(0).uniform(0, 255, (2, 64, 96, 3)).astype("float32")
    for name in ("mobilenetv3_small_fpn", "resnet18"):
        model = keras.saving.load_model(ROOT / "tests/data/legacy" / f"{name}.keras")
        for key, value in model(image, training=False).items():
            results[f"legacy {name}/{key}"] = keras.ops.convert_to_numpy(value)
    image = np.random.default_rng(1).uniform(0, 255, (2, 128, 128, 3)).astype("float32")
    builders = {
        "fcos regnetx_400mf": lambda: build_fcos(3, "regnetx_400mf", (128, 128, 3)),
        "centernet resnet18": lambda: build_centernet(3, "resnet18", (128, 128, 3)),
        "pose dla34": lambda: build_centernet_pose(backbone="dla34", input_shape=(128, 128, 3)),
    }
    for label, build in builders.items():
        keras.utils.set_random_seed(0)
        model = build()
        with tf.GradientTape() as tape:
            outputs = model(image, training=False)
            loss = sum(tf.reduce_sum(tf.square(v)) for v in tf.nest.flatten(outputs))
        for key, value in outputs.items():
            results[f"{label}/{key}"] = keras.ops.convert_to_numpy(value)
        if label.startswith("fcos"):
            grads = tape.gradient(loss, model.backbone.trainable_variables)
            results[f"{label}/backbone gradient"] = np.concatenate(
                [np.ravel(g.numpy()) for g in grads]
            )
    np.savez(out, family=kernel_family(), **results)


def main() -> None:
    import numpy as np

    with tempfile.TemporaryDirectory() as tmp:
        runs = {}
        for flag in ("0", "1"):
            out = str(Path(tmp) / f"{flag}.npz")
            env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": flag, "PYTHONPATH": str(ROOT)}
            subprocess.run([sys.executable, __file__, "--child", out], env=env, check=True)
            runs[flag] = dict(np.load(out))
    eigen, onednn = runs["0"], runs["1"]
    print(json.dumps({"TF_ENABLE_ONEDNN_OPTS=0": str(eigen.pop("family"))}))
    print(json.dumps({"TF_ENABLE_ONEDNN_OPTS=1": str(onednn.pop("family"))}))
    for key, a in eigen.items():
        b = onednn[key]
        diff = float(np.abs(a - b).max())
        scale = float(np.abs(b).max())
        print(
            json.dumps(
                {"output": key, "max_abs_diff": diff, "max_abs": scale, "ratio": diff / scale}
            )
        )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        _child(sys.argv[2])
    else:
        main()
