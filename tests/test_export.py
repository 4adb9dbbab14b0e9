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


@pytest.mark.slow
def test_tflite_tensors_are_named_by_their_outputs(model, tmp_path, capsys) -> None:
    """``centernet export --format tflite``: ``Interpreter.get_output_details()`` names each
    output tensor by its output (``boxes``, ``scores``, …, the signature's keys; the converter
    calls them ``StatefulPartitionedCall_1:N``), and each holds what the signature gives."""
    import warnings

    import tensorflow as tf

    from centernet_keras.console import main

    model.save(tmp_path / "tiny.keras")
    out = tmp_path / "tiny.tflite"
    argv = ["export", "--model", str(tmp_path / "tiny.keras"), "--format", "tflite"]
    assert main([*argv, "--output", str(out)]) == 0
    with warnings.catch_warnings():  # tf.lite.Interpreter's move to ai_edge_litert
        warnings.simplefilter("ignore")
        interpreter, signed = (tf.lite.Interpreter(model_path=str(out)) for _ in range(2))
    keys = interpreter.get_signature_list()["serving_default"]
    assert [d["name"] for d in interpreter.get_input_details()] == keys["inputs"] == ["images"]
    details = {d["name"]: d for d in interpreter.get_output_details()}
    assert sorted(details) == sorted(keys["outputs"])
    assert {"boxes", "scores", "classes", "num_detections", "size", "offset"} <= set(details)
    images = np.random.default_rng(0).integers(0, 256, (1, 64, 64, 3)).astype(np.uint8)
    by_signature = signed.get_signature_runner("serving_default")(images=images)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], images)
    interpreter.invoke()
    for name, detail in details.items():  # the tensor of each name holds that output
        np.testing.assert_array_equal(interpreter.get_tensor(detail["index"]), by_signature[name])
