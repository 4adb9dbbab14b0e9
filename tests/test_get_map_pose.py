"""get_map.py on a COCO keypoints file: keypoint AP (OKS) as pycocotools scores the file, box AP,
and coco_results.json with keypoints in original-image pixels."""

import contextlib
import io
import json

import numpy as np
import pytest
from detector_cases import tiny_pose
from helpers import load_script

from centernet_keras.data.synthetic_pose import generate_pose_dataset
from centernet_keras.inference import Detections, Predictor


@pytest.fixture(scope="module")
def get_map():
    return load_script("get_map.py")


@pytest.fixture(scope="module")
def pose_split(tmp_path_factory) -> dict:
    """A 6-image synthetic keypoints split with a crowd region added, and a saved tiny model."""
    root = tmp_path_factory.mktemp("pose_map")
    paths = generate_pose_dataset(root, num_images=8, seed=2, val_fraction=0.75)
    data = json.loads(paths["val"].read_text())
    first = data["images"][0]
    data["annotations"].append(
        {"id": 10_000, "image_id": first["id"], "category_id": 1, "iscrowd": 1,
         "bbox": [0, 0, 40, 40], "area": 1600.0, "keypoints": [0] * 51, "num_keypoints": 0}
    )  # fmt: skip
    paths["val"].write_text(json.dumps(data))
    model = tiny_pose(input_shape=(96, 96, 3), class_names=["person"])
    paths["model"] = root / "pose.keras"
    model.save(paths["model"])
    return paths


def _official_oks(json_path, results) -> np.ndarray:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(json_path))
        evaluator = COCOeval(gt, gt.loadRes(results), iouType="keypoints")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator.stats


def _argv(split, out) -> list[str]:
    argv = ["--model", str(split["model"]), "--val-json", str(split["val"])]
    return [*argv, "--val-images", str(split["images"]), "--output-dir", str(out), "--no-progress"]


def _ground_truth_people(json_path, shift: float):
    """Per image (file order): Detections of its people at their labelled joints + ``shift``."""
    data = json.loads(json_path.read_text())
    per_image = []
    for image in data["images"]:
        people = [
            a for a in data["annotations"] if a["image_id"] == image["id"] and not a["iscrowd"]
        ]
        joints = np.array([a["keypoints"] for a in people], np.float32).reshape(-1, 17, 3)
        boxes = np.array([a["bbox"] for a in people], np.float32).reshape(-1, 4)
        boxes[:, 2:] += boxes[:, :2]
        per_image.append(
            Detections(
                boxes=boxes, scores=np.linspace(0.9, 0.5, len(people)).astype(np.float32),
                class_ids=np.zeros(len(people), np.int32), class_names=["person"] * len(people),
                image_size=(image["height"], image["width"]),
                keypoints=joints[..., :2] + shift, keypoint_scores=np.ones(joints.shape[:2]),
            )
        )  # fmt: skip
    return per_image


@pytest.mark.parametrize("shift", [0.0, 3.0])
def test_keypoint_ap_of_known_joints(get_map, pose_split, tmp_path, capsys, monkeypatch, shift):
    """A detector that returns the labelled joints (+ a shift): OKS AP 1 (unshifted) and, shifted,
    the AP pycocotools gives the written coco_results.json on the file itself."""
    answers = iter(_ground_truth_people(pose_split["val"], shift))
    monkeypatch.setattr(Predictor, "__call__", lambda self, image: next(answers))
    assert get_map.main(_argv(pose_split, tmp_path)) == 0
    out = capsys.readouterr().out
    stats = json.loads((tmp_path / "summary.json").read_text())["metrics"]["keypoints"]["stats"]
    official = _official_oks(pose_split["val"], str(tmp_path / "coco_results.json"))
    np.testing.assert_allclose(list(stats.values()), official, rtol=0, atol=1e-6)
    if shift == 0:
        assert stats["AP@[.5:.95]"] == pytest.approx(1.0)
    else:  # 3 px matters to OKS on these small people
        assert 0.0 < stats["AP@[.5:.95]"] < 0.95
    assert f"keypoint AP = {stats['AP@[.5:.95]']:.4f}" in out and "box AP = " in out
    results = json.loads((tmp_path / "coco_results.json").read_text())
    assert results and all(len(r["keypoints"]) == 51 for r in results)


