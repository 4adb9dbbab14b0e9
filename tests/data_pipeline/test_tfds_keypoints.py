"""``coco_keypoints/2017``: the package's TFDS builder prepares a COCO keypoints JSON + images
offline; its records equal read_coco's (boxes, joints, visibility), its metadata holds the
joints (names, flip pairs, skeleton, sigmas), and a pose model trains from it through the CLI."""

import json

import numpy as np
import pytest
from tfds_data import pose_tfds  # noqa: F401 (fixture)

from centernet_keras.console import main
from centernet_keras.data.coco import read_coco
from centernet_keras.data.tfds_source import keypoint_spec, read_tfds


@pytest.mark.parametrize(("split", "file"), [("train", "train"), ("validation", "val")])
def test_records_equal_the_coco_json_records(pose_tfds, split, file):  # noqa: F811
    spec = f"coco_keypoints/2017:{split}"
    records, names, problems = read_tfds(spec, str(pose_tfds["data_dir"]), "--x", keep_crowd=True)
    coco, _, report = read_coco(pose_tfds[file], pose_tfds["images"], ["person"], keep_crowd=True)
    assert names == ["person"] and problems == []
    assert keypoint_spec(spec, str(pose_tfds["data_dir"]), "--x") == report.keypoint_spec
    assert len(records) == len(coco) > 0
    assert sum(len(r.boxes) for r in records) > len(records) // 2
    assert any(len(r.boxes) == 0 for r in records)  # an image without people: [0, 17, 3] joints
    by_name = {r.path.split("/")[-1]: r for r in coco}  # TFDS shuffles by key: match by file
    for ours in records:
        theirs = by_name.pop(ours.path.split("/")[-1])
        np.testing.assert_allclose(ours.boxes, theirs.boxes, atol=0.01)
        np.testing.assert_array_equal(ours.classes, theirs.classes)
        np.testing.assert_array_equal(ours.difficult, theirs.difficult)
        assert ours.keypoints.shape == theirs.keypoints.shape
        np.testing.assert_allclose(ours.keypoints, theirs.keypoints, atol=0.01)


@pytest.mark.slow
def test_a_pose_model_trains_from_coco_keypoints_tfds(pose_tfds, tmp_path, capsys):  # noqa: F811
    argv = ["train", "--detector", "pose", "--train-tfds", "coco_keypoints/2017:train"]
    argv += ["--val-tfds", "coco_keypoints/2017:validation"]
    argv += ["--data-dir", str(pose_tfds["data_dir"]), "--save-dir", str(tmp_path)]
    argv += ["--backbone", "resnet18", "--weights", "none", "--input-size", "64", "--epochs", "1"]
    argv += ["--freeze-epochs", "0", "--batch-size", "4", "--quiet"]
    assert main(argv) == 0, capsys.readouterr().err
    assert json.loads((tmp_path / "train_state.json").read_text())["epoch"] == 1
    assert (tmp_path / "best.keras").is_file()


def test_not_prepared_names_the_package_command(tmp_path):
    with pytest.raises(ValueError) as err:
        read_tfds("coco_keypoints/2017:train", str(tmp_path), "--train-tfds")
    assert str(err.value) == (
        f"--train-tfds 'coco_keypoints/2017:train': coco_keypoints/2017 is not prepared in "
        f"{tmp_path} (--data-dir): prepare it once with `python -m "
        f"centernet_keras.data.tfds_coco_keypoints --manual-dir COCO --data-dir {tmp_path}`"
    )
