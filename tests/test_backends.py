"""The model, loss and decoder give the same numbers under Keras's torch backend as under TF.

The TF side runs in this process; the torch side in a subprocess with KERAS_BACKEND=torch,
loading the same ``.keras`` file (so this also checks cross-backend loading).
"""

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from centernet_keras.losses import centernet_loss
from centernet_keras.models import build_centernet
from centernet_keras.targets import encode_targets

TORCH_SIDE = textwrap.dedent(
    """
    import sys
    import keras
    import numpy as np
    assert keras.backend.backend() == "torch", keras.backend.backend()
    import centernet_keras.models  # registers the custom objects
    from centernet_keras.losses import centernet_loss

    for name in sys.argv[1:]:
        d = dict(np.load(name + ".in.npz"))
        model = keras.saving.load_model(name + ".keras", safe_mode=True)
        out = {k: keras.ops.convert_to_numpy(v) for k, v in model(d["images"]).items()}
        targets = {k[2:]: d[k] for k in d if k.startswith("t_")}
        tf_out = {k[3:]: d[k] for k in d if k.startswith("tf_")}
        own = centernet_loss(targets, out)
        same = centernet_loss(targets, tf_out)
        probe = {k[6:]: d[k] for k in d if k.startswith("probe_")}
        det = model.decoder(model.activate(probe))
        res = {"out_" + k: v for k, v in out.items()}
        res.update({"own_" + k: keras.ops.convert_to_numpy(v) for k, v in own.items()})
        res.update({"same_" + k: keras.ops.convert_to_numpy(v) for k, v in same.items()})
        res.update({"det_" + k: keras.ops.convert_to_numpy(v) for k, v in det.items()})
        np.savez(name + ".out.npz", **res)
    """
)

CONFIGS = {
    "resnet18": {"backbone": "resnet18", "neck_filters": (32, 32, 32), "head_channels": 16},
    "mobilenetv3_small": {"backbone": "mobilenetv3_small", "iou_threshold": 0.5},
    "dla34": {"backbone": "dla34", "head_channels": 32},
    "dla34_plain": {"backbone": "dla34_plain", "head_channels": 32},
}


def _prepare(name: str, config: dict, tmp_path) -> dict:
    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    model = build_centernet(3, input_shape=(64, 96, 3), **config)
    images = rng.uniform(0, 255, (2, 64, 96, 3)).astype("float32")
    boxes = np.array([[[4, 6, 40, 50], [50, 10, 90, 30]], [[10, 10, 20, 60], [0, 0, 0, 0]]])
    classes = np.array([[0, 2], [1, -1]])
    per_image = [
        encode_targets(b, c, (64, 96), 3, max_objects=4)
        for b, c in zip(boxes, classes, strict=True)
    ]
    targets = {k: np.stack([np.asarray(t[k]) for t in per_image]) for k in per_image[0]}
    out = {k: np.asarray(v) for k, v in model(images, training=False).items()}
    model.save(tmp_path / f"{name}.keras")
    arrays = {"images": images}
    arrays.update({"t_" + k: v for k, v in targets.items()})
    arrays.update({"tf_" + k: v for k, v in out.items()})
    # Decode input without ties (a random-init model has pixels where all classes are equal,
    # and top-k orders ties differently on each backend).
    probe = {
        "heatmap": rng.normal(-2.0, 2.0, out["heatmap"].shape).astype("float32"),
        "size": rng.uniform(1, 10, out["size"].shape).astype("float32"),
        "offset": rng.uniform(0, 1, out["offset"].shape).astype("float32"),
    }
    arrays.update({"probe_" + k: v for k, v in probe.items()})
    np.savez(tmp_path / f"{name}.in.npz", **arrays)
    loss = {k: float(v) for k, v in centernet_loss(targets, out).items()}
    det = {k: np.asarray(v) for k, v in model.decoder(model.activate(probe)).items()}
    return {"out": out, "loss": loss, "det": det}


@pytest.mark.slow
def test_torch_backend_matches_tensorflow(tmp_path):
    expected = {name: _prepare(name, cfg, tmp_path) for name, cfg in CONFIGS.items()}
    env = {**os.environ, "KERAS_BACKEND": "torch", "CUDA_VISIBLE_DEVICES": ""}
    subprocess.run(
        [sys.executable, "-c", TORCH_SIDE, *(str(tmp_path / n) for n in CONFIGS)],
        env=env,
        check=True,
        timeout=600,
    )
    for name, exp in expected.items():
        got = dict(np.load(tmp_path / f"{name}.out.npz"))
        for k, v in exp["out"].items():
            np.testing.assert_allclose(got["out_" + k], v, atol=1e-4, err_msg=f"{name} {k}")
        for k, v in exp["loss"].items():
            np.testing.assert_allclose(got["own_" + k], v, rtol=1e-4, err_msg=f"{name} {k}")
            np.testing.assert_allclose(got["same_" + k], v, rtol=1e-5, err_msg=f"{name} {k}")
        np.testing.assert_array_equal(got["det_classes"], exp["det"]["classes"])
        np.testing.assert_array_equal(got["det_num_detections"], exp["det"]["num_detections"])
        np.testing.assert_allclose(got["det_scores"], exp["det"]["scores"], atol=1e-6)
        np.testing.assert_allclose(got["det_boxes"], exp["det"]["boxes"], atol=1e-4)
