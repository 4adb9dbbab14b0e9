"""``centernet export --verify``: an artefact is run on validation images and compared with its
Keras model (mAP change, per-image differences, exit code 3 past --max-map-drop); the INT8
node-exclusion search.

The validation set is made from the tiny untrained model's own detections (its boxes are the
ground truth), so the Keras model scores mAP@0.5 = 1 and a broken export visibly less.
"""

import json

import keras
import numpy as np
import pytest
from detector_cases import tiny_centernet
from PIL import Image

from centernet_keras.commands import export as export_command
from centernet_keras.console import main
from centernet_keras.evaluation.runner import load_split
from centernet_keras.export import export_model, load_exported
from centernet_keras.export_verify import Verification, report_path, within
from centernet_keras.inference import Predictor
from centernet_keras.quantization import search_exclusions


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    """(model file, annotation file): four 80 x 64 images (letterboxed into the 64-px input),
    each annotated with the model's own detections scoring >= 0.3 (a seeded model: the same
    split in every run)."""
    folder = tmp_path_factory.mktemp("verify")
    keras.utils.set_random_seed(0)
    model = tiny_centernet()
    model_file = folder / "tiny.keras"
    model.save(model_file)
    predictor = Predictor(model, score_threshold=0.3)
    rng = np.random.default_rng(3)
    lines = []
    for i in range(4):
        image = folder / f"img{i}.png"
        Image.fromarray(rng.integers(0, 256, (64, 80, 3), dtype=np.uint8)).save(image)
        found = predictor(str(image))
        boxes = " ".join(
            ",".join(f"{v:.0f}" for v in box) + f",{int(c)}"
            for box, c in zip(found.boxes, found.class_ids, strict=True)
        )
        lines.append(f"{image} {boxes}".strip())
    annotations = folder / "val.txt"
    annotations.write_text("\n".join(lines) + "\n")
    assert any(len(line.split()) > 1 for line in lines)  # something to detect
    return model_file, annotations


def _verify(model_file, annotations, tmp_path, fmt, *extra):
    suffix = {"keras": ".keras", "onnx": ".onnx", "tflite": ".tflite", "saved_model": "_sm"}
    out = tmp_path / f"artefact{suffix[fmt]}"
    argv = ["export", "--model", str(model_file), "--format", fmt, "--output", str(out)]
    code = main([*argv, "--verify", str(annotations), "--no-progress", *extra])
    return code, out


@pytest.fixture(scope="module")
def verification(split):
    """The Keras model's detections on the split, computed once."""
    model_file, annotations = split
    predictor = Predictor.from_checkpoint(model_file, score_threshold=0.3)
    records, _ = load_split(predictor.class_names, annotation_file=annotations)
    return Verification(predictor, records)


@pytest.mark.slow
def test_the_real_exports_pass(verification, tmp_path) -> None:
    """Every format written by ``export_model`` scores as the Keras model does, box for box
    (ONNX: the float graph of ``test_int8_with_a_tolerance_ends_within_it``, checked there the
    same way, so its tf2onnx conversion runs once)."""
    model = verification.predictor.model
    suffix = {"keras": ".keras", "tflite": ".tflite", "saved_model": "_sm"}
    assert verification.keras["map50"] > 0.9  # the split is the model's own detections
    for fmt, end in suffix.items():
        path = export_model(model, tmp_path / f"m{end}", fmt, score_threshold=0.3)
        found = verification.check(load_exported(path), fmt)
        assert within(found, 0.0), (fmt, found)
        assert (
            abs(found["map50_change"]) < 1e-6
            and abs(found["coco_ap"] - verification.keras["coco_ap"]) < 1e-6
        )
        assert found["differences"]["images_with_other_count"] == 0, (fmt, found)
        assert found["differences"]["max_box_shift_px"] < 0.05, (fmt, found)


