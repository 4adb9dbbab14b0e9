"""Models saved by earlier versions (tests/data/legacy, commit 11c0975) load and predict as then.

Those files hold single-output backbones with the neck inside and the decoder settings as model
attributes; the current code maps them (``neck=None``, a ``CenterNetDecoder`` from the old
keys, the former ``resnet*`` NMS default) without changing a number.
"""

import keras
import numpy as np
import pytest
from helpers import KERNEL_DRIFT, ROOT

from centernet_keras.inference import Predictor

LEGACY = ROOT / "tests" / "data" / "legacy"
IMAGE = np.random.default_rng(0).uniform(0, 255, (2, 64, 96, 3)).astype("float32")
pytestmark = pytest.mark.kernels
NAMES = {"mobilenetv3_small_fpn": None, "resnet18": 0.5}  # file → its NMS IoU as then applied


def _assert_outputs(model, name: str) -> None:
    with np.load(LEGACY / "outputs.npz") as saved:
        for key, value in model(IMAGE, training=False).items():
            want = saved[f"{name}/{key}"]
            got = keras.ops.convert_to_numpy(value)
            # saved with oneDNN kernels: other kernel families differ by KERNEL_DRIFT of the max
            np.testing.assert_allclose(got, want, rtol=0, atol=KERNEL_DRIFT * np.abs(want).max())


@pytest.mark.parametrize("name", sorted(NAMES))
def test_legacy_file_loads_with_its_outputs_and_decoder(name, tmp_path):
    model = keras.saving.load_model(LEGACY / f"{name}.keras", safe_mode=True)
    assert model.class_names == ("cat", "dog") and model.neck is None
    assert model.decoder.iou_threshold == NAMES[name]
    assert (model.decoder.max_detections, model.decoder.score_threshold) == (100, 0.0)
    _assert_outputs(model, name)
    model.save(tmp_path / "again.keras")  # saved by this version: still the same model
    again = keras.saving.load_model(tmp_path / "again.keras", safe_mode=True)
    assert again.decoder.get_config() == model.decoder.get_config() and again.neck is None
    _assert_outputs(again, name)


def test_legacy_file_predicts(rng):
    predictor = Predictor.from_checkpoint(LEGACY / "resnet18.keras", score_threshold=0)
    assert predictor.iou_threshold == 0.5  # the NMS it was evaluated with then
    decoded = predictor.model.predict(IMAGE, verbose=0)  # the model's own decoder
    assert decoded["boxes"].shape == (2, 100, 4) and np.all(decoded["num_detections"] > 0)
    detections = predictor(rng.integers(0, 256, (50, 70, 3)).astype(np.uint8))
    assert len(detections.boxes) > 0 and set(detections.class_names) <= {"cat", "dog"}
    assert np.all((detections.boxes >= 0) & (detections.boxes <= [70, 50, 70, 50]))
