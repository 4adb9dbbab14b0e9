"""Write tiny .keras files with the code of commit 11c0975 (before necks left the backbones).

Run from a checkout of that commit: ``PYTHONPATH=. python make_legacy.py OUT_DIR``. Weights are
a periodic pattern (deterministic; compresses to a few kB), the outputs of the saved models on
``default_rng(0).uniform(0, 255, (2, 64, 96, 3))`` go to ``outputs.npz``; the .keras zips were
re-deflated afterwards (Keras stores them uncompressed).
"""

import subprocess
import sys
import zipfile

import keras
import numpy as np

from centernet_keras.models import build_centernet

out = sys.argv[1]
rng = np.random.default_rng(0)
image = rng.uniform(0, 255, (2, 64, 96, 3)).astype("float32")
arrays = {}
for name in ["mobilenetv3_small_fpn", "resnet18"]:
    model = build_centernet(2, name, (None, None, 3), class_names=("cat", "dog"), head_channels=8)
    for k, v in enumerate(model.weights):
        n = int(np.prod(v.shape))
        base = v.path.rsplit("/", 1)[-1]
        if base in ("moving_variance", "gamma"):
            value = np.ones(n)
        elif base in ("moving_mean", "beta", "bias"):
            value = 0.01 * ((np.arange(n) + k) % 3 - 1)
        else:
            fan_in = n // v.shape[-1]
            value = ((np.arange(n) * 7 + k) % 5 - 2) / (4.0 * np.sqrt(fan_in))
        v.assign(value.reshape(v.shape).astype("float32"))
    model.save(f"{out}/{name}.keras")
    for key, value in model(image, training=False).items():
        arrays[f"{name}/{key}"] = keras.ops.convert_to_numpy(value)
np.savez_compressed(f"{out}/outputs.npz", **arrays)
for name in ["mobilenetv3_small_fpn", "resnet18"]:
    path = f"{out}/{name}.keras"
    with zipfile.ZipFile(path) as z:
        items = [(i.filename, z.read(i.filename)) for i in z.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for filename, data in items:
            z.writestr(filename, data)
commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
print(commit)