def test_a_trained_shape_model_is_scored_like_pycocotools(get_map, pose_split, tmp_path, capsys):
    """The real path: Predictor joints mapped back to original pixels, scored by pycocotools."""
    assert get_map.main(_argv(pose_split, tmp_path)) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    stats = summary["metrics"]["keypoints"]["stats"]
    official = _official_oks(pose_split["val"], str(tmp_path / "coco_results.json"))
    np.testing.assert_allclose(list(stats.values()), official, rtol=0, atol=1e-6)
    assert "coco" in summary["metrics"] and (tmp_path / "keypoints_summary.txt").exists()
    data = json.loads(pose_split["val"].read_text())
    sizes = {im["id"]: (im["width"], im["height"]) for im in data["images"]}
    for r in json.loads((tmp_path / "coco_results.json").read_text()):
        xy = np.reshape(r["keypoints"], (17, 3))[:, :2]
        assert (xy >= 0).all() and (xy <= sizes[r["image_id"]]).all()  # original pixels


def test_keypoint_metric_needs_a_pose_model_and_a_keypoints_file(
    get_map, pose_split, tmp_path, capsys
):
    from centernet_keras.models import build_centernet

    box_model = tmp_path / "box.keras"
    build_centernet(
        1, backbone="resnet18", input_shape=(64, 64, 3), class_names=["person"],
        neck_filters=(16, 16, 16), head_channels=8,
    ).save(box_model)  # fmt: skip
    argv = _argv(pose_split, tmp_path / "out")
    argv[1] = str(box_model)
    assert get_map.main(argv) == 0  # a box model on a keypoints file: box metrics only
    assert "keypoint AP" not in capsys.readouterr().out
    assert get_map.main([*argv, "--metrics", "keypoints"]) == 1
    err = capsys.readouterr().err
    assert "needs a pose model" in err and "Traceback" not in err


def _permuted_copy(json_path, out_path, order) -> None:
    """The keypoints file with its joints listed in ``order`` (old indices; skeleton remapped)."""
    data = json.loads(json_path.read_text())
    category = data["categories"][0]
    new_index = {old: new for new, old in enumerate(order)}
    category["keypoints"] = [category["keypoints"][j] for j in order]
    category["skeleton"] = [[new_index[i - 1] + 1, new_index[j - 1] + 1] for i, j in
                            category["skeleton"]]  # fmt: skip
    for ann in data["annotations"]:
        ann["keypoints"] = np.reshape(ann["keypoints"], (17, 3))[order].reshape(-1).tolist()
    out_path.write_text(json.dumps(data))


def test_a_file_with_its_joints_in_another_order_scores_as_the_original(
    get_map, pose_split, tmp_path, capsys, monkeypatch
):
    """The joints are matched to the model's by name: the same people with the file's joints
    permuted give the same keypoint AP (1 for the labelled joints), and a note says so."""
    order = np.random.default_rng(0).permutation(17)
    permuted = tmp_path / "permuted.json"
    _permuted_copy(pose_split["val"], permuted, order)
    stats = {}
    for name, json_path in (("original", pose_split["val"]), ("permuted", permuted)):
        answers = iter(_ground_truth_people(pose_split["val"], 0.0))  # the model's joint order
        monkeypatch.setattr(Predictor, "__call__", lambda self, image, a=answers: next(a))
        argv = _argv({**pose_split, "val": json_path}, tmp_path / name)
        assert get_map.main(argv) == 0
        summary = json.loads((tmp_path / name / "summary.json").read_text())
        stats[name] = summary["metrics"]["keypoints"]["stats"]
    assert stats["original"]["AP@[.5:.95]"] == pytest.approx(1.0)
    assert stats["permuted"] == stats["original"]
    err = capsys.readouterr().err
    assert f"{permuted}: its joints are listed in another order than the model's" in err


def test_a_file_with_other_joint_names_is_a_one_line_error(get_map, pose_split, tmp_path, capsys):
    data = json.loads(pose_split["val"].read_text())
    names = data["categories"][0]["keypoints"]
    names[1], names[2] = "l_eye", "r_eye"
    renamed = tmp_path / "renamed.json"
    renamed.write_text(json.dumps(data))
    argv = _argv({**pose_split, "val": renamed}, tmp_path / "out")
    assert get_map.main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f"error: {renamed}:")
    assert "['l_eye', 'r_eye']" in err and "['left_eye', 'right_eye']" in err
    assert not (tmp_path / "out" / "summary.json").exists()


def test_keypoint_threshold_flag_changes_the_scored_joints(get_map, pose_split, tmp_path):
    """--keypoint-threshold reaches val's decoder: a lower threshold snaps joints to weaker
    joint-heatmap peaks, so the joints written to coco_results.json move."""
    written = {}
    for threshold in ("0.05", "0.5"):
        out = tmp_path / threshold
        argv = [*_argv(pose_split, out), "--keypoint-threshold", threshold]
        assert get_map.main(argv) == 0
        results = json.loads((out / "coco_results.json").read_text())
        written[threshold] = np.array([r["keypoints"] for r in results])
    assert written["0.05"].shape == written["0.5"].shape  # the same people
    assert np.any(written["0.05"] != written["0.5"])
