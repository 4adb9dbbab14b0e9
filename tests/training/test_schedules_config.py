"""LR schedules, LR scaling and the training config."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from centernet_keras.data.augment import AugmentConfig
from centernet_keras.training.config import ModelConfig, TrainConfig
from centernet_keras.training.schedules import EpochSchedule, scale_lr

ROOT = Path(__file__).resolve().parents[2]
FLAT_CONFIG = ROOT / "tests" / "data" / "configs" / "flat_config_v0.json"


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
    config = TrainConfig.from_dict(
        {"input_size": [256, 320], "weights": "none", "epochs": 5, "freeze_epochs": 2}
    )
    assert config.model.weights is None
    assert config.resolved_min_lr == pytest.approx(config.lr / 100)
    path = tmp_path / "c.json"
    config.save(path)
    again = TrainConfig.from_json(path, epochs=7)
    assert again.model.input_size == (256, 320) and again.epochs == 7
    path.write_text(json.dumps({"epochz": 3}))
    with pytest.raises(ValueError, match="unknown config keys"):
        TrainConfig.from_json(path)
    with pytest.raises(ValueError, match="multiples of 32"):
        TrainConfig.from_dict({"input_size": (100, 128)})
    with pytest.raises(ValueError, match="--freeze-epochs"):
        TrainConfig(freeze_epochs=5, epochs=3)


def test_config_json_has_sections_and_round_trips(tmp_path):
    config = TrainConfig(
        model=ModelConfig(backbone="resnet18", input_size=(256, 320), neck_filters=[64, 32, 16]),
        augment=AugmentConfig(enabled=False, jitter=0.2, scale_range=[0.5, 1.5]),
        eval_score_threshold=0.05,
    )
    path = tmp_path / "config.json"
    config.save(path)
    saved = json.loads(path.read_text())
    assert saved["model"]["backbone"] == "resnet18" and saved["model"]["detector"] == "centernet"
    assert saved["augment"]["enabled"] is False and saved["augment"]["jitter"] == 0.2
    assert saved["eval_score_threshold"] == 0.05
    assert not {"backbone", "input_size", "jitter", "eval_confidence", "extra"} & set(saved)
    again = TrainConfig.from_json(path)
    assert again == config
    assert again.model.input_size == (256, 320) and again.augment.scale_range == (0.5, 1.5)
    # flags are flat and land in their section, next to what the file has there
    flagged = TrainConfig.from_json(path, backbone="resnet50", hue=0.0, augment=True)
    assert flagged.model == dataclasses.replace(config.model, backbone="resnet50")
    assert flagged.augment == dataclasses.replace(config.augment, hue=0.0, enabled=True)
    path.write_text(json.dumps({"model": {"backbon": "resnet18"}}))
    with pytest.raises(ValueError, match=r"unknown config keys \['model.backbon'\]"):
        TrainConfig.from_json(path)
    with pytest.raises(ValueError, match="detector must be one of"):
        TrainConfig.from_dict({"model": {"detector": "yolo"}})


def test_a_flat_config_of_earlier_versions_loads(tmp_path):
    """config.json as the trainer wrote it before the sections (tests/data/configs)."""
    flat = json.loads(FLAT_CONFIG.read_text())
    config = TrainConfig.from_json(FLAT_CONFIG)
    assert config.model == ModelConfig(
        detector="centernet", backbone="resnet18", input_size=(256, 320), weights=None,
        neck_filters=(64, 32, 16), head_channels=32, image_resize="resize",
    )  # fmt: skip
    assert config.augment == AugmentConfig(
        enabled=False, jitter=0.2, scale_range=(0.5, 1.5), flip_prob=0.25, hue=0.05, sat=1.25,
        val=1.2,
    )  # fmt: skip
    assert config.eval_score_threshold == flat["eval_confidence"] == 0.05
    assert (config.max_objects, config.epochs, config.freeze_epochs) == (50, 6, 2)
    assert (config.lr, config.min_lr) == (0.001, 1e-05)
    # flat settings given as a dict, an empty "extra" of older versions, and flat overrides
    assert TrainConfig.from_dict({**flat, "extra": {}}) == config
    assert TrainConfig.from_json(FLAT_CONFIG, backbone="resnet50").model.backbone == "resnet50"
    # saved again, it is sectioned and loads to the same config
    config.save(tmp_path / "config.json")
    assert "model" in json.loads((tmp_path / "config.json").read_text())
    assert TrainConfig.from_json(tmp_path / "config.json") == config


def test_the_demo_config_loads():
    config = TrainConfig.from_json(ROOT / "model_data" / "demo_config.json")
    assert config.model.backbone == "mobilenetv3_small_fpn" and config.model.input_size == (
        128,
        128,
    )
    assert config.augment.scale_range == (0.75, 1.25) and config.augment.hue == 0.0


def test_the_pose_demo_config_loads():
    config = TrainConfig.from_json(ROOT / "model_data" / "demo_pose_config.json")
    assert config.model.detector == "pose" and config.train_json and config.val_json
    assert config.train_annotations is None and config.model.weights is None


def test_the_fcos_demo_config_loads():
    config = TrainConfig.from_json(ROOT / "model_data" / "demo_fcos_config.json")
    assert config.model.detector == "fcos" and config.model.neck_filters == (64,)
