"""train.py's flags reach the sectioned config (--detector among them); --resume of a run whose
config.json an earlier version wrote flat."""

import csv
import json
from pathlib import Path

import keras
import pytest
from conftest import config_dict
from helpers import load_script

from centernet_keras.commands.train_run import config_from_args
from centernet_keras.models.registry import detector_names
from centernet_keras.training import TrainConfig, train

FLAT_CONFIG = Path(__file__).resolve().parents[1] / "data" / "configs" / "flat_config_v0.json"


@pytest.fixture(scope="module")
def train_cli():
    return load_script("train.py")


def test_help_lists_the_detectors_with_the_default(train_cli, capsys):
    with pytest.raises(SystemExit) as exit_info:
        train_cli.parse_args(["--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert {"centernet", "fcos", "pose"} <= set(detector_names())  # and any a test registered
    assert f"--detector {{{','.join(detector_names())}}}" in text
    assert "the detector to train (default: centernet)" in text


def test_flags_land_in_their_sections(train_cli, tmp_path):
    argv = ["--detector", "centernet", "--backbone", "resnet18", "--input-size", "256"]
    argv += ["--neck-filters", "64,32,16", "--no-augment", "--epochs", "60"]
    config = config_from_args(train_cli.parse_args(argv))
    assert config.model.detector == "centernet" and config.model.backbone == "resnet18"
    assert config.model.input_size == (256, 256) and config.model.neck_filters == (64, 32, 16)
    assert config.augment.enabled is False and config.epochs == 60
    # over a flat --config file of an earlier version: the flags win, the rest is the file's
    path = tmp_path / "flat.json"
    path.write_text(FLAT_CONFIG.read_text())
    config = config_from_args(
        train_cli.parse_args(["--config", str(path), "--backbone", "resnet50"])
    )
    assert config.model.backbone == "resnet50" and config.model.input_size == (256, 320)
    assert config.augment.jitter == 0.2 and config.eval_score_threshold == 0.05


def test_an_unknown_detector_is_an_argparse_error(train_cli, capsys):
    with pytest.raises(SystemExit) as exit_info:
        train_cli.parse_args(["--detector", "yolo"])
    assert exit_info.value.code == 2
    assert "argument --detector: invalid choice: 'yolo'" in capsys.readouterr().err


class _StopAfterFirstEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        self.model.stop_training = True  # the epoch is still committed (later callback)


@pytest.mark.slow
def test_resume_a_run_whose_config_json_is_flat(train_cli, tiny_voc, tmp_path):
    """A run started by an earlier version (flat config.json with its field names) resumes."""
    settings = {"epochs": 2, "freeze_epochs": 1, "steps_per_epoch": 2, "val_annotations": None}
    flat = {**json.loads(FLAT_CONFIG.read_text()), **config_dict(tiny_voc, tmp_path, **settings)}
    assert "eval_confidence" in flat and "backbone" in flat  # the earlier version's form
    train(TrainConfig.from_dict(flat), verbose=0, extra_callbacks=[_StopAfterFirstEpoch()])
    assert json.loads((tmp_path / "train_state.json").read_text())["epoch"] == 1
    (tmp_path / "config.json").write_text(json.dumps(flat, indent=2))  # as it was written

    assert train_cli.main(["--resume", "--save-dir", str(tmp_path), "--quiet"]) == 0
    state = json.loads((tmp_path / "train_state.json").read_text())
    assert state["epoch"] == 2 and state["phase"] == "unfreeze"
    with open(tmp_path / "log.csv") as f:
        assert [int(row["epoch"]) for row in csv.DictReader(f)] == [1, 2]
    saved = json.loads((tmp_path / "config.json").read_text())  # now written with sections
    assert saved["model"]["backbone"] == flat["backbone"] and "backbone" not in saved
    assert TrainConfig.from_json(tmp_path / "config.json") == TrainConfig.from_dict(flat)


def test_neck_flag_builds_that_neck(train_cli):
    from centernet_keras.training.trainer import build_model

    argv = ["--backbone", "resnet18", "--neck", "skip", "--input-size", "64", "--weights", "none"]
    config = config_from_args(train_cli.parse_args(argv))
    assert config.model.neck == "skip"
    model = build_model(config, ["a", "b"])
    assert model.neck == "skip" and model.neck_filters == (128, 64, 64)
    assert [layer.name for layer in model.layers if layer.name.startswith("neck_skip")]
    plain = build_model(config_from_args(train_cli.parse_args(argv[:2] + argv[4:])), ["a"])
    assert plain.neck == "deconv"


def test_lr_flag_is_the_learning_rate_with_no_scale_lr(train_cli, caplog):
    """--lr reaches the optimizer as given with --no-scale-lr; the default scaling clamps it
    and says so (issue 8, defect 5)."""
    import logging

    from centernet_keras.training.trainer import effective_lr

    given = config_from_args(train_cli.parse_args(["--lr", "1e-3", "--no-scale-lr"]))
    assert effective_lr(given, batch_size=8)[0] == pytest.approx(1e-3)
    scaled = config_from_args(train_cli.parse_args(["--lr", "1e-3"]))
    with caplog.at_level(logging.WARNING, logger="centernet_keras.training"):
        assert effective_lr(scaled, batch_size=8)[0] == pytest.approx(2.5e-4)
    assert "--no-scale-lr" in caplog.text


def test_new_lr_over_a_config_moves_the_derived_min_lr(train_cli, tmp_path):
    """--lr over a --config whose min_lr was lr/100 (saved resolved by earlier versions) gives
    min_lr = new lr/100; an explicitly different min_lr is kept (issue 8, defect 10)."""
    path = tmp_path / "c.json"
    for saved_min, want in ((1e-5, 1e-4), (3e-6, 3e-6)):
        path.write_text(json.dumps({"lr": 1e-3, "min_lr": saved_min}))
        config = config_from_args(train_cli.parse_args(["--config", str(path), "--lr", "1e-2"]))
        assert config.lr == 1e-2 and config.resolved_min_lr == pytest.approx(want)


@pytest.mark.parametrize("folder", ["missing", "empty", "no_run"])
def test_resume_without_a_run_says_nothing_to_resume(train_cli, tmp_path, capsys, folder):
    """--resume where no run is: one line naming the folder, exit 2 (issue 25 point 6; was
    ``[Errno 2] No such file or directory: '…/config.json'``)."""
    save_dir = tmp_path / folder
    if folder != "missing":
        save_dir.mkdir()
    if folder == "no_run":
        (save_dir / "notes.txt").write_text("not a run\n")
    assert train_cli.main(["--resume", "--save-dir", str(save_dir)]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [err.strip()]
    assert err.startswith(f"error: nothing to resume in {save_dir}")
    assert "Errno" not in err
    assert folder != "missing" or not save_dir.exists()  # nothing created


@pytest.mark.parametrize("folder", ["new", "used"])
def test_bad_data_is_refused_before_the_save_dir_is_written(folder, tmp_path, capsys):
    """A --train file that is not there: one line, exit 2, and --save-dir untouched: a new one
    is not created, a used one keeps the earlier run's files (before, train created the folder,
    wrote its config.json and cleared the earlier run's pictures before reading the data)."""
    from centernet_keras.console import main

    save_dir = tmp_path / "run"
    if folder == "used":
        save_dir.mkdir()
        (save_dir / "config.json").write_text('{"epochs": 3}\n')
        (save_dir / "loss.png").write_bytes(b"earlier run")
    (tmp_path / "classes.txt").write_text("cat\ndog\n")
    argv = ["train", "--classes", str(tmp_path / "classes.txt"), "--train"]
    argv += [str(tmp_path / "missing.txt"), "--val", "", "--save-dir", str(save_dir)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "missing.txt" in err, err
    if folder == "new":
        assert not save_dir.exists()
    else:
        assert sorted(p.name for p in save_dir.iterdir()) == ["config.json", "loss.png"]
        assert (save_dir / "config.json").read_text() == '{"epochs": 3}\n'
