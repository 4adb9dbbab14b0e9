"""End-to-end training: outputs, kill -9 + --resume, mirrored strategy, bad class ids."""

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
from conftest import assert_training_pictures, config_dict

from centernet_keras.training import TrainConfig, train
from centernet_keras.training.callbacks import CRASH_ENV

REPO = Path(__file__).resolve().parents[2]


def _state(save_dir: Path) -> dict | None:
    path = save_dir / "train_state.json"
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


@pytest.mark.slow
def test_train_writes_checkpoints_logs_and_learns(tiny_voc, tmp_path, capsys):
    config = TrainConfig.from_dict(config_dict(tiny_voc, tmp_path, epochs=4, eval_every=2))
    result = train(config, verbose=2)
    printed = capsys.readouterr().out
    epoch_lines = [line for line in printed.splitlines() if " - loss: " in line]
    assert len(epoch_lines) == 4
    # only what was measured: val_map on epochs 2 and 4, no NaN, no float "counts"
    assert ["val_map: " in line for line in epoch_lines] == [False, True, False, True]
    assert "nan" not in printed and "skipped_images" not in printed
    for name in (
        "last.keras",
        "best.keras",
        "config.json",
        "log.csv",
        "loss.png",
        "train_state.json",
    ):
        assert (tmp_path / name).exists(), name
    assert any((tmp_path / "tensorboard").rglob("events.*"))
    state = _state(tmp_path)
    steps = len((Path(tiny_voc["train"])).read_text().splitlines()) // 4
    assert state["epoch"] == 4 and state["phase"] == "unfreeze"
    assert state["optimizer_iterations"] == 3 * steps  # phase 2: epochs 2..4
    with open(tmp_path / "log.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    assert [r["val_map"] for r in rows][::2] == ["", ""]  # evaluated after epochs 2 and 4 only
    assert all(0.0 <= float(r["val_map"]) <= 1.0 for r in rows[1::2])
    assert [r["skipped_images"] for r in rows] == ["0"] * 4
    lr = [float(r["lr"]) for r in rows]  # cosine from 2e-3 (scale_lr off) down to 2e-5
    assert lr[0] > lr[1] > lr[2] > lr[3] == pytest.approx(2e-5)
    loss = result.history["loss"]
    assert loss[-1] < loss[0]
    model = keras.saving.load_model(tmp_path / "best.keras", safe_mode=True)
    assert model.class_names == tuple(Path(tiny_voc["classes"]).read_text().split())
    assert json.loads((tmp_path / "config.json").read_text())["epochs"] == 4
    assert_training_pictures(tmp_path, tiny_voc["val"], list(model.class_names))


def _run_train(
    config: dict, save_dir: Path, resume: bool = False, crash: str | None = None
) -> subprocess.Popen:
    save_dir.mkdir(parents=True, exist_ok=True)
    path = save_dir.parent / f"{save_dir.name}.json"
    path.write_text(json.dumps(config))
    args = [sys.executable, str(REPO / "train.py"), "--config", str(path), "--quiet"]
    if resume:
        args.append("--resume")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    if crash:
        env[CRASH_ENV] = crash
    return subprocess.Popen(
        args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def _log_rows(save_dir: Path) -> list[dict]:
    with open(save_dir / "log.csv") as f:
        return list(csv.DictReader(f))


def _weights(path: Path) -> np.ndarray:
    model = keras.saving.load_model(path, safe_mode=True)
    return np.concatenate([np.ravel(keras.ops.convert_to_numpy(w)) for w in model.weights])


# (moment, what is committed afterwards): a kill at each kind of moment of an epoch, one per run
KILLS = [
    ("best_written:1", None),  # epoch 1's checkpoints written, state not yet: not committed
    ("batch1:2", 1),  # mid-epoch (the tracing of the resumed run is done, its epoch is not)
    ("last_written:3", 2),  # first epoch of phase 2 (new optimizer), before its commit
    ("committed:4", 4),  # after the commit, before the renames and the log row
    ("renamed:5", 5),  # after the renames, before the log row
]


@pytest.mark.slow
def test_kill_9_at_every_moment_then_resume_equals_the_unbroken_run(tiny_voc, tmp_path):
    settings = {"epochs": 6, "freeze_epochs": 2, "steps_per_epoch": 3, "val_annotations": None}
    unbroken_dir, broken_dir = tmp_path / "unbroken", tmp_path / "broken"
    unbroken = _run_train(config_dict(tiny_voc, unbroken_dir, **settings), unbroken_dir)
    for number, (crash, committed) in enumerate(KILLS):  # while the unbroken run trains
        run = _run_train(
            config_dict(tiny_voc, broken_dir, **settings), broken_dir, number > 0, crash
        )
        out = run.communicate(timeout=600)[0].decode()
        assert run.returncode == -signal.SIGKILL, f"{crash}: {out[-3000:]}"
        assert (_state(broken_dir) or {}).get("epoch") == committed, crash
    resumed = _run_train(config_dict(tiny_voc, broken_dir, **settings), broken_dir, True)
    out = resumed.communicate(timeout=600)[0].decode()
    assert resumed.returncode == 0, out[-3000:]
    assert unbroken.wait(timeout=600) == 0, unbroken.stdout.read().decode()[-3000:]

    final, reference = _state(broken_dir), _state(unbroken_dir)
    assert final["epoch"] == reference["epoch"] == 6
    assert final["optimizer_iterations"] == reference["optimizer_iterations"] == 4 * 3
    rows, reference_rows = _log_rows(broken_dir), _log_rows(unbroken_dir)
    assert [int(r["epoch"]) for r in rows] == list(range(1, 7))  # each epoch once
    for row, ref in zip(rows, reference_rows, strict=True):
        for key in ("loss", "lr"):
            assert float(row[key]) == pytest.approx(float(ref[key]), rel=1e-4), (key, row)
    for name in ("last.keras", "best.keras"):  # the same model as the unbroken run's
        ours, theirs = _weights(broken_dir / name), _weights(unbroken_dir / name)
        assert np.linalg.norm(ours - theirs) <= 1e-4 * np.linalg.norm(theirs), name
    assert sorted(p.name for p in broken_dir.iterdir() if p.name.startswith(".")) == []

    # a finished run cannot silently be "resumed" with more epochs: it says what to do
    again = _run_train({**config_dict(tiny_voc, unbroken_dir, **settings), "epochs": 9},
                       unbroken_dir, resume=True)  # fmt: skip
    out = again.communicate(timeout=600)[0].decode()
    assert again.returncode == 2 and "--model-path" in out, out[-2000:]


MIRRORED = textwrap.dedent(
    """
    import json, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
    )
    from centernet_keras.training import TrainConfig, train
    from centernet_keras.training.trainer import make_strategy
    assert make_strategy("mirrored").num_replicas_in_sync == 2
    result = train(TrainConfig.from_dict(json.loads(sys.argv[1])), verbose=0)
    print(json.dumps(result.history["loss"]))
    """
)


@pytest.mark.slow
def test_mirrored_strategy_on_two_logical_cpus_trains(tiny_voc, tmp_path):
    config = config_dict(tiny_voc, tmp_path, strategy="mirrored", epochs=3, freeze_epochs=0)
    out = subprocess.run(
        [sys.executable, "-c", MIRRORED, json.dumps(config)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    loss = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(loss) == 3 and np.all(np.isfinite(loss)) and loss[-1] < loss[0]


def test_unknown_class_ids_are_dropped_and_counted(tiny_voc, tmp_path, caplog):
    lines = Path(tiny_voc["train"]).read_text().splitlines()
    bad = tmp_path / "train.txt"
    bad.write_text("\n".join([lines[0] + " 1,1,20,20,9", *lines[1:]]) + "\n")
    from centernet_keras.training.data import load_records

    records, dropped = load_records(bad, num_classes=5)
    assert dropped == 1 and len(records) == len(lines)
    assert "class id outside 0..4" in caplog.text


def test_resume_without_a_run_is_a_clear_error(tiny_voc, tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        train(TrainConfig.from_dict(config_dict(tiny_voc, tmp_path)), resume=True)


class _StopAfterFirstEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        self.model.stop_training = True


@pytest.mark.slow
def test_a_callback_that_stops_training_is_not_reported_as_nan(tiny_voc, tmp_path, caplog):
    import logging

    settings = config_dict(tiny_voc, tmp_path, epochs=3, steps_per_epoch=2, val_annotations=None)
    with caplog.at_level(logging.WARNING, logger="centernet_keras.training"):
        result = train(TrainConfig.from_dict(settings), verbose=0,
                       extra_callbacks=[_StopAfterFirstEpoch()])  # fmt: skip
    assert len(result.history["loss"]) == 1
    assert "NaN" not in caplog.text and "stopped early by a callback" in caplog.text
