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
        (["--train-json", "a.json"], "--train-json needs --train-images"),
        (["--train-json", "a.json", "--train-images", "i", "--val-json", "v.json"], "--val-images"),
        (["--train-json", "a.json", "--train-images", "i", "--train", "t.txt"], "exclude"),
        (["--val-json", "v.json", "--val-images", "i"], "--val-json needs --train-json"),
    ],
)
def test_json_flags_that_do_not_fit_are_one_line_errors(train_cli, tmp_path, capsys, argv, message):
    assert train_cli.main([*argv, "--save-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def _respelled(pose_data, tmp_path, names, **category) -> dict:
    """The 5-joint split with its joints renamed ``names`` (and ``category`` fields added)."""
    paths = {}
    for split in ("train", "val"):
        data = json.loads(pose_data[f"{split}5"].read_text())
        data["categories"][0].update(keypoints=names, **category)
        paths[split] = tmp_path / f"{split}.json"
        paths[split].write_text(json.dumps(data))
    return paths


def _pose_argv(paths, images) -> list[str]:
    argv = ["--detector", "pose", "--train-json", str(paths["train"]), "--train-images", images]
    return [*argv, "--val-json", str(paths["val"]), "--val-images", images]


@pytest.mark.slow
def test_flip_pairs_flag_is_saved_with_the_model(train_cli, pose_data, tmp_path, caplog):
    """``--flip-pairs`` replaces the pairs found in the names (the saved model's spec, which
    predict's and val's flip test use, and config.json); the left/right joints it leaves out
    are named in one warning."""
    names = ["nose", "l_wrist", "r_wrist", "LeftAnkle", "RightAnkle"]
    paths = _respelled(pose_data, tmp_path, names)
    argv = [*_pose_argv(paths, str(pose_data["images"])), "--flip-pairs", "2:r_wrist"]
    assert train_cli.main(argv + _tiny_flags(tmp_path / "run")) == 0
    model = keras.saving.load_model(tmp_path / "run" / "last.keras", safe_mode=True)
    assert model.keypoint_spec.names == tuple(names)
    assert model.keypoint_spec.flip_pairs == ((1, 2),)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["flip_pairs"] == "2:r_wrist"
    warnings = [r.getMessage() for r in caplog.records if "look left/right" in r.getMessage()]
    assert len(warnings) == 1 and "['LeftAnkle', 'RightAnkle']" in warnings[0]


def test_flip_pairs_from_other_spellings_reach_the_training_data(pose_data, tmp_path, caplog):
    """Without the flag the pairs come from the names, whatever their spelling; no warning."""
    from centernet_keras.commands.train import parse_args
    from centernet_keras.commands.train_run import config_from_args
    from centernet_keras.training.data import load_training_data

    names = ["nose", "l_wrist", "r_wrist", "LeftAnkle", "RightAnkle"]
    paths = _respelled(pose_data, tmp_path, names)
    config = config_from_args(parse_args(_pose_argv(paths, str(pose_data["images"]))))
    data = load_training_data(config)
    assert data.keypoint_spec.flip_pairs == ((1, 2), (3, 4))
    assert not [r for r in caplog.records if "look left/right" in r.getMessage()]


@pytest.mark.parametrize(
    ("flag", "category", "message"),
    [
        (["--flip-pairs", "2:9"], {}, "--flip-pairs '2:9': 9 is neither a joint index 1..5"),
        (["--flip-pairs", "2"], {}, "--flip-pairs: '2' is not a pair 'A:B'"),
        ([], {"flip_pairs": [[2, 2]]}, "'flip_pairs': joint 'l_wrist' is paired with itself"),
    ],
)
def test_bad_flip_pairs_are_one_line_errors(
    train_cli, pose_data, tmp_path, capsys, flag, category, message
):
    names = ["nose", "l_wrist", "r_wrist", "LeftAnkle", "RightAnkle"]
    paths = _respelled(pose_data, tmp_path, names, **category)
    argv = _pose_argv(paths, str(pose_data["images"])) + flag
    assert train_cli.main(argv + _tiny_flags(tmp_path / "run")) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_flip_pairs_of_train_and_val_must_agree(train_cli, pose_data, tmp_path, capsys):
    """A train file with its own 'flip_pairs' and a val file without: refused, saying so;
    the flag gives both the same pairs."""
    names = ["nose", "l_wrist", "r_wrist", "LeftAnkle", "RightAnkle"]
    paths = _respelled(pose_data, tmp_path, names)
    data = json.loads(paths["train"].read_text())
    data["categories"][0]["flip_pairs"] = [[2, 3]]
    paths["train"].write_text(json.dumps(data))
    argv = _pose_argv(paths, str(pose_data["images"]))
    assert train_cli.main(argv + _tiny_flags(tmp_path / "run")) == 2
    err = capsys.readouterr().err
    assert "has other joints than" in err
    assert "flip pairs [['l_wrist', 'r_wrist'], ['LeftAnkle', 'RightAnkle']] vs" in err


def test_flip_pairs_need_a_keypoints_file(train_cli, tmp_path, capsys):
    json_path, image_dir = write_coco(tmp_path / "coco")
    argv = ["--train-json", str(json_path), "--train-images", str(image_dir)]
    assert train_cli.main([*argv, "--flip-pairs", "1:2", *_tiny_flags(tmp_path / "run")]) == 2
    assert "--flip-pairs needs a COCO keypoints file" in capsys.readouterr().err
