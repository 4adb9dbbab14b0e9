"""``centernet train --train-tfds/--val-tfds`` and ``centernet val --tfds`` on a TFDS voc/2007
built offline: a tiny run trains and validates, val gives the mAP of the VOC lines of the same
images, and bad sources are one line."""

import json

import numpy as np
import pytest
from tfds_data import voc_tfds  # noqa: F401 (fixture)

from centernet_keras.console import main
from centernet_keras.data.annotations import write_annotation_file
from centernet_keras.data.voc import read_voc_split
from centernet_keras.models import build_centernet

TINY = ["--backbone", "resnet18", "--weights", "none", "--input-size", "64"]
TINY += ["--neck-filters", "16,16,16", "--head-channels", "8"]


@pytest.mark.slow
def test_train_and_val_from_tfds(voc_tfds, tmp_path, capsys):  # noqa: F811
    data_dir, save_dir = str(voc_tfds["data_dir"]), tmp_path / "run"
    argv = ["train", "--train-tfds", "voc/2007:train", "--val-tfds", "voc/2007:validation"]
    argv += ["--data-dir", data_dir, "--save-dir", str(save_dir), *TINY, "--epochs", "1"]
    argv += ["--freeze-epochs", "0", "--batch-size", "4", "--quiet"]
    assert main(argv) == 0, capsys.readouterr().err
    state = json.loads((save_dir / "train_state.json").read_text())
    assert state["epoch"] == 1
    assert "val_loss" in (save_dir / "log.csv").read_text()
    assert main(["val", "--model", str(save_dir / "best.keras"), "--tfds", "voc/2007:test",
                 "--data-dir", data_dir, "--output-dir", str(tmp_path / "map")]) == 0  # fmt: skip


@pytest.mark.slow
def test_val_tfds_gives_the_map_of_the_voc_lines_of_the_same_images(voc_tfds, tmp_path):  # noqa: F811
    """An untrained model (head prior ~0.1: it detects) scored on voc/2007:test through TFDS
    and through annotation lines of the same images: the same ground truth, detections, mAP."""
    names = _voc_names()
    model = build_centernet(
        20, backbone="resnet18", input_shape=(64, 64, 3), neck_filters=(16, 16, 16),
        head_channels=8, class_names=names,
    )  # fmt: skip
    size = model.get_layer("size")
    size.bias.assign(np.array([30.0, 30.0], np.float32))  # boxes that can overlap objects
    model.save(tmp_path / "m.keras")
    records, _ = read_voc_split(voc_tfds["devkit"], 2007, "test", names, keep_difficult=True)
    write_annotation_file(tmp_path / "test.txt", records)
    common = ["val", "--model", str(tmp_path / "m.keras"), "--no-progress"]
    assert main([*common, "--tfds", "voc/2007:test", "--data-dir", str(voc_tfds["data_dir"]),
                 "--output-dir", str(tmp_path / "a")]) == 0  # fmt: skip
    assert main([*common, "--annotation-file", str(tmp_path / "test.txt"),
                 "--output-dir", str(tmp_path / "b")]) == 0  # fmt: skip
    a, b = (json.loads((tmp_path / d / "detections.json").read_text()) for d in "ab")
    assert a["ground_truth"] == b["ground_truth"] and len(a["ground_truth"]["gt"]) > 0
    assert a["detections"] == b["detections"] and len(a["detections"]) > 0
    a, b = (json.loads((tmp_path / d / "summary.json").read_text()) for d in "ab")
    assert a["metrics"] == b["metrics"]


def _voc_names() -> list[str]:
    import tensorflow_datasets as tfds

    return list(tfds.builder("voc/2007").info.features["objects"]["label"].names)


def test_train_refuses_a_dataset_not_prepared_in_one_line(tmp_path, capsys):
    argv = ["train", "--train-tfds", "voc/2007:train", "--data-dir", str(tmp_path)]
    assert main([*argv, "--save-dir", str(tmp_path / "run"), *TINY]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: --train-tfds 'voc/2007:train': ")
    assert f"tfds build voc/2007 --data_dir {tmp_path}" in err
    assert not (tmp_path / "run").exists()


def test_tfds_download_prepares_a_missing_dataset_and_says_why_it_could_not(
    tmp_path, capsys, monkeypatch
):
    """--tfds-download calls TFDS's download_and_prepare for a dataset not prepared in
    --data-dir (without the flag it is never called); offline its failure is one line naming the
    flag, not a traceback. The network is replaced by a ConnectionError."""
    import tensorflow_datasets as tfds

    calls = []

    def offline(self, *args, **kwargs):
        calls.append(self.name)
        raise ConnectionError("Failed to connect: no network\ndetails")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", offline)
    argv = ["train", "--train-tfds", "voc/2007:train", "--data-dir", str(tmp_path), *TINY]
    assert main([*argv, "--save-dir", str(tmp_path / "run")]) == 2
    assert calls == [] and "is not prepared in" in capsys.readouterr().err
    assert main([*argv, "--save-dir", str(tmp_path / "run"), "--tfds-download"]) == 2
    err = capsys.readouterr().err.strip()
    assert calls == ["voc"] and err.count("\n") == 0
    assert err == (
        f"error: --train-tfds 'voc/2007:train': --tfds-download could not prepare voc/2007 in "
        f"{tmp_path}: Failed to connect: no network"
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--train", "a.txt"], "--train/--val (annotation lines) and --train-tfds exclude"),
        (["--train-json", "a.json"], "--train-tfds and --train-json exclude each other"),
    ],
)
def test_train_sources_exclude_each_other(tmp_path, capsys, extra, message):
    argv = ["train", "--train-tfds", "voc/2007:train", *extra, "--save-dir", str(tmp_path)]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_val_tfds_needs_it_alone_and_data_dir_needs_it(tmp_path, capsys):
    model = str(tmp_path / "m.keras")
    assert main(["val", "--model", model, "--tfds", "voc/2007:test", "--voc-root", "x"]) == 2
    assert "give exactly one of --annotation-file, --voc-root, --coco-json, --tfds" in (
        capsys.readouterr().err
    )
    assert main(["val", "--model", model, "--voc-root", "x", "--data-dir", "d"]) == 2
    assert "--data-dir is the folder of --tfds" in capsys.readouterr().err
