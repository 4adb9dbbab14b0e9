"""``--resume`` with settings other than the run's (issue 26, point 3): refused where the resumed
run cannot honour them (one line naming the flag, the value given and the run's; exit 2;
config.json untouched), accepted with a warning where it can, the LR schedule rebuilt for a
new batch size so that the LR still follows the run's epochs."""

import csv
import dataclasses
import json
import logging
from pathlib import Path

import keras
import pytest
from conftest import config_dict
from helpers import load_script

from centernet_keras.training import TrainConfig, train
from centernet_keras.training.config import FLAT_KEYS, ModelConfig
from centernet_keras.training.resume import KINDS, Change, flag_name
from centernet_keras.training.schedules import EpochSchedule
from centernet_keras.training.trainer import resumed_offset


@pytest.fixture(scope="module")
def train_cli():
    return load_script("train.py")


def test_every_setting_has_a_resume_kind():
    keys = [f.name for f in dataclasses.fields(TrainConfig)]
    keys += [f"model.{f.name}" for f in dataclasses.fields(ModelConfig)]
    keys += [f"augment.{f.name}" for f in dataclasses.fields(TrainConfig().augment)]
    for key in keys:
        assert key in KINDS or key.split(".")[0] in KINDS, key
    assert set(KINDS.values()) == {"fixed", "rebuilt", "inexact", "free"}


def test_the_messages_name_the_train_flags(train_cli):
    parser_flags = {
        action.dest: action.option_strings[0]
        for action in train_cli.build_parser()._actions
        if action.option_strings
    }
    for flat, (section, field) in FLAT_KEYS.items():
        assert flat in parser_flags or flag_name(f"{section}.{field}").endswith("(--config)")
    named = 0
    for flat, flag in parser_flags.items():
        if flat in ("help", "config", "resume", "quiet"):
            continue
        section = FLAT_KEYS.get(flat, (None,))[0]
        key = f"{section}.{FLAT_KEYS[flat][1]}" if section else flat
        assert flag_name(key) == flag
        named += 1
    # every setting with a flag: the 37 of before issue 23 (30 table rows, 7 hand-written) and
    # its 4 TFDS settings (--train-tfds, --val-tfds, --data-dir, --tfds-download)
    assert named == 41
    for flag in ("--detector", "--input-size", "--neck", "--neck-filters", "--mixed-precision"):
        field = flag[2:].replace("-", "_")
        key = f"model.{field}" if field in FLAT_KEYS else field
        assert flag_name(key) == flag
    assert Change("batch_size", 4, 2).describe() == "--batch-size 2 (the run's: 4)"
    assert Change("model.input_size", (64, 64), (96, 96)).describe() == (
        "--input-size 96,96 (the run's: 64,64)"
    )
    assert Change("scale_lr", True, False).describe() == "--no-scale-lr (the run's: --scale-lr)"


def test_the_rebuilt_schedule_gives_the_issues_lr_after_epoch_4():
    """The issue's run: 300 images, 8 epochs, Adam at 2.5e-4 (scaled and clamped), batch 8
    (37 steps) for 2 epochs, resumed at batch 4 (75 steps). The saved schedule counts the new
    steps as old ones: 4.68e-5 after epoch 4 (the schedule thinks 6.05 epochs passed). Rebuilt,
    it gives the unbroken run's 1.54e-4."""
    old, new = 37, 75
    iterations = 2 * old + 2 * new  # after epoch 4

    def schedule(steps, offset=0.0):
        return EpochSchedule(2.5e-4, 2.5e-6, 8, steps, "cos", 1.0, offset)

    saved = float(schedule(old)(iterations))
    rebuilt = float(schedule(new, resumed_offset(2, 2 * old, new))(iterations))
    unbroken = float(schedule(old)(4 * old))
    assert round(saved, 7) == 4.68e-5  # the issue's figures, to the digits it gives
    assert round(unbroken, 6) == 1.54e-4
    assert rebuilt == pytest.approx(unbroken, rel=1e-6)


class _StopAfter(keras.callbacks.Callback):
    def __init__(self, epochs: int):
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        self.model.stop_training = epoch + 1 == self.epochs  # the epoch is still committed


