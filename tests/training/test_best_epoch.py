"""Which epoch ``best.keras`` holds: the best validation metric (a pose model's keypoint AP,
else box mAP) among the evaluated epochs, the validation loss only where no metric was measured
(issue 26, point 2).

The training runs are real (64 px, tiny backbone, a few steps); the metric and the validation
loss of each epoch are set by the test (the validation pass and the evaluation still run), so
the situation of the issue is deterministic: epoch 1 has the lowest validation loss and no
detections, a later epoch the best metric.
"""

import csv
import json
import logging
from types import SimpleNamespace

import keras
import numpy as np
import pytest
from conftest import TINY_MODEL, config_dict
from helpers import load_script

from centernet_keras import evaluation
from centernet_keras.data.synthetic_pose import generate_pose_dataset
from centernet_keras.training import TrainConfig, train
from centernet_keras.training.callbacks import BestEpoch
from centernet_keras.training.map_callback import MapCallback


def _control(monkeypatch, val_loss: list[float], metrics: dict[str, list[float]]) -> dict:
    """Make epoch ``e`` (0-based) log ``val_loss[e]`` and evaluate to ``metrics[m][e]`` for
    each evaluation metric ``m`` (after running the real evaluation). Returns ``{"weights":
    {epoch (1-based): weights at its end}, "evaluated": [(epoch, metric)]}``."""
    seen = {"weights": {}, "evaluated": [], "epoch": None}
    on_epoch_end, real_evaluate = MapCallback.on_epoch_end, evaluation.evaluate

    def controlled_epoch_end(self, epoch, logs=None):
        seen["epoch"] = epoch
        logs["val_loss"] = val_loss[epoch]
        seen["weights"][epoch + 1] = self.model.get_weights()
        on_epoch_end(self, epoch, logs)

    def controlled_evaluate(ground_truth, detections, metric="voc07", *args, **kwargs):
        real_evaluate(ground_truth, detections, metric, *args, **kwargs)
        seen["evaluated"].append((seen["epoch"] + 1, metric))
        return SimpleNamespace(mean_ap=metrics[metric][seen["epoch"]])

    monkeypatch.setattr(MapCallback, "on_epoch_end", controlled_epoch_end)
    monkeypatch.setattr(evaluation, "evaluate", controlled_evaluate)
    return seen


def _state(save_dir) -> dict:
    return json.loads((save_dir / "train_state.json").read_text())


def _log_rows(save_dir) -> list[dict]:
    with open(save_dir / "log.csv") as f:
        return list(csv.DictReader(f))


def _same_weights(path, weights) -> bool:
    saved = keras.saving.load_model(path, safe_mode=True).get_weights()
    return len(saved) == len(weights) and all(map(np.array_equal, saved, weights))


def test_the_rule_ranks_metrics_above_losses_and_breaks_metric_ties_by_loss():
    by_loss = BestEpoch.of_epoch(1, {"val_loss": 0.1}, "val_loss")
    no_detections = BestEpoch.of_epoch(2, {"val_loss": 5.0, "val_map": 0.0}, "val_loss")
    found = BestEpoch.of_epoch(3, {"val_loss": 9.0, "val_map": 0.2}, "val_loss")
    assert by_loss.metric == "val_loss" and no_detections.metric == "val_map"
    assert no_detections.beats(by_loss) and not by_loss.beats(no_detections)
    assert found.beats(no_detections)
    # an epoch without a metric never replaces an evaluated one, however low its loss
    assert not BestEpoch.of_epoch(4, {"val_loss": 0.01}, "val_loss").beats(found)
    # equal metric: the lower validation loss
    tie = BestEpoch.of_epoch(5, {"val_loss": 8.0, "val_map": 0.2}, "val_loss")
    assert tie.beats(found) and not found.beats(tie)
    # a pose model's keypoint AP decides over box mAP
    pose = BestEpoch.of_epoch(6, {"val_map": 0.0, "val_keypoint_ap": 0.1}, "val_loss")
    assert pose.metric == "val_keypoint_ap" and pose.value == 0.1
    # no finite value: no candidate; the state round trip
    assert BestEpoch.of_epoch(7, {"val_loss": float("nan")}, "val_loss") is None
    assert BestEpoch.from_state(found.to_state()) == found


@pytest.fixture(scope="module")
def pose_data(tmp_path_factory) -> dict:
    """A 12-image synthetic keypoints dataset (3 validation images)."""
    return generate_pose_dataset(tmp_path_factory.mktemp("pose"), 12, seed=1, val_fraction=0.25)


