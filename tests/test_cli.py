"""The shared CLI pieces: --help of predict.py / get_map.py, and the quiet TensorFlow start-up."""

import argparse
import os
import re
import subprocess
import sys
from importlib import import_module
from pathlib import Path

import pytest
from helpers import load_script

ROOT = Path(__file__).resolve().parents[1]
NOISE = re.compile(r"absl::InitializeLog|cudart_stub|failed call to cuInit|^[IW]\d{4} ", re.M)


def _parser(script: str) -> argparse.ArgumentParser:
    return load_script(script).build_parser()


def _help_blocks(text: str) -> dict[str, str]:
    """``--option`` → its help text (whitespace collapsed), from a rendered ``--help``."""
    blocks: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        match = re.match(r"^  (-\w, )?(--[\w-]+)", line)
        if match:
            current = match.group(2)
            blocks[current] = line
        elif current and line.startswith("    "):
            blocks[current] += " " + line.strip()
        else:
            current = None
    return {k: " ".join(v.split()) for k, v in blocks.items()}


@pytest.mark.parametrize("script", ["predict.py", "get_map.py"])
def test_help_shows_every_default(script) -> None:
    parser = _parser(script)
    blocks = _help_blocks(parser.format_help())
    for action in parser._actions:
        if action.default in (None, False, argparse.SUPPRESS) or not action.option_strings:
            continue
        name = next(s for s in action.option_strings if s.startswith("--"))  # first long name
        block = blocks[name]
        assert "default" in block, f"{script} {name}: {block}"
        if isinstance(action.default, str | int | float):
            assert str(action.default) in block.split("default", 1)[1], block
        assert block.count("(default") <= 1, block  # not stated twice


@pytest.mark.parametrize("script", ["predict.py", "get_map.py"])
def test_input_size_help_says_n_by_n(script) -> None:
    block = _help_blocks(_parser(script).format_help())["--input-size"]
    assert "--input-size N network input N x N" in block, block
    assert "rounded up to a multiple of 32" in block
    assert "longer side" in block.split("default", 1)[1]  # only the default is per image


def _setting(value: float | None) -> str:
    return "none" if value is None else f"{value:g}"


@pytest.mark.parametrize("script", ["predict.py", "get_map.py", "export"])
def test_decoder_flag_help_states_each_detectors_own_default(script) -> None:
    """--iou-threshold 'auto' and --keypoint-threshold say what a newly built model of each
    detector holds: read here from the models themselves."""
    from detector_cases import tiny_centernet, tiny_fcos, tiny_pose

    from centernet_keras.models import build_centernet

    parser = (
        import_module("centernet_keras.commands.export").build_parser()
        if script == "export"
        else _parser(script)
    )
    blocks = _help_blocks(parser.format_help())
    resnet = tiny_centernet().decoder.iou_threshold  # a ResNet-18 backbone
    other = build_centernet(2, backbone="mobilenetv3_small", input_shape=(64, 64, 3))
    pose = tiny_pose().decoder
    iou = blocks["--iou-threshold"]
    assert f"CenterNet {_setting(resnet)} with a ResNet backbone" in iou, iou
    assert f"else {_setting(other.decoder.iou_threshold)}" in iou, iou
    assert f"FCOS {_setting(tiny_fcos().decoder.iou_threshold)}" in iou, iou
    assert f"pose {_setting(pose.iou_threshold)}" in iou, iou
    keypoint = blocks["--keypoint-threshold"]
    assert f"{_setting(pose.keypoint_threshold)} unless changed" in keypoint, keypoint


def test_startup_log_filter_keeps_what_matters() -> None:
    from centernet_keras.startup import filter_startup_log

    captured = (
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        "I0000 00:00:1795458545.092170    3889 cudart_stub.cc:31] Could not find cuda drivers "
        "on your machine, GPU will not be used.\n"
        "W0000 00:00:1795458545.1    3889 some_file.cc:9] a warning\n"
        "E0000 00:00:1795458555.233952    3889 cuda_platform.cc:52] failed call to cuInit: "
        "INTERNAL: CUDA error\n"
        "E0000 00:00:1795458555.3    3889 other.cc:1] a real error\n"
        "/path/module.py:3: UserWarning: something Python says\n"
    )
    kept = filter_startup_log(captured, min_level=2).splitlines()
    assert kept == [
        "E0000 00:00:1795458555.3    3889 other.cc:1] a real error",
        "/path/module.py:3: UserWarning: something Python says",
    ]
    # With a CUDA driver present, a cuInit failure is news and is kept; level 1 keeps warnings.
    with_driver = captured.replace("Could not find cuda drivers", "Found drivers")
    assert "failed call to cuInit" in filter_startup_log(with_driver, min_level=2)
    assert "a warning" in filter_startup_log(captured, min_level=1)


@pytest.mark.slow
@pytest.mark.parametrize(
    "argv",
    [
        ["predict.py", "--model", "missing.keras", "--input", "missing.jpg"],
        ["get_map.py", "--help"],
        ["voc_annotation.py", "--voc-root", "missing_devkit"],
        ["train.py", "--train", "missing.txt", "--epochs", "1"],
    ],
    ids=lambda argv: argv[0],
)
def test_cli_start_up_has_no_tensorflow_log_noise(argv, tmp_path) -> None:
    """Each CLI loads the package and TensorFlow quietly: no absl/cudart/cuInit lines (these
    calls end early, on a missing file or after --help, once TensorFlow is loaded)."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run(
        [sys.executable, str(ROOT / argv[0]), *argv[1:]],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=env,
    )
    assert "Traceback" not in result.stderr, result.stderr
    assert not NOISE.search(result.stderr), result.stderr
