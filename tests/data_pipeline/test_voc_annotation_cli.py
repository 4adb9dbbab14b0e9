"""voc_annotation.py end to end, in a subprocess, on a tiny synthetic VOC set."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import load_script

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
    return load_script("voc_annotation.py")


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
        "--skip-difficult",
        "--resplit",
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

    assert sum(int(r.difficult.sum()) for r in train + val) > 0  # written, flagged
    # lines only, from the ImageSets just written, with --skip-difficult: same images, the
    # difficult objects left out
    again = [*args, "--out-dir", tmp_path / "again", "--mode", "lines", "--skip-difficult"]
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


def _small_voc(root, n=10):
    from PIL import Image

    voc = root / "VOCdevkit" / "VOC2007"
    for sub in ("Annotations", "JPEGImages"):
        (voc / sub).mkdir(parents=True)
    for i in range(n):
        Image.new("RGB", (32, 24)).save(voc / "JPEGImages" / f"{i:03d}.jpg")
        (voc / "Annotations" / f"{i:03d}.xml").write_text("<annotation/>")
    return voc


def test_existing_split_is_kept_unless_resplit(tmp_path, capsys):
    voc = _small_voc(tmp_path)
    main_dir = voc / "ImageSets" / "Main"
    main_dir.mkdir(parents=True)
    official = {"trainval": "000\n001\n002\n", "train": "000\n001\n", "val": "002\n"}
    official["test"] = "003\n"
    for split, text in official.items():
        (main_dir / f"{split}.txt").write_text(text)
    cli = load_cli()
    args = ["--voc-root", str(tmp_path / "VOCdevkit"), "--out-dir", str(tmp_path)]
    args += ["--classes", str(REPO / "model_data" / "shapes_classes.txt")]
    assert cli.main(args) == 0  # the README's command: --mode all
    out = capsys.readouterr().out
    assert {s: (main_dir / f"{s}.txt").read_text() for s in official} == official
    assert "existing split" in out and str(main_dir / "train.txt") in out
    train, _ = read_annotation_file(tmp_path / "2007_train.txt")
    assert [Path(r.path).stem for r in train] == ["000", "001"]

    assert cli.main([*args, "--mode", "split"]) == 2  # explicit re-split: needs --resplit
    assert "--resplit" in capsys.readouterr().err
    assert (main_dir / "train.txt").read_text() == official["train"]

    assert cli.main([*args, "--resplit"]) == 0
    out = capsys.readouterr().out
    assert "new split" in out and "replaced" in out
    trainval = (main_dir / "trainval.txt").read_text().split()
    assert len(trainval) == 9  # 90 % of 10 images
    train, _ = read_annotation_file(tmp_path / "2007_train.txt")
    assert [Path(r.path).stem for r in train] == (main_dir / "train.txt").read_text().split()


def test_partial_existing_split_is_not_overwritten(tmp_path, capsys):
    voc = _small_voc(tmp_path)
    main_dir = voc / "ImageSets" / "Main"
    main_dir.mkdir(parents=True)
    (main_dir / "test.txt").write_text("003\n")  # e.g. only the VOC test tarball unpacked
    args = ["--voc-root", str(tmp_path / "VOCdevkit"), "--out-dir", str(tmp_path)]
    args += ["--classes", str(REPO / "model_data" / "shapes_classes.txt")]
    assert load_cli().main(args) == 2
    err = capsys.readouterr().err
    assert "test.txt" in err and "--resplit" in err
    assert (main_dir / "test.txt").read_text() == "003\n"
    assert not (main_dir / "train.txt").exists()


def test_new_split_is_announced(tmp_path, capsys):
    _small_voc(tmp_path)
    args = ["--voc-root", str(tmp_path / "VOCdevkit"), "--out-dir", str(tmp_path)]
    args += ["--classes", str(REPO / "model_data" / "shapes_classes.txt"), "--seed", "4"]
    assert load_cli().main(args) == 0
    out = capsys.readouterr().out
    assert "new split" in out and "seed 4" in out and "replaced" not in out
