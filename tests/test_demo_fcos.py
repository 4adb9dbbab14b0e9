"""``make demo-fcos`` end to end at toy size: scripts/demo.sh with the FCOS config runs every
step and ends with the mAP line."""

import os
import re
import subprocess
import sys

import pytest
from helpers import ROOT


@pytest.mark.slow
def test_demo_script_with_the_fcos_config_runs_to_the_map(tmp_path):
    env = {
        **os.environ,
        "PY": sys.executable,
        "DEMO_DIR": str(tmp_path / "demo_fcos"),
        "DEMO_CONFIG": "model_data/demo_fcos_config.json",
        "DEMO_IMAGES": "24",
        "DEMO_TRAIN_FLAGS": "--epochs 1 --steps-per-epoch 2 --input-size 64 --batch-size 2 "
        "--eval-every 0",
    }
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "demo.sh")],
        capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    last = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"mAP@0\.5 = \d\.\d{4}", last), last
    assert "train.py --config model_data/demo_fcos_config.json" in result.stdout
    config = (tmp_path / "demo_fcos" / "logs" / "config.json").read_text()
    assert '"detector": "fcos"' in config
