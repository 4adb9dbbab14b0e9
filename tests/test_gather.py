"""The int32 gathers of losses and decoders: same rows as ``take_along_axis``, and no oneDNN
int64 log line in a process that trains and decodes."""

import os
import subprocess
import sys

import numpy as np
import pytest
from helpers import ROOT
from keras import ops

from centernet_keras.gather import gather_feature, take_rows


def test_take_rows_equals_take_along_axis():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(3, 7, 2, 5)).astype("float32")
    indices = rng.integers(0, 7, (3, 4)).astype("int32")
    expected = np.take_along_axis(values, indices[:, :, None, None], axis=1)
    np.testing.assert_array_equal(ops.convert_to_numpy(take_rows(values, indices)), expected)
    feature_map = rng.normal(size=(2, 4, 6, 3)).astype("float32")
    flat_index = rng.integers(0, 24, (2, 5))
    gathered = ops.convert_to_numpy(gather_feature(feature_map, flat_index))
    rows, cols = flat_index // 6, flat_index % 6
    np.testing.assert_array_equal(gathered, feature_map[np.arange(2)[:, None], rows, cols])


SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
import numpy as np
from detector_cases import pose_batch, tiny_pose
model = tiny_pose()
images, targets = pose_batch(model, np.random.default_rng(0))
model.compile(optimizer="adam")
model.fit(images, targets, batch_size=2, epochs=1, verbose=0)
print(int(np.asarray(model.detect(images)["num_detections"]).sum()))
"""


@pytest.mark.slow
def test_training_and_decoding_log_no_onednn_int64_error():
    """``take_along_axis`` made oneDNN print an "E" line in every run on CPUs without AVX-512."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    script = "import centernet_keras.startup as s; s.quiet_tensorflow_startup()\n" + SCRIPT
    result = subprocess.run(
        [sys.executable, "-c", script.format(tests=str(ROOT / "tests"))],
        capture_output=True, text=True, timeout=300, env=env, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "DT_INT64" not in result.stderr and "E0000" not in result.stderr, result.stderr
