"""What ``centernet train`` prints around the per-epoch validation pass (issue 26, point 9): a
progress bar while the validation images run, and the mAP line on a line of its own, not glued
to the end of Keras' progress bar."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import config_dict
from helpers import ROOT

ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.mark.slow
def test_validation_pass_shows_progress_and_the_map_line_starts_its_own_line(tiny_voc, tmp_path):
    config = tmp_path / "config.json"
    settings = config_dict(tiny_voc, tmp_path / "run", epochs=1, freeze_epochs=0, eval_every=1)
    config.write_text(json.dumps(settings))
    run = subprocess.run(  # stdout and stderr in one stream, in the order they were written
        [sys.executable, "-m", "centernet_keras.console", "train", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    out = ANSI.sub("", run.stdout)
    assert run.returncode == 0, out[-3000:]
    lines = out.split("\n")
    (map_line,) = [line for line in lines if "val mAP@0.5" in line]
    assert map_line.startswith("INFO centernet_keras.training: epoch 1: val mAP@0.5"), map_line
    validated = len(Path(tiny_voc["val"]).read_text().split("\n")) - 1  # one line per image
    before = "\n".join(lines[: lines.index(map_line)])
    assert "validation: 100%" in before and f"{validated}/{validated}" in before, before[-1500:]
