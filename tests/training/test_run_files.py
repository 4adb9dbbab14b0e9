"""A run's files and lines agree with themselves (issue 26, point 7): ``log.csv`` counts epochs
from 1 as the console does, with its columns fixed by its first row, and an earlier version's
0-based log resumes; a new run in a used ``--save-dir`` leaves none of the earlier run's files;
the skip count of the final line counts the images warned about; the weights line does not read
as if BatchNorm statistics were frozen weights."""

import contextlib
import csv
import io
import json
import logging
import re

import keras
import pytest
from coco_data import write_coco
from conftest import TINY_MODEL, config_dict
from helpers import load_script

from centernet_keras.training import TrainConfig, train
from centernet_keras.training.callbacks import recover


def _log(save_dir) -> tuple[list[str], list[dict]]:
    with open(save_dir / "log.csv", newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames), list(reader)


def _state(save_dir) -> dict:
    return json.loads((save_dir / "train_state.json").read_text())


def _write_log(path, columns: list[str], rows: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, columns, restval="")
        writer.writeheader()
        writer.writerows(rows)


class _StopAfterFirstEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        self.model.stop_training = True  # the epoch is still committed (a later callback)


@pytest.mark.slow
def test_log_csv_counts_from_1_with_fixed_columns_and_an_old_log_resumes(tiny_voc, tmp_path):
    """--eval-every 2 of 3 epochs: epoch 1 not evaluated, yet its row has the val_map column
    (empty) where an evaluated epoch's row has it; the run, its log made 0-based as an earlier
    version wrote it, resumes through the CLI into one log counting 1, 2, 3."""
    settings = {"epochs": 3, "freeze_epochs": 0, "steps_per_epoch": 2, "batch_size": 2}
    config = TrainConfig.from_dict(config_dict(tiny_voc, tmp_path, eval_every=2, **settings))
    train(config, verbose=0, extra_callbacks=[_StopAfterFirstEpoch()])
    columns, rows = _log(tmp_path)
    assert [r["epoch"] for r in rows] == ["1"] == [str(_state(tmp_path)["epoch"])]
    assert rows[0]["val_map"] == ""  # measured on epochs 2 and 3 only
    metrics = [c for c in columns if c not in ("epoch", "lr", "skipped_images")]
    assert columns == ["epoch", *sorted(metrics), "lr", "skipped_images"]
    assert {"loss", "val_loss", "heatmap_loss", "val_map"} <= set(metrics)

    # the same run as an earlier version left it: epochs counted from 0 in log.csv and state
    state = _state(tmp_path)
    state["log_row"]["epoch"] = 0
    (tmp_path / "train_state.json").write_text(json.dumps(state))
    _write_log(tmp_path / "log.csv", columns, [{**rows[0], "epoch": "0"}])

    argv = ["--resume", "--save-dir", str(tmp_path), "--quiet"]
    assert load_script("train.py").main(argv) == 0
    resumed_columns, rows = _log(tmp_path)
    assert resumed_columns == columns
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert rows[0]["val_map"] == "" and all(0.0 <= float(r["val_map"]) <= 1.0 for r in rows[1:])
    assert _state(tmp_path)["epoch"] == 3 == int(_state(tmp_path)["log_row"]["epoch"])


@pytest.mark.parametrize("killed_before_the_row", [False, True])
def test_recover_counts_an_earlier_versions_log_from_1(tmp_path, killed_before_the_row):
    """A 0-based log.csv and state row (committed epoch 3) read back 1-based, each epoch once,
    also when the kill came after the commit and before the row was appended."""
    rows = [{"epoch": str(e), "loss": str(3.0 - e), "lr": "0.001"} for e in range(3)]
    state = {"epoch": 3, "phase": "unfreeze", "log_row": {**rows[-1], "epoch": 2}}
    (tmp_path / "train_state.json").write_text(json.dumps(state))
    _write_log(
        tmp_path / "log.csv", ["epoch", "loss", "lr"], rows[:2] if killed_before_the_row else rows
    )
    recover(tmp_path)
    columns, read = _log(tmp_path)
    assert columns == ["epoch", "loss", "lr"]
    assert [(r["epoch"], r["loss"]) for r in read] == [("1", "3.0"), ("2", "2.0"), ("3", "1.0")]
    recover(tmp_path)  # again: nothing changes
    assert _log(tmp_path)[1] == read


