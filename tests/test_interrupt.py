"""Ctrl-C stops a command with one line and exit code 130, never a ``KeyboardInterrupt``
traceback (issue 26, point 5; ``train``'s own line, with the resume command, is tested in
tests/training/test_interrupt_train.py).

Each command is a subprocess sent SIGINT once it is known to be running: blocked reading a
named pipe given as its input (``--json``, ``--coco-json``), which the test opens for writing
and never writes to (the open returning is the marker), or ``predict`` once it has written the
first image of a folder."""

import os
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from helpers import ROOT, interrupt_when
from PIL import Image

from centernet_keras import console


def interrupt_while_reading(argv: list[str], pipe: Path, script: str | None = None):
    """``centernet ARGV`` (or ``python SCRIPT ARGV``) interrupted while it reads the named pipe
    ``pipe`` (created here): ``(exit code, stderr)``."""
    os.mkfifo(pipe)
    writer: list = []
    opening = threading.Thread(target=lambda: writer.append(pipe.open("wb")), daemon=True)
    opening.start()  # returns once the command opens the pipe to read it
    start = [str(ROOT / script)] if script else ["-m", "centernet_keras.console"]
    try:
        return interrupt_when([sys.executable, *start, *argv], lambda: bool(writer))
    finally:
        for end in writer:
            end.close()


def _assert_one_line(code: int, err: str) -> None:
    assert code == 130, err[-3000:]
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-3000:]
    assert err.strip().splitlines()[-1] == "interrupted", err[-3000:]


def test_convert_coco(tmp_path):
    pipe = tmp_path / "instances.json"
    argv = ["convert", "coco", "--json", str(pipe), "--images", str(tmp_path)]
    _assert_one_line(*interrupt_while_reading(argv, pipe))


def test_val(tmp_path):
    pipe = tmp_path / "instances.json"
    argv = ["val", "--model", "m.keras", "--coco-json", str(pipe), "--image-dir", str(tmp_path)]
    _assert_one_line(*interrupt_while_reading(argv, pipe))


def test_the_top_level_scripts_too(tmp_path):
    """``get_map.py`` is ``centernet val``: the same line (each script runs its main through
    ``console.interruptible``)."""
    pipe = tmp_path / "instances.json"
    argv = ["--model", "m.keras", "--coco-json", str(pipe), "--image-dir", str(tmp_path)]
    _assert_one_line(*interrupt_while_reading(argv, pipe, "get_map.py"))


@pytest.mark.slow
def test_predict_in_the_middle_of_a_folder(tmp_path):
    from centernet_keras.models.centernet import build_centernet

    model = build_centernet(2, backbone="resnet18", input_shape=(64, 64, 3), weights=None,
                            neck_filters=(16, 16, 16), head_channels=8)  # fmt: skip
    model.save(tmp_path / "tiny.keras")
    images, out = tmp_path / "images", tmp_path / "out"
    images.mkdir()
    pixels = np.random.default_rng(0).integers(0, 256, (64, 64, 3), np.uint8)
    for i in range(300):
        Image.fromarray(pixels).save(images / f"{i:03d}.png")
    argv = ["predict", "--model", tmp_path / "tiny.keras", "--mode", "dir", "--input", images]
    command = [sys.executable, "-m", "centernet_keras.console", *map(str, argv)]

    def annotated() -> list[Path]:  # not the temporary file of the one being written
        return [path for path in out.glob("*.png") if not path.name.startswith(".")]

    code, err = interrupt_when([*command, "--output", str(out)], lambda: bool(annotated()))
    _assert_one_line(code, err)
    assert 0 < len(annotated()) < 300  # stopped in the middle


@pytest.mark.parametrize("name", sorted(set(console.COMMANDS) - {"train"}))
def test_every_other_subcommand_says_interrupted(name, monkeypatch, capsys):
    """Wherever a subcommand is interrupted (here: its main), ``centernet`` prints the line."""
    import importlib

    module = importlib.import_module(f"centernet_keras.commands.{console.COMMANDS[name][0]}")

    def stopped(argv):
        raise KeyboardInterrupt

    monkeypatch.setattr(module, "main", stopped)
    try:
        code = console.main([name])
    except KeyboardInterrupt:  # not raised on: it would stop the test session
        pytest.fail(f"centernet {name}: KeyboardInterrupt escaped")
    assert code == 130
    assert capsys.readouterr().err == "interrupted\n"
