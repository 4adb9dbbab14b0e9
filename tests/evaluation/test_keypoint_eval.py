"""COCO keypoint (OKS) metrics through pycocotools against the reference run (fixture 12)."""

import copy

import numpy as np
import pytest
from reference_data import load_json

from centernet_keras.evaluation import KEYPOINT_STAT_NAMES, evaluate_keypoints
from centernet_keras.keypoints import COCO_SIGMAS

REF = load_json("oks_eval.json")
GT = {k: REF[k] for k in ("images", "annotations", "categories")}
TOL = 1e-6  # fixture README, section 12


@pytest.fixture(scope="module")
def result():
    return evaluate_keypoints(GT, REF["detections"])


def test_stats_match_reference(result) -> None:
    assert len(KEYPOINT_STAT_NAMES) == len(REF["keypoints_eval"]["stat_names"]) == 10
    assert list(result.stats) == list(KEYPOINT_STAT_NAMES)
    got = np.array(list(result.stats.values()))
    np.testing.assert_allclose(got, REF["keypoints_eval"]["stats"], rtol=0, atol=TOL)
    assert result.mean_ap == pytest.approx(0.411470, abs=1e-6)
    assert result.sigmas == pytest.approx(REF["kpt_oks_sigmas"], abs=1e-12)
    assert result.to_dict()["stats"] == result.stats


def test_summary_is_captured_not_printed(capsys) -> None:
    out = evaluate_keypoints(GT, REF["detections"])
    assert out.summary_text == REF["keypoints_eval"]["summary_text"].rstrip("\n")
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_inputs_are_not_modified() -> None:
    gt, det = copy.deepcopy(GT), copy.deepcopy(REF["detections"])
    evaluate_keypoints(gt, det)
    assert gt == GT and det == REF["detections"]


def test_no_detections_give_zeros(capsys) -> None:
    out = evaluate_keypoints(GT, [])
    assert out.stats == dict.fromkeys(KEYPOINT_STAT_NAMES, 0.0)  # pycocotools: 0, not -1
    assert capsys.readouterr().out == ""


def test_explicit_sigmas_are_used(result) -> None:
    same = evaluate_keypoints(GT, REF["detections"], sigmas=REF["kpt_oks_sigmas"])
    assert same.stats == result.stats
    wider = evaluate_keypoints(GT, REF["detections"], sigmas=[2 * s for s in COCO_SIGMAS])
    assert wider.sigmas == pytest.approx([2 * s for s in COCO_SIGMAS])
    assert wider.mean_ap > result.mean_ap + 0.05  # larger sigmas: higher OKS, higher AP


def test_wrong_number_of_sigmas_is_an_error() -> None:
    with pytest.raises(ValueError, match="got 16 sigmas for 17 joints"):
        evaluate_keypoints(GT, REF["detections"], sigmas=COCO_SIGMAS[:16])


def test_detection_errors() -> None:
    short = [{**REF["detections"][0], "keypoints": REF["detections"][0]["keypoints"][:-3]}]
    with pytest.raises(ValueError, match="48 keypoint values, not 3 × 17"):
        evaluate_keypoints(GT, short)
    with pytest.raises(ValueError, match="not listed"):
        evaluate_keypoints(GT, [{**REF["detections"][0], "image_id": 999}])


def test_five_joint_category_uses_the_category_sigmas() -> None:
    five = copy.deepcopy(GT)
    five["categories"][0]["keypoints"] = five["categories"][0]["keypoints"][:5]
    five["categories"][0]["skeleton"] = [[1, 2], [1, 3]]
    for a in five["annotations"]:
        a["keypoints"] = a["keypoints"][:15]
        a["num_keypoints"] = sum(v > 0 for v in a["keypoints"][2::3])
    det = [{**d, "keypoints": d["keypoints"][:15]} for d in REF["detections"]]
    out = evaluate_keypoints(five, det)
    assert out.sigmas == pytest.approx(COCO_SIGMAS[:5])  # COCO names keep their sigmas
    assert out.stats == evaluate_keypoints(five, det, sigmas=COCO_SIGMAS[:5]).stats
    assert 0.0 < out.mean_ap <= 1.0