#: What an earlier run left in the folder (a run with a validation set; a file of the user's).
EARLIER_RUN = [
    "train_state.json", "log.csv", "best.keras", "last.keras", "config.json", "loss.png",
    "results.png", "val_predictions.jpg", "confusion_matrix.png", "confusion_matrix.csv",
    "tensorboard/train/events.out.tfevents.1.earlier", "notes.txt",
]  # fmt: skip


@pytest.fixture(scope="module")
def reused_save_dir(tmp_path_factory) -> dict:
    """``train`` through the CLI on a COCO JSON whose entries name 2 missing images, without
    a validation set, into a folder that holds an earlier run's files."""
    root = tmp_path_factory.mktemp("reuse")
    json_path, image_dir = write_coco(root / "coco")
    data = json.loads(json_path.read_text())
    for k in range(2):
        data["images"].append(
            {"id": 900 + k, "file_name": f"gone{k}.jpg", "width": 64, "height": 64}
        )
    json_path.write_text(json.dumps(data))
    save_dir = root / "run"
    for name in EARLIER_RUN:
        (save_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (save_dir / name).write_text(
            '{"epoch": 5, "phase": "unfreeze"}' if name.endswith(".json") else "earlier"
        )
    argv = ["--train-json", str(json_path), "--train-images", str(image_dir)]
    argv += ["--backbone", TINY_MODEL["backbone"], "--weights", "none", "--input-size", "64"]
    argv += ["--neck-filters", "16,16,16", "--head-channels", "8", "--epochs", "1"]
    argv += ["--freeze-epochs", "0", "--batch-size", "2", "--steps-per-epoch", "2", "--quiet"]
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = records.append
    logger = logging.getLogger("centernet_keras")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            code = load_script("train.py").main([*argv, "--save-dir", str(save_dir)])
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    return {"code": code, "out": out.getvalue(), "log": [r.getMessage() for r in records],
            "save_dir": save_dir}  # fmt: skip


@pytest.mark.slow
def test_a_new_run_in_a_used_save_dir_holds_only_its_own_files(reused_save_dir):
    assert reused_save_dir["code"] == 0, reused_save_dir["out"]
    save_dir = reused_save_dir["save_dir"]
    files = sorted(str(p.relative_to(save_dir)) for p in save_dir.rglob("*") if p.is_file())
    written = {"train_state.json", "log.csv", "best.keras", "last.keras", "config.json",
               "loss.png", "results.png", "notes.txt"}  # fmt: skip
    events = [f for f in files if f.startswith("tensorboard/")]
    assert set(files) - set(events) == written
    assert events and all("earlier" not in f for f in events)
    assert (save_dir / "notes.txt").read_text() == "earlier"  # not the run's: kept
    for name in ("best.keras", "last.keras"):  # the earlier ones replaced
        keras.saving.load_model(save_dir / name, safe_mode=True)
    assert _state(save_dir)["epoch"] == 1


@pytest.mark.slow
def test_the_skip_count_counts_the_images_warned_about(reused_save_dir):
    warned = [m for m in reused_save_dir["log"] if "image skipped" in m]
    assert len(warned) == 2 and all("gone" in m for m in warned)
    assert f"({len(warned)} images skipped)" in reused_save_dir["out"]


@pytest.mark.slow
def test_the_weights_line_tells_batchnorm_statistics_from_frozen_weights(reused_save_dir):
    model = keras.saving.load_model(reused_save_dir["save_dir"] / "last.keras", safe_mode=True)
    lines = [m for m in reused_save_dir["log"] if "unfreeze phase, epochs 1-1" in m]
    assert len(lines) == 1
    found = re.search(
        r"(\d+) weights trainable, (\d+) frozen, (\d+) BatchNorm statistics \(moving averages, "
        r"not trained\)",
        lines[0],
    )
    assert found, lines[0]
    statistics = [w for w in model.weights if w.path.endswith(("moving_mean", "moving_variance"))]
    assert statistics and len(statistics) == len(model.non_trainable_weights)
    assert [int(n) for n in found.groups()] == [len(model.trainable_weights), 0, len(statistics)]
