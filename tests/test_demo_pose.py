"""``make demo-pose`` end to end at toy size: every step runs and it ends with the keypoint AP."""

import os
import re
import subprocess
import sys

import pytest
from helpers import ROOT


@pytest.mark.slow
def test_demo_pose_script_runs_to_the_keypoint_ap(tmp_path):
    env = {
        **os.environ,
        "PY": sys.executable,
        "DEMO_DIR": str(tmp_path / "demo_pose"),
        "DEMO_IMAGES": "10",
        "DEMO_TRAIN_FLAGS": "--epochs 1 --steps-per-epoch 2 --input-size 64 --batch-size 2",
    }
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "demo_pose.sh")],
        capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    last = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"keypoint AP = \d\.\d{4}", last), last
    assert "box AP = " in result.stdout
    predictions = list((tmp_path / "demo_pose" / "predictions").iterdir())
    assert len(predictions) >= 2  # the sample images, drawn
