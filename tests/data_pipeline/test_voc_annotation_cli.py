"""voc_annotation.py end to end, in a subprocess, on a tiny synthetic VOC set."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from centernet_keras.data.annotations import read_annotation_file
from centernet_keras.data.synthetic import SHAPE_CLASSES, generate_voc

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "voc_annotation.py"
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def run(*args, cwd=REPO):
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)],
        cwd=cwd,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )


def load_cli():
    """The script as a module, to call ``main`` in-process (no second TensorFlow import)."""
    spec = importlib.util.spec_from_file_location("voc_annotation", SCRIPT)
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    return cli


def test_help_explains_every_flag():
    result = run("--help")
    assert result.returncode == 0
    for flag in (
        "--voc-root",
        "--year",
        "--classes",
        "--trainval-percent",
        "--train-percent",
        "--mode",
        "--seed",
        "--keep-difficult",
        "--out-dir",
        "--max-messages",
    ):
        assert flag in result.stdout


@pytest.mark.slow
def test_end_to_end_on_synthetic_set(tmp_path):
    generate_voc(tmp_path / "VOCdevkit", 24, seed=1)
    voc = tmp_path / "VOCdevkit" / "VOC2007"
    (voc / "Annotations" / "shapes_000003.xml").write_text("<annotation><object>")
    main_dir = voc / "ImageSets" / "Main"
    for f in main_dir.iterdir():
        f.unlink()
    out = tmp_path / "lists"
    args = ["--voc-root", tmp_path / "VOCdevkit", "--classes", "model_data/shapes_classes.txt"]
    result = run(*args, "--out-dir", out, "--seed", "1", "--keep-difficult")
    assert result.returncode == 0, result.stderr
    stdout = result.stdout
    assert "shapes_000003.xml" in stdout and "bad_xml" in stdout
    for name in SHAPE_CLASSES:
        assert name in stdout
    splits = {s: main_dir.joinpath(f"{s}.txt").read_text().split() for s in ("train", "val")}
    assert len(splits["train"]) + len(splits["val"]) == int(24 * 0.9)
    train, problems = read_annotation_file(out / "2007_train.txt")
    val, _ = read_annotation_file(out / "2007_val.txt")
    assert problems == []
    expected = {s for s in splits["train"] if s != "shapes_000003"}
    assert {Path(r.path).stem for r in train} == expected
    assert all(Path(r.path).is_absolute() and Path(r.path).is_file() for r in train + val)
    assert sum(len(r.classes) for r in train + val) > 0
    assert all(np.all(r.classes < len(SHAPE_CLASSES)) for r in train)

    # lines only, from the ImageSets just written, without --keep-difficult: same images,
    # the difficult objects left out
    again = [*args, "--out-dir", tmp_path / "again", "--mode", "lines"]
    assert load_cli().main([str(a) for a in again]) == 0
    plain, _ = read_annotation_file(tmp_path / "again" / "2007_train.txt")
    assert [r.path for r in plain] == [r.path for r in train]
    assert sum(len(r.classes) for r in plain) == sum(int((~r.difficult).sum()) for r in train)


def test_missing_inputs_are_clean_errors(tmp_path, capsys):
    cli = load_cli()
    assert cli.main(["--voc-root", str(tmp_path), "--classes", str(tmp_path / "nope.txt")]) == 2
    assert "nope.txt" in capsys.readouterr().err
    classes = str(REPO / "model_data" / "shapes_classes.txt")
    assert cli.main(["--voc-root", str(tmp_path), "--classes", classes]) == 2
    assert "no .xml files" in capsys.readouterr().err
