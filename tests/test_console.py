"""The ``centernet`` console script: installed by ``pip install -e .``, one subcommand per task,
each the same program as its top-level script (convert → train → val → predict → export →
benchmark run here in turn on a tiny synthetic set)."""

import json
import subprocess
import sys
from pathlib import Path

import keras
import pytest
from coco_data import write_coco
from helpers import ROOT

from centernet_keras.console import COMMANDS, main
from centernet_keras.data.annotations import read_annotation_file
from centernet_keras.data.synthetic import SHAPE_CLASSES, generate_voc

CONSOLE = Path(sys.executable).parent / "centernet"


def _centernet(*argv) -> int:
    return main([str(a) for a in argv])


def test_the_console_script_is_installed_and_lists_every_subcommand():
    assert CONSOLE.exists(), f"{CONSOLE} missing: install the package (pip install -e .)"
    result = subprocess.run(
        [str(CONSOLE), "--help"], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    for name in ("convert", "train", "val", "predict", "export", "benchmark", "track"):
        assert f"\n  {name} " in result.stdout
    assert set(COMMANDS) == {
        "convert", "check", "train", "val", "predict", "export", "benchmark", "track",
    }  # fmt: skip


def test_an_unknown_subcommand_is_a_one_line_error(capsys):
    assert _centernet("trian") == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "unknown subcommand 'trian'" in err and "train" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["train"],
        ["val"],
        ["predict"],
        ["export"],
        ["benchmark"],
        ["convert", "voc"],
        ["convert", "coco"],
    ],
    ids=lambda a: "-".join(a),
)
def test_each_subcommand_help_shows_its_name_and_defaults(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        _centernet(*argv, "--help")
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: centernet {' '.join(argv)} ")
    assert "(default:" in out


def test_convert_coco_writes_lines_and_class_names(tmp_path, capsys):
    json_path, images = write_coco(tmp_path)
    out = tmp_path / "lines" / "coco.txt"
    assert (
        _centernet("convert", "coco", "--json", json_path, "--images", images, "--output", out) == 0
    )
    assert "wrote 3 lines" in capsys.readouterr().out
    names = (tmp_path / "lines" / "coco_classes.txt").read_text().split()
    assert names == ["animals", "cat", "dog"]  # every category, ascending ids (0, 17, 18)
    records, problems = read_annotation_file(out)
    assert problems == [] and [Path(r.path).name for r in records] == ["a.jpg", "b.png", "c.jpg"]
    first = records[0]
    assert list(first.classes) == [1, 1] and list(first.difficult) == [False, True]  # crowd
    assert list(first.boxes[0]) == [10, 10, 50, 50]  # COCO [x, y, w, h] → corners

    kept = tmp_path / "skip.txt"
    argv = ["--json", json_path, "--images", images, "--output", kept, "--skip-crowd"]
    assert _centernet("convert", "coco", *argv) == 0
    assert [len(r.boxes) for r in read_annotation_file(kept)[0]] == [1, 1, 2]

    classes = tmp_path / "mine.txt"
    classes.write_text("dog\ncat\n")
    assert _centernet("convert", "coco", *argv, "--classes", classes) == 0
    assert list(read_annotation_file(kept)[0][0].classes) == [1]  # cat: class 1 of [dog, cat]
    assert (tmp_path / "skip_classes.txt").read_text().split() == ["dog", "cat"]


def test_convert_names_its_sources(capsys):
    assert _centernet("convert", "yolo") == 2
    assert "'voc' or 'coco'" in capsys.readouterr().err


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """``centernet convert voc`` then ``centernet train`` (1 epoch of 2 steps, 64 px)."""
    root = tmp_path_factory.mktemp("console")
    generate_voc(root / "VOCdevkit", num_images=16, seed=5)
    classes = root / "classes.txt"
    classes.write_text("\n".join(SHAPE_CLASSES) + "\n")
    argv = ["--voc-root", root / "VOCdevkit", "--classes", classes, "--out-dir", root]
    assert _centernet("convert", "voc", *argv) == 0
    save = root / "run"
    argv = ["--backbone", "resnet18", "--weights", "none", "--input-size", "64"]
    argv += ["--classes", classes, "--train", root / "2007_train.txt", "--val", ""]
    argv += ["--save-dir", save, "--epochs", "1", "--freeze-epochs", "0", "--batch-size", "4"]
    argv += ["--steps-per-epoch", "2", "--quiet"]
    assert _centernet("train", *argv) == 0
    image = read_annotation_file(root / "2007_val.txt")[0][0].path
    return {
        "root": root,
        "model": save / "best.keras",
        "val": root / "2007_val.txt",
        "image": image,
    }


@pytest.mark.slow
def test_train_then_val_predict_export_and_benchmark(trained, tmp_path, capsys):
    model = trained["model"]
    assert list(keras.saving.load_model(model).class_names) == list(SHAPE_CLASSES)
    report = tmp_path / "map"
    argv = ["--model", model, "--annotation-file", trained["val"], "--output-dir", report]
    assert _centernet("val", *argv, "--score-threshold", "0.01") == 0
    assert {"voc07", "coco"} <= set(json.loads((report / "summary.json").read_text())["metrics"])

    out = tmp_path / "one.png"
    argv = ["--model", model, "--input", trained["image"], "--output", out]
    assert _centernet("predict", *argv, "--score-threshold", "0.0", "--count") == 0
    assert out.stat().st_size > 0 and "total:" in capsys.readouterr().out

    exported = tmp_path / "m.keras"
    argv = ["--model", model, "--format", "keras", "--output", exported]
    assert _centernet("export", *argv, "--score-threshold", "0.25", "--max-detections", "7") == 0
    decoder = keras.saving.load_model(exported).decoder
    assert (decoder.score_threshold, decoder.max_detections) == (0.25, 7)

    capsys.readouterr()
    argv = ["--model", model, "--input", trained["image"], "--runs", "2", "--warmup", "1"]
    assert _centernet("benchmark", *argv, "--runtime", "keras", "onnxruntime", "--json") == 0
    lines = capsys.readouterr().out.strip().splitlines()
    timings = {t["runtime"]: t for t in map(json.loads, lines[-2:])}
    assert set(timings) == {"keras", "onnxruntime"}  # one interleaved run of both
    for timing in timings.values():
        assert {"preprocess_ms", "detect_ms", "postprocess_ms", "total_ms", "fps"} <= set(timing)
        assert timing["input_hw"] == [64, 64] and timing["total_ms"] > 0
    assert timings["keras"]["total_vs_keras"] == 1.0
    assert list(model.parent.glob("best.onnxruntime/*.onnx"))  # the cached graph was made


def test_benchmark_wants_a_model_or_a_detector(capsys):
    with pytest.raises(SystemExit) as exit_:
        _centernet("benchmark", "--runs", "1")
    assert exit_.value.code == 2 and "--model" in capsys.readouterr().err


def test_benchmark_input_size_is_positive_and_its_rounding_reported(capsys):
    """``centernet benchmark --input-size``: 0 is a usage error naming the flag; 70 runs at 96
    and says so (it rounded silently and accepted 0)."""
    from centernet_keras.commands import benchmark

    with pytest.raises(SystemExit) as exit_:
        benchmark.main(["--detector", "centernet", "--input-size", "0"])
    assert exit_.value.code == 2 and "--input-size" in capsys.readouterr().err
    argv = ["--detector", "centernet", "--backbone", "resnet18", "--num-classes", "2"]
    assert benchmark.main([*argv, "--input-size", "70", "--runs", "1", "--warmup", "0"]) == 0
    captured = capsys.readouterr()
    assert "--input-size 70 rounded up to 96" in captured.err
    assert "input 96 x 96" in captured.out
