"""bench/pipeline.py runs on a user's annotation file (not only on its synthetic JPEGs);
bench/forward.py times the pose and FCOS models in one run; bench/pose_errors.py."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from helpers import ROOT, load_script
from PIL import Image

from centernet_keras.data.annotations import ImageRecord, write_annotation_file
from centernet_keras.detections import Detections


@pytest.mark.slow
def test_pipeline_bench_reads_an_annotation_file(tmp_path, rng) -> None:
    records = []
    for i in range(9):
        Image.fromarray(rng.integers(0, 256, (60, 80, 3)).astype(np.uint8)).save(
            tmp_path / f"{i}.jpg"
        )
        records.append(ImageRecord(f"{i}.jpg", [[5, 6, 40, 50]], [i % 3]))
    records.append(ImageRecord("missing.jpg", [[5, 6, 40, 50]], [0]))
    write_annotation_file(tmp_path / "train.txt", records)
    argv = ["--annotation-file", "train.txt", "--size", "64", "--batches", "1"]
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "pipeline.py"), *argv],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},  # this checkout's package
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["source"] == "train.txt" and out["images"] == 9 and out["num_classes"] == 3
    assert out["tf_data_1_thread_img_s"] > 0 and out["ports_numpy_1_process_img_s"] > 0
    assert "skipped missing image: missing.jpg" in result.stderr


@pytest.mark.slow
def test_forward_bench_times_pose_and_fcos_in_one_run() -> None:
    argv = ["--models", "pose:resnet18,fcos:resnet18", "--size", "64"]
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "forward.py"), *argv, "--runs", "1", "--warmup", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [(x["detector"], x["backbone"]) for x in lines] == [
        ("pose", "resnet18"),
        ("fcos", "resnet18"),
    ]
    for out in lines:
        assert out["forward_ms"] > 0 and out["decode_ms"] > 0 and 0 < out["decode_share"] < 1
    assert lines[0]["iou_threshold"] is None and lines[1]["iou_threshold"] == 0.6


def test_pose_errors_bench_exact_joints_score_one(tmp_path) -> None:
    from centernet_keras.data.synthetic_pose import generate_pose_dataset

    paths = generate_pose_dataset(tmp_path, num_images=6, seed=4, val_fraction=0.5)
    data = json.loads(paths["val"].read_text())
    results = [
        {"image_id": a["image_id"], "category_id": 1, "bbox": a["bbox"], "score": 1.0,
         "keypoints": a["keypoints"]}
        for a in data["annotations"]
    ]  # fmt: skip
    (tmp_path / "results.json").write_text(json.dumps(results))
    argv = ["--gt", str(paths["val"]), "--results", "results.json", "--sigmas", "0,3"]
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "pose_errors.py"), *argv],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert lines[0]["oks_ap"] == 1.0 and lines[1]["oks_ap"] < 1.0
    assert lines[2]["median_error_px"] == [0.0] * 17 and lines[2]["people"] > 0


@pytest.mark.slow
def test_predict_bench_keras_vs_onnxruntime_and_int8() -> None:
    argv = ["--models", "centernet:resnet18", "--size", "64", "--int8", "--calibration-count", "2"]
    # every peak a detection: boxes to compare. Seed 2's model gives boxes far from the
    # Predictor's zero-area cut (asserted below), so float noise between the runtimes (~1e-4 px)
    # cannot change the count (seed 0's narrowest box is 0.0004 px)
    argv += ["--score-threshold", "0", "--seed", "2"]
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "predict.py"), *argv, "--runs", "1", "--warmup", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr
    (out,) = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert (out["detector"], out["backbone"], out["input"]) == (
        "centernet",
        "resnet18",
        [1, 64, 64, 3],
    )
    for key in ("keras_detect_ms", "onnxruntime_detect_ms", "int8_detect_ms", "forward_ms"):
        assert out[key] > 0, key
    product = out["onnxruntime_vs_keras"] * out["keras_detect_ms"]  # ms are rounded to 0.1
    assert product == pytest.approx(out["onnxruntime_detect_ms"], abs=0.15)
    assert out["onnxruntime_same_count_and_classes"] is True
    assert out["onnxruntime_max_box_diff_px"] <= 1e-3
    assert out["onnxruntime_max_score_diff"] <= 1e-4
    assert out["score_threshold"] == 0.0 and out["detections"] > 0
    assert out["seed"] == 2 and out["narrowest_box_px"] > 0.01


def _detections(boxes, scores, class_ids) -> Detections:
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    names = [str(c) for c in class_ids]
    return Detections(boxes, np.asarray(scores, np.float32), np.asarray(class_ids), names, (40, 40))


def test_predict_bench_compares_detections_as_sets() -> None:
    compare = load_script("bench/predict.py")._compare
    boxes = [[0, 0, 10, 10], [5, 5, 20, 30], [1, 2, 3, 4]]
    want = _detections(boxes, [0.5, 0.5000001, 0.2], [1, 2, 1])
    swapped = _detections([boxes[1], boxes[0], boxes[2]], [0.5000001, 0.5, 0.2], [2, 1, 1])
    out = compare(want, swapped)  # near-equal scores in the other order: the same detections
    assert out["onnxruntime_same_count_and_classes"] is True
    assert out["onnxruntime_max_box_diff_px"] == 0.0
    assert out["onnxruntime_max_score_diff"] == 0.0  # each box kept its own score
    assert out["narrowest_box_px"] == 2.0
    moved = _detections([[0, 0, 10, 10.5], *boxes[1:]], [0.5, 0.5000001, 0.25], [1, 2, 1])
    out = compare(want, moved)
    assert out["onnxruntime_same_count_and_classes"] is True
    assert out["onnxruntime_max_box_diff_px"] == pytest.approx(0.5)
    assert out["onnxruntime_max_score_diff"] == pytest.approx(0.05)
    for other in (
        _detections(boxes, [0.5, 0.5000001, 0.2], [1, 2, 2]),  # a class differs
        _detections(boxes[:2], [0.5, 0.5000001], [1, 2]),  # one fewer
        _detections([*boxes, [0, 0, 1, 1]], [0.5, 0.5000001, 0.2, 0.1], [1, 2, 1, 0]),  # more
    ):
        assert compare(want, other)["onnxruntime_same_count_and_classes"] is False