@pytest.fixture(scope="module")
def stopped_run(tiny_voc, tmp_path_factory) -> dict:
    """A run of 3 epochs stopped after its first (64 px, 2 steps, no validation)."""
    save_dir = tmp_path_factory.mktemp("stopped")
    settings = config_dict(tiny_voc, save_dir, epochs=3, freeze_epochs=0, steps_per_epoch=2,
                           val_annotations=None)  # fmt: skip
    train(TrainConfig.from_dict(settings), verbose=0, extra_callbacks=[_StopAfter(1)])
    return {"save_dir": save_dir, "config": (save_dir / "config.json").read_text()}


@pytest.mark.slow
@pytest.mark.parametrize(
    "argv, message",
    [
        (["--lr", "0.01"], "--lr 0.01 (the run's: 0.002)"),
        (["--input-size", "96"], "--input-size 96,96 (the run's: 64,64)"),
        (["--optimizer", "sgd"], "--optimizer sgd (the run's: adam)"),
        (["--warmup-epochs", "0"], "--warmup-epochs 0 (the run's: 1)"),
        (["--backbone", "resnet34", "--mixed-precision"], "--backbone resnet34 (the run's: "),
    ],
)
def test_resume_refuses_what_it_cannot_honour(train_cli, stopped_run, capsys, argv, message):
    save_dir = stopped_run["save_dir"]
    rc = train_cli.main(["--resume", "--save-dir", str(save_dir), "--quiet", *argv])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert err.startswith("error: --resume cannot change how the run") and message in err
    assert "\n" not in err and f"--model-path {save_dir / 'last.keras'}" in err
    assert (save_dir / "config.json").read_text() == stopped_run["config"]
    assert json.loads((save_dir / "train_state.json").read_text())["epoch"] == 1
    if "--mixed-precision" in argv:  # every refused flag is named
        assert "--mixed-precision (the run's: no --mixed-precision)" in err


@pytest.mark.slow
def test_resume_with_another_batch_size_warns_and_rebuilds_the_schedule(
    train_cli, tiny_voc, tmp_path, caplog
):
    """The issue's setup at tiny scale: batch 4 for 2 of 4 epochs, resumed at batch 2 (twice
    the steps per epoch). The LR after epoch 3 is the unbroken run's (the saved schedule would
    be at its end, min_lr, a whole epoch early); config.json records the new batch, and the
    warning and train_state.json say so."""
    lines = Path(tiny_voc["train"]).read_text().splitlines()[:16]  # 4 steps at batch 4
    (tmp_path / "train.txt").write_text("\n".join(lines) + "\n")
    save_dir = tmp_path / "run"
    settings = config_dict(tiny_voc, save_dir, epochs=4, freeze_epochs=0,
                           train_annotations=str(tmp_path / "train.txt"),
                           val_annotations=None)  # fmt: skip
    train(TrainConfig.from_dict(settings), verbose=0, extra_callbacks=[_StopAfter(2)])
    before = json.loads((save_dir / "config.json").read_text())
    steps4 = 4

    caplog.set_level(logging.INFO, logger="centernet_keras.training")
    argv = ["--resume", "--save-dir", str(save_dir), "--batch-size", "2", "--quiet"]
    assert train_cli.main(argv) == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    said = [w for w in warnings if w.startswith("--resume with other settings")]
    assert len(said) == 1 and "--batch-size 2 (the run's: 4)" in said[0]
    assert "no longer exact" in said[0] and "LR schedule is rebuilt" in said[0]
    assert f"{save_dir / 'config.json'} now holds the new settings" in said[0]

    with open(save_dir / "log.csv") as f:
        lr = [float(row["lr"]) for row in csv.DictReader(f)]
    unbroken = EpochSchedule(2e-3, 2e-5, 4, steps4, "cos", 1.0)
    assert len(lr) == 4
    assert lr[:2] == pytest.approx([float(unbroken(e * steps4)) for e in (1, 2)], rel=1e-6)
    assert lr[2] == pytest.approx(float(unbroken(3 * steps4)), rel=1e-5)  # 5.15e-4, not 2e-5
    assert lr[3] == pytest.approx(2e-5, rel=1e-5)

    after = json.loads((save_dir / "config.json").read_text())
    assert after == {**before, "batch_size": 2}  # and nothing else changed
    state = json.loads((save_dir / "train_state.json").read_text())
    assert state["resumed_with_changes"] == [
        {"after_epoch": 2, "flag": "--batch-size", "run": 4, "given": 2}
    ]
    assert state["config"]["batch_size"] == 2
    assert state["optimizer_iterations"] == 2 * 4 + 2 * 8  # epochs 3 and 4 at batch 2
