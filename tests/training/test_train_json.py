"""train.py on COCO JSON directly: box detectors on instances files, the pose model on keypoints
files (COCO's 17 joints and a user's own 5), and the errors a wrong combination gets."""

import json

import keras
import numpy as np
import pytest
from coco_data import CLASSES, write_coco
from conftest import TINY_MODEL
from helpers import load_script

from centernet_keras.data.synthetic_pose import generate_pose_dataset
from centernet_keras.models.pose import CenterNetPose

JOINTS_5 = [0, 9, 10, 15, 16]  # nose, wrists, ankles of COCO's 17


@pytest.fixture(scope="module")
def train_cli():
    return load_script("train.py")


@pytest.fixture(scope="module")
def pose_data(tmp_path_factory) -> dict:
    """A 12-image synthetic keypoints dataset, and the same people with 5 of their joints."""
    root = tmp_path_factory.mktemp("pose")
    paths = generate_pose_dataset(root, num_images=12, seed=1, val_fraction=0.25)
    for split in ("train", "val"):
        data = json.loads(paths[split].read_text())
        category = data["categories"][0]
        names = [category["keypoints"][j] for j in JOINTS_5]
        category.update(keypoints=names, skeleton=[[1, 2], [1, 3], [4, 5]])
        for ann in data["annotations"]:
            joints = np.reshape(ann["keypoints"], (17, 3))[JOINTS_5]
            ann["keypoints"] = joints.reshape(-1).tolist()
            ann["num_keypoints"] = int((joints[:, 2] > 0).sum())
        paths[f"{split}5"] = root / f"five_{split}.json"
        paths[f"{split}5"].write_text(json.dumps(data))
    return paths


def _tiny_flags(save_dir) -> list[str]:
    flags = ["--backbone", TINY_MODEL["backbone"], "--weights", "none", "--input-size", "64"]
    flags += ["--neck-filters", "16,16,16", "--head-channels", "8", "--epochs", "1"]
    flags += ["--freeze-epochs", "0", "--batch-size", "2", "--steps-per-epoch", "2"]
    return [*flags, "--save-dir", str(save_dir), "--quiet"]


@pytest.mark.slow
@pytest.mark.parametrize("joints", [17, 5])
def test_pose_model_trains_on_a_keypoints_json(train_cli, pose_data, tmp_path, joints):
    suffix = "" if joints == 17 else "5"
    argv = ["--detector", "pose", "--train-json", str(pose_data[f"train{suffix}"])]
    argv += ["--train-images", str(pose_data["images"])]
    argv += ["--val-json", str(pose_data[f"val{suffix}"]), "--val-images", str(pose_data["images"])]
    assert train_cli.main(argv + _tiny_flags(tmp_path)) == 0
    model = keras.saving.load_model(tmp_path / "last.keras", safe_mode=True)
    assert isinstance(model, CenterNetPose) and list(model.class_names) == ["person"]
    category = json.loads(pose_data[f"train{suffix}"].read_text())["categories"][0]
    assert list(model.keypoint_spec.names) == category["keypoints"]
    assert model.get_layer("keypoint_heatmap").output.shape[-1] == joints
    log = (tmp_path / "log.csv").read_text().splitlines()
    assert "val_keypoint_heatmap_loss" in log[0] and len(log) == 2
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["train_json"] == str(pose_data[f"train{suffix}"])
    assert saved["train_annotations"] is None and saved["classes_path"] is None


@pytest.mark.slow
def test_box_detector_trains_on_an_instances_json(train_cli, tmp_path):
    json_path, image_dir = write_coco(tmp_path / "coco")
    argv = ["--train-json", str(json_path), "--train-images", str(image_dir)]
    assert train_cli.main(argv + _tiny_flags(tmp_path / "run")) == 0
    model = keras.saving.load_model(tmp_path / "run" / "last.keras", safe_mode=True)
    # classes are the file's categories by id, its empty dummy category 0 included
    assert list(model.class_names) == ["animals", "cat", "dog"]
    # --classes picks categories by name
    argv += ["--classes", str(tmp_path / "classes.txt")]
    (tmp_path / "classes.txt").write_text("\n".join(CLASSES) + "\n")
    assert train_cli.main(argv + _tiny_flags(tmp_path / "named")) == 0
    model = keras.saving.load_model(tmp_path / "named" / "last.keras", safe_mode=True)
    assert list(model.class_names) == CLASSES


def test_pose_training_on_the_keypoints_of_a_box_json_is_an_error(train_cli, tmp_path, capsys):
    json_path, image_dir = write_coco(tmp_path / "coco")
    argv = ["--detector", "pose", "--train-json", str(json_path), "--train-images", str(image_dir)]
    assert train_cli.main(argv + _tiny_flags(tmp_path / "run")) == 2
    assert "COCO keypoints file" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--train-json", "a.json"], "train_images"),
        (["--train-json", "a.json", "--train-images", "i", "--val-json", "v.json"], "val_images"),
        (["--train-json", "a.json", "--train-images", "i", "--train", "t.txt"], "exclude"),
        (["--val-json", "v.json", "--val-images", "i"], "needs train_json"),
    ],
)
def test_json_flags_that_do_not_fit_are_one_line_errors(train_cli, tmp_path, capsys, argv, message):
    assert train_cli.main([*argv, "--save-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