@pytest.mark.slow
def test_pose_run_keeps_the_epoch_of_the_best_keypoint_ap_not_the_lowest_val_loss(
    pose_data, tmp_path, monkeypatch, capsys, caplog
):
    """The issue's pose run: epoch 1 has the lowest validation loss and no detections (AP 0);
    keypoint AP is best at epoch 2, box mAP at epoch 3. best.keras is epoch 2, said so."""
    seen = _control(
        monkeypatch,
        val_loss=[0.5, 2.0, 3.0],
        metrics={"voc07": [0.0, 0.2, 0.3], "keypoints": [0.0, 0.4, 0.1]},
    )
    argv = ["--detector", "pose", "--train-json", str(pose_data["train"])]
    argv += ["--train-images", str(pose_data["images"]), "--val-json", str(pose_data["val"])]
    argv += ["--val-images", str(pose_data["images"]), "--backbone", TINY_MODEL["backbone"]]
    argv += ["--weights", "none", "--input-size", "64", "--neck-filters", "16,16,16"]
    argv += ["--head-channels", "8", "--epochs", "3", "--freeze-epochs", "0", "--eval-every", "1"]
    argv += ["--batch-size", "2", "--steps-per-epoch", "2", "--save-dir", str(tmp_path), "--quiet"]
    caplog.set_level(logging.INFO, logger="centernet_keras.training")
    assert load_script("train.py").main(argv) == 0

    # keypoint AP measured (the real evaluation ran) after every epoch, next to box mAP
    assert seen["evaluated"] == [(e, m) for e in (1, 2, 3) for m in ("voc07", "keypoints")]
    rows = _log_rows(tmp_path)
    assert [float(r["val_keypoint_ap"]) for r in rows] == [0.0, 0.4, 0.1]
    assert [float(r["val_map"]) for r in rows] == [0.0, 0.2, 0.3]
    assert min(rows, key=lambda r: float(r["val_loss"]))["epoch"] == "1"
    assert "epoch 2: val mAP@0.5 (VOC07) = 0.2000, keypoint AP (OKS AP@[.5:.95]) = 0.4000" in (
        caplog.text
    )
    # best.keras: epoch 2, printed when it changed, at the end, and in train_state.json
    assert _same_weights(tmp_path / "best.keras", seen["weights"][2])
    assert not _same_weights(tmp_path / "best.keras", seen["weights"][1])
    state = _state(tmp_path)
    assert (state["best_epoch"], state["best_metric"], state["best_value"]) == (
        2, "val_keypoint_ap", 0.4,
    )  # fmt: skip
    assert "best.keras is now epoch 2, val_keypoint_ap 0.4000" in caplog.text
    out = capsys.readouterr().out
    assert "best.keras (epoch 2 of 3, val_keypoint_ap 0.4000) and last.keras" in out


@pytest.mark.slow
def test_eval_every_2_best_among_evaluated_epochs_and_resume_keeps_it(
    tiny_voc, tmp_path, monkeypatch
):
    """--eval-every 2: epoch 1 (not evaluated) is best by its loss until epoch 2 is evaluated;
    then epochs 3 and 4 (lower losses; epoch 4's mAP lower) do not replace it, across a
    --resume after epoch 2."""
    seen = _control(
        monkeypatch, val_loss=[3.0, 2.0, 1.0, 0.5], metrics={"voc07": [None, 0.5, None, 0.3]}
    )
    settings = config_dict(tiny_voc, tmp_path, epochs=4, freeze_epochs=0, eval_every=2,
                           steps_per_epoch=2)  # fmt: skip
    config = TrainConfig.from_dict(settings)

    class StopAfterEpoch1(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            state = _state(tmp_path) if epoch == 1 else None  # after the commit of epoch 1
            assert state is None or state["best_epoch"] == 1
            self.model.stop_training = epoch == 1  # stop after epoch 2

    train(config, verbose=0, extra_callbacks=[StopAfterEpoch1()])
    state = _state(tmp_path)
    assert state["epoch"] == 2 and (state["best_epoch"], state["best_metric"]) == (2, "val_map")

    result = train(config, resume=True, verbose=0)
    state = _state(tmp_path)
    assert state["epoch"] == 4
    assert (state["best_epoch"], state["best_metric"], state["best_value"]) == (2, "val_map", 0.5)
    assert result.best == BestEpoch(2, "val_map", 0.5, 2.0)
    assert _same_weights(tmp_path / "best.keras", seen["weights"][2])
    assert [r["val_map"] for r in _log_rows(tmp_path)] == ["", "0.5", "", "0.3"]
