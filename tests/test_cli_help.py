"""``--help`` of every command: printed before TensorFlow or Keras is imported (they load only
when a command runs), with its examples as written (issue 26, point 9).

Asserting on what was imported, not on a wall-clock limit: ``bench/help_time.py`` times it.
"""

import ast
import subprocess
import sys

import pytest
from helpers import ROOT

from centernet_keras.console import main

#: How each program is started for ``--help``: the console's subcommands and the top-level
#: scripts.
HELP_COMMANDS = {
    "convert": ["-m", "centernet_keras.console", "convert", "--help"],
    "convert-voc": ["-m", "centernet_keras.console", "convert", "voc", "--help"],
    "convert-coco": ["-m", "centernet_keras.console", "convert", "coco", "--help"],
    "check": ["-m", "centernet_keras.console", "check", "--help"],
    "train": ["-m", "centernet_keras.console", "train", "--help"],
    "val": ["-m", "centernet_keras.console", "val", "--help"],
    "predict": ["-m", "centernet_keras.console", "predict", "--help"],
    "export": ["-m", "centernet_keras.console", "export", "--help"],
    "benchmark": ["-m", "centernet_keras.console", "benchmark", "-h"],
    "track": ["-m", "centernet_keras.console", "track", "--help"],
    "train.py": ["train.py", "--help"],
    "predict.py": ["predict.py", "--help"],
    "get_map.py": ["get_map.py", "--help"],
    "voc_annotation.py": ["voc_annotation.py", "--help"],
}
HEAVY = {"keras", "tensorflow"}


def imported_packages(importtime_log: str) -> set[str]:
    """The top-level packages named in a ``python -X importtime`` log (stderr)."""
    return {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in importtime_log.splitlines()
        if line.startswith("import time:") and "|" in line
    }


@pytest.mark.parametrize("name", HELP_COMMANDS)
def test_help_prints_usage_without_importing_tensorflow_or_keras(name):
    run = subprocess.run(
        [sys.executable, "-X", "importtime", *HELP_COMMANDS[name]],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.startswith("usage: "), run.stdout[:500]
    assert "--help" in run.stdout or "{voc,coco}" in run.stdout
    packages = imported_packages(run.stderr)
    assert "centernet_keras" in packages  # the log was read
    assert not HEAVY & packages, f"--help imported {sorted(HEAVY & packages)}"


@pytest.mark.slow
def test_a_command_that_runs_still_loads_keras_quietly_and_registers_its_objects():
    """Not --help: ``import centernet_keras`` loads Keras and registers the package's objects,
    as before (a saved model loads by plain ``keras.saving.load_model``)."""
    code = (
        "import sys, centernet_keras\n"
        "assert 'keras' in sys.modules\n"
        "import keras\n"
        "assert keras.saving.get_registered_object('centernet_keras>CenterNet') is not None\n"
        "print('ok')\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert run.returncode == 0 and run.stdout == "ok\n", run.stderr[-2000:]
    assert "absl::InitializeLog" not in run.stderr  # TensorFlow's start-up log filtered


def _literal_text(path: str, name: str | None) -> str:
    """The text of a module's docstring (``name`` None) or string constant ``name`` as it is
    written in the source file (escapes not processed)."""
    source = (ROOT / path).read_text()
    tree = ast.parse(source)
    if name is None:
        node = tree.body[0].value
    else:
        node = next(
            n.value
            for n in tree.body
            if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", None) == name
        )
    literal = ast.get_source_segment(source, node)
    return literal.lstrip("rR")[3:-3]


@pytest.mark.parametrize(
    ("argv", "path", "name"),
    [
        (["train"], "centernet_keras/commands/train.py", None),
        (["val"], "centernet_keras/commands/val.py", None),
        (["predict"], "centernet_keras/commands/predict.py", None),
        (["export"], "centernet_keras/commands/export.py", None),
        (["benchmark"], "centernet_keras/commands/benchmark.py", None),
        (["convert", "coco"], "centernet_keras/commands/convert.py", "COCO_DOC"),
        (["convert", "voc"], "centernet_keras/commands/convert.py", "VOC_DOC"),
    ],
    ids=["train", "val", "predict", "export", "benchmark", "convert-coco", "convert-voc"],
)
def test_help_epilog_shows_the_examples_as_written(argv, path, name, capsys):
    """Every line after the first paragraph of the command's doc appears verbatim in --help: the
    shell line continuations (``\\`` at a line's end) of the examples included."""
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0
    shown = {line.rstrip() for line in capsys.readouterr().out.splitlines()}
    written = _literal_text(path, name).split("\n\n", 1)[1]
    missing = [line for line in written.splitlines() if line.strip() and line.rstrip() not in shown]
    assert not missing, f"--help lost these lines as written: {missing}"
    assert any(line.endswith("\\") for line in shown) or "\\" not in written


def test_the_names_help_lists_are_the_registries_keys():
    """``choices`` (read by --help before Keras loads) names exactly what the registries build."""
    from centernet_keras import choices
    from centernet_keras.backbones import BACKBONES
    from centernet_keras.necks import NECKS

    assert sorted(choices.BACKBONE_NAMES) == sorted(BACKBONES)
    assert sorted(choices.NECK_NAMES) == sorted(NECKS)