@pytest.mark.slow
def test_a_broken_export_fails_with_exit_code_3(split, tmp_path, monkeypatch, capsys) -> None:
    """The artefact holds other weights (the heatmap conv perturbed on the way out): the check
    exits 3 with one line naming the mAP@0.5 drop, and the report says what differs."""
    real = export_command.export_model

    def broken(model, *args, **kwargs):
        copy = model.replace()
        heat = copy.get_layer("heatmap")
        kernel = np.asarray(heat.kernel)
        heat.kernel.assign(
            np.random.default_rng(1).permutation(kernel.ravel()).reshape(kernel.shape)
        )
        return real(copy, *args, **kwargs)

    monkeypatch.setattr(export_command, "export_model", broken)
    code, out = _verify(*split, tmp_path, "keras")
    err = capsys.readouterr().err
    assert code == export_command.EXIT_TOO_INACCURATE == 3
    assert "mAP@0.5 dropped by" in err and "--max-map-drop 0.01" in err
    report = json.loads(report_path(out).read_text())
    assert not report["passed"] and report["export"]["map50_change"] < -0.01
    assert report["export"]["differences"]["worst_images"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--max-map-drop", "0.02"], "--max-map-drop is for --verify"),
        (["--quantize", "int8", "--calibration-images", "x"], "is for --format onnx"),
        (["--format", "onnx", "--quantize", "int8"], "needs --calibration-images"),
        (["--verify", "missing.txt"], "--verify missing.txt: no such file"),
    ],
)
def test_flag_errors_are_one_line_before_the_model_loads(argv, message, capsys) -> None:
    assert main(["export", "--model", "absent.keras", "--format", "tflite", *argv]) == 2
    assert message in capsys.readouterr().err


def test_the_search_doubles_then_bisects() -> None:
    """Passing from 5 excluded nodes on, of 40: 1, 2, 4, 8 fail/pass, then bisection to 5."""
    seen = []

    def evaluate(k):
        seen.append(k)
        return {"map50": k}, k >= 5

    result = search_exclusions(40, evaluate)
    assert result.excluded == 5
    assert seen == [1, 2, 4, 8, 6, 5]
    nothing = search_exclusions(3, lambda k: ({}, False))
    assert nothing.excluded is None and [s.excluded for s in nothing.steps] == [1, 2, 3]


@pytest.mark.slow
def test_int8_with_a_tolerance_ends_within_it(split, tmp_path, capsys, caplog) -> None:
    """--quantize int8 --max-map-drop 0.04: the float and plain INT8 graphs are scored and
    timed; plain INT8 of the untrained model loses more (0.047 when measured), so nodes are
    left in float (doubling, then bisection) and the graph written is the fewest that passed.
    Leaving every ranked node in float gives the float network, so the search always ends
    within the tolerance. ONNX Runtime's pre-processing advice, logged at every quantization,
    is not shown."""
    model_file, annotations = split
    extra = ["--quantize", "int8", "--calibration-images", str(annotations)]
    code, out = _verify(model_file, annotations, tmp_path, "onnx", *extra, "--max-map-drop", "0.04")
    report = json.loads(report_path(out).read_text())
    int8 = report["int8"]
    assert code == 0 and report["passed"], capsys.readouterr().err
    assert report["export"]["map50_change"] >= -0.04
    assert {"float_onnx", "plain_int8", "final_int8"} < set(int8["speed_ms_per_image"])
    float_onnx = int8["float_onnx"]  # the float graph is the Keras model, box for box
    assert float_onnx["map50_change"] == 0.0
    assert abs(float_onnx["coco_ap"] - report["keras"]["coco_ap"]) < 1e-6
    assert float_onnx["differences"]["images_with_other_count"] == 0, float_onnx
    assert float_onnx["differences"]["max_box_shift_px"] < 0.05, float_onnx
    if int8["plain_int8"]["map50_change"] < -0.04:  # the search ran
        counts = [step["excluded_nodes"] for step in int8["search"]]
        assert counts[:2] == [1, 2] and len(counts) <= 16
        fewest = min(s["excluded_nodes"] for s in int8["search"] if s["within_tolerance"])
        assert len(int8["excluded_nodes"]) == fewest
        assert "nodes in float" in capsys.readouterr().out
    else:
        assert not int8["excluded_nodes"]
    advice = [r for r in caplog.records if "pre-processing before quantization" in r.getMessage()]
    assert not advice
