"""LR schedules, LR scaling and the training config."""

import json

import numpy as np
import pytest

from centernet_keras.training.config import TrainConfig
from centernet_keras.training.schedules import EpochSchedule, scale_lr


def test_cosine_warmup_then_decay_to_min():
    s = EpochSchedule(1e-3, 1e-5, total_epochs=10, steps_per_epoch=10, warmup_epochs=2)
    lr = np.array([float(s(step)) for step in range(0, 101)])
    np.testing.assert_allclose(lr[0], 1e-4, rtol=1e-6)  # warmup starts at lr / 10
    np.testing.assert_allclose(lr[20], 1e-3, rtol=1e-6)  # peak after warmup
    np.testing.assert_allclose(lr[100], 1e-5, rtol=1e-5)  # min at the end
    assert np.all(np.diff(lr[:20]) > 0) and np.all(np.diff(lr[20:]) <= 1e-12)


def test_second_phase_continues_the_same_curve():
    whole = EpochSchedule(1e-3, 1e-5, 10, steps_per_epoch=10, warmup_epochs=1)
    # phase 2 from epoch 4 with a different batch size (20 steps per epoch), new step counter
    phase2 = EpochSchedule(1e-3, 1e-5, 10, steps_per_epoch=20, warmup_epochs=1, epoch_offset=4)
    for epoch in (4.0, 5.5, 9.0):
        np.testing.assert_allclose(
            float(phase2(int((epoch - 4) * 20))), float(whole(int(epoch * 10))), rtol=1e-6
        )


def test_step_schedule_ends_at_min_lr():
    s = EpochSchedule(1e-2, 1e-4, total_epochs=10, steps_per_epoch=1, kind="step", num_steps=3)
    values = [float(s(e)) for e in range(10)]
    assert values[0] == pytest.approx(1e-2) and values[-1] == pytest.approx(1e-4)
    assert len(set(np.round(values, 10))) == 3


def test_lr_scales_with_batch_within_limits():
    assert scale_lr(5e-4, 5e-6, 64, "adam")[0] == pytest.approx(5e-4)
    assert scale_lr(5e-4, 5e-6, 8, "adam")[0] == pytest.approx(2.5e-4)  # clamped at the min
    assert scale_lr(1e-2, 1e-4, 32, "sgd")[0] == pytest.approx(5e-3)


def test_config_json_round_trip_and_errors(tmp_path):
    config = TrainConfig(input_size=[256, 320], weights="none", epochs=5, freeze_epochs=2)
    assert config.weights is None and config.resolved_min_lr == pytest.approx(config.lr / 100)
    path = tmp_path / "c.json"
    config.save(path)
    again = TrainConfig.from_json(path, epochs=7)
    assert again.input_size == (256, 320) and again.epochs == 7
    path.write_text(json.dumps({"epochz": 3}))
    with pytest.raises(ValueError, match="unknown config keys"):
        TrainConfig.from_json(path)
    with pytest.raises(ValueError, match="multiples of 32"):
        TrainConfig(input_size=(100, 128))
    with pytest.raises(ValueError, match="freeze_epochs"):
        TrainConfig(freeze_epochs=5, epochs=3)
