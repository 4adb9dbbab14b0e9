"""Export round trips: every format loads back, takes uint8 images, and matches the model."""

from pathlib import Path

import numpy as np
import pytest

from centernet_keras.export import DETECTION_KEYS, RAW_KEYS, export_model, load_exported
from centernet_keras.models import build_centernet

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {"score_threshold": 0.15, "max_detections": 20, "iou_threshold": 0.5}


@pytest.fixture(scope="module")
def model():
    """A tiny CenterNet with positive sizes and spread-out scores, so it makes real boxes."""
    model = build_centernet(
        3,
        backbone="resnet18",
        input_shape=(64, 64, 3),
        neck_filters=(32, 32, 32),
        head_channels=16,
        class_names=["cat", "dog", "car"],
    )
    size = model.get_layer("size")
    size.kernel.assign(size.kernel * 0.01)
    size.bias.assign(np.array([3.0, 5.0], np.float32))
    heat = model.get_layer("heatmap")
    heat.kernel.assign(heat.kernel * 100.0)  # logits spread ~N(0, 1)
    heat.bias.assign(np.zeros(3, np.float32))
    return model


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).integers(0, 256, (2, 64, 64, 3)).astype(np.uint8)


@pytest.fixture(scope="module")
def expected(model, images):
    """The Keras model's raw maps and its decode with the export settings."""
    raw = {k: np.asarray(v) for k, v in model(images.astype(np.float32), training=False).items()}
    decoder = model.decoder.replace(**SETTINGS)
    decoded = {k: np.asarray(v) for k, v in decoder(model.activate(raw)).items()}
    assert decoded["num_detections"].min() >= 3  # the comparison has something to compare
    return {**raw, **decoded}


def assert_same_detections(got: dict, want: dict) -> None:
    """Same count per image; each detection found with the same class, score and box."""
    np.testing.assert_array_equal(got["num_detections"], want["num_detections"])
    for b, n in enumerate(want["num_detections"]):
        assert np.all(got["classes"][b, n:] == -1)
        for i in range(n):
            match = (
                (got["classes"][b, :n] == want["classes"][b, i])
                & (np.abs(got["scores"][b, :n] - want["scores"][b, i]) < 1e-5)
                & np.all(np.abs(got["boxes"][b, :n] - want["boxes"][b, i]) < 1e-3, axis=-1)
            )
            assert match.any(), f"image {b}: detection {i} not found"


def check_round_trip(path, images, expected) -> None:
    out = load_exported(path)(images)
    assert set(out) == {*DETECTION_KEYS, *RAW_KEYS}
    for key in RAW_KEYS:
        np.testing.assert_allclose(out[key], expected[key], rtol=0, atol=1e-4, err_msg=key)
    assert out["boxes"].dtype == np.float32 and out["num_detections"].dtype == np.int32
    assert_same_detections(out, expected)
    one = load_exported(path)(images[:1])  # the batch size is dynamic
    np.testing.assert_array_equal(one["num_detections"], expected["num_detections"][:1])


@pytest.mark.slow
def test_keras_round_trip(model, images, expected, tmp_path) -> None:
    before = model.decoder.get_config()
    path = export_model(model, tmp_path / "m.keras", "keras", **SETTINGS)
    check_round_trip(path, images, expected)
    assert model.decoder.get_config() == before  # the model itself is not changed


@pytest.mark.slow
def test_saved_model_round_trip(model, images, expected, tmp_path) -> None:
    path = export_model(model, tmp_path / "saved", "saved_model", **SETTINGS)
    check_round_trip(path, images, expected)


@pytest.mark.slow
def test_saved_model_raw_maps_only(model, images, expected, tmp_path) -> None:
    path = export_model(model, tmp_path / "raw", "saved_model", decode=False)
    out = load_exported(path)(images)
    assert set(out) == set(RAW_KEYS)
    np.testing.assert_allclose(out["heatmap"], expected["heatmap"], rtol=0, atol=1e-4)


@pytest.mark.slow
def test_tflite_round_trip(model, images, expected, tmp_path) -> None:
    path = export_model(model, tmp_path / "m.tflite", "tflite", **SETTINGS)
    check_round_trip(path, images, expected)


@pytest.mark.slow
def test_onnx_round_trip(model, images, expected, tmp_path) -> None:
    import onnx

    path = export_model(model, tmp_path / "m.onnx", "onnx", **SETTINGS)
    assert onnx.load(str(path)).opset_import[0].version >= 13
    check_round_trip(path, images, expected)


def test_bad_arguments(model, tmp_path) -> None:
    with pytest.raises(ValueError, match="format must be one of"):
        export_model(model, tmp_path / "m.pb", "pb")
    with pytest.raises(ValueError, match=r"must end in \.keras"):
        export_model(model, tmp_path / "m.h5", "keras")
    with pytest.raises(ValueError, match="fixed at"):
        export_model(model, tmp_path / "m.onnx", "onnx", input_size=128)
