"""Export options beyond the contract's round trips (tests/test_detector_contract.py): raw maps
only, argument errors."""

import numpy as np
import pytest
from detector_cases import tiny_centernet

from centernet_keras.export import export_model, load_exported


@pytest.fixture(scope="module")
def model():
    return tiny_centernet()


@pytest.mark.slow
def test_saved_model_raw_maps_only(model, tmp_path) -> None:
    images = np.random.default_rng(0).integers(0, 256, (2, 64, 64, 3)).astype(np.uint8)
    path = export_model(model, tmp_path / "raw", "saved_model", decode=False)
    out = load_exported(path)(images)
    assert set(out) == {"heatmap", "size", "offset"}  # the raw maps only
    want = np.asarray(model(images.astype(np.float32), training=False)["heatmap"])
    np.testing.assert_allclose(out["heatmap"], want, rtol=0, atol=1e-4)


def test_bad_arguments(model, tmp_path) -> None:
    with pytest.raises(ValueError, match="format must be one of"):
        export_model(model, tmp_path / "m.pb", "pb")
    with pytest.raises(ValueError, match=r"must end in \.keras"):
        export_model(model, tmp_path / "m.h5", "keras")
    with pytest.raises(ValueError, match="fixed at"):
        export_model(model, tmp_path / "m.onnx", "onnx", input_size=128)
