"""COCO metrics through pycocotools against the reference run (fixture 7)."""

import math

import numpy as np
import pytest
from reference_data import load_json

from centernet_keras.evaluation import STAT_NAMES, evaluate
from centernet_keras.evaluation.coco import to_coco_dicts

REF = load_json("voc_eval.json")
TOL = 1e-6  # fixture README, section 7


@pytest.fixture(scope="module")
def result():
    return evaluate(REF, REF["det"], "coco")


def test_stats_match_reference(result) -> None:
    assert list(STAT_NAMES) == REF["coco"]["stat_names"]
    np.testing.assert_allclose(result.stats, REF["coco"]["stats"], rtol=0, atol=TOL)
    assert result.mean_ap == pytest.approx(REF["coco"]["stats"][0], abs=TOL)


def test_per_class_ap_matches_reference(result) -> None:
    for name, want in REF["coco"]["per_class"].items():
        assert result.per_class[name]["AP"] == pytest.approx(want["AP"], abs=TOL, rel=0)
        assert result.per_class[name]["AP50"] == pytest.approx(want["AP50"], abs=TOL, rel=0)


def test_summary_is_captured_not_printed(capsys) -> None:
    out = evaluate(REF, REF["det"], "coco")
    assert out.summary_text.splitlines() == REF["coco"]["summary_text"]
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_conversion_drops_difficult_and_has_no_plus_one() -> None:
    dataset, results = to_coco_dicts(REF, REF["det"], REF["classes"])
    assert len(dataset["annotations"]) == REF["coco"]["num_gt_non_difficult"]
    assert len(results) == REF["coco"]["num_det"]
    first = next(g for g in REF["gt"] if not g["difficult"])
    x1, y1, x2, y2 = first["bbox"]
    ann = dataset["annotations"][0]
    assert ann["bbox"] == [x1, y1, x2 - x1, y2 - y1]
    assert ann["area"] == (x2 - x1) * (y2 - y1)
    assert ann["category_id"] == first["class"] + 1


def test_string_image_ids_and_no_detections() -> None:
    gt = {
        "classes": ["a"],
        "images": [{"id": "x.jpg", "width": 50, "height": 40}],
        "gt": [{"image_id": "x.jpg", "bbox": [5, 5, 30, 30], "class": 0, "difficult": 0}],
    }
    perfect = [{"image_id": "x.jpg", "bbox": [5, 5, 30, 30], "class": 0, "score": 0.9}]
    assert evaluate(gt, perfect, "coco").stats[0] == pytest.approx(1.0)
    empty = evaluate(gt, [], "coco")
    assert empty.stats[0] == 0.0 and empty.per_class["a"]["AP"] == 0.0
    no_gt = evaluate({**gt, "gt": []}, perfect, "coco")
    assert math.isnan(no_gt.per_class["a"]["AP"]) and no_gt.stats[0] == -1.0
