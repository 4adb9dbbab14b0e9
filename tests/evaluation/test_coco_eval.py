"""COCO metrics through pycocotools against the reference run (fixture 7)."""

import math

import coco_data
import numpy as np
import pytest
from reference_data import load_json

from centernet_keras.data import coco
from centernet_keras.data.coco_format import load_coco_json
from centernet_keras.detections import Detections
from centernet_keras.evaluation import STAT_NAMES, evaluate
from centernet_keras.evaluation.coco import to_coco_dicts
from centernet_keras.evaluation.runner import collect_detections, load_split

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


# ---- a COCO json is scored exactly as pycocotools scores it (issue 8, defect 3) ----------------

# JSON image id → [(x1, y1, x2, y2, class, score)] (one on the crowd region of image 397133)
DETECTIONS = {
    397133: [(10, 10, 50, 50, 0, 0.9), (62, 10, 118, 86, 0, 0.95), (0, 60, 20, 90, 1, 0.3)],
    42: [(6, 2, 104, 98, 1, 0.8), (50, 50, 60, 60, 0, 0.2)],
    7: [(6, 6, 26, 26, 1, 0.7), (33, 31, 56, 57, 0, 0.6)],
}


def _detector(detections):
    """Returns the listed detections of an image, found by its size."""
    by_size = {(h, w): detections.get(i, []) for i, (_, w, h) in coco_data.IMAGES.items()}

    def detect(image):
        rows = by_size[image.shape[:2]]
        boxes = np.array([r[:4] for r in rows], np.float32).reshape(-1, 4)
        classes = np.array([r[4] for r in rows], np.int32)
        names = [coco_data.CLASSES[c] for c in classes]
        return Detections(boxes, np.array([r[5] for r in rows], np.float32), classes, names, (0, 0))

    return detect


def _official_results(detections):
    return [
        {
            "image_id": image_id,
            "category_id": coco_data.CATEGORY_IDS[coco_data.CLASSES[c]],
            "bbox": [x1, y1, x2 - x1, y2 - y1],
            "score": s,
        }
        for image_id, rows in detections.items()
        for x1, y1, x2, y2, c, s in rows
    ]


def _score_split(json_path, image_dir, detections, metric="coco"):
    records, problems = load_split(coco_data.CLASSES, coco_json=json_path, image_dir=image_dir)
    assert problems == []
    gt, det, failures = collect_detections(
        _detector(detections), records, coco_data.CLASSES, progress=False
    )
    assert failures == []
    return evaluate(gt, det, metric)


def test_coco_json_scores_like_pycocotools(tmp_path) -> None:
    json_path, image_dir = coco_data.write_coco(tmp_path)
    result = _score_split(json_path, image_dir, DETECTIONS)
    official = coco_data.official_eval(json_path, _official_results(DETECTIONS))
    assert 0 < official.stats[0] < 1  # a score that tells the buckets and crowds apart
    np.testing.assert_allclose(result.stats, official.stats, rtol=0, atol=TOL)
    for name in coco_data.CLASSES:
        want = coco_data.official_class_ap(official, name)
        assert result.per_class[name]["AP"] == pytest.approx(want, abs=TOL, rel=0), name


def test_detection_on_a_crowd_is_ignored(tmp_path) -> None:
    """The issue's example: one detection on an object, one on a crowd region: AP 1."""
    annotations = [coco_data.ANNOTATIONS[0], coco_data.ANNOTATIONS[1]]
    json_path, image_dir = coco_data.write_coco(tmp_path, annotations)
    detections = {397133: DETECTIONS[397133][:2]}
    official = coco_data.official_eval(json_path, _official_results(detections))
    assert official.stats[0] == pytest.approx(1.0)
    assert _score_split(json_path, image_dir, detections).stats[0] == pytest.approx(1.0, abs=TOL)
    # The VOC metrics treat a crowd region as they treat a difficult object: ignored.
    assert _score_split(json_path, image_dir, detections, "voc").mean_ap == pytest.approx(1.0)


def test_a_coco_json_the_caller_read_is_not_read_again(tmp_path, monkeypatch) -> None:
    """``val`` reads --coco-json to refuse a malformed one before the model loads: handed to
    ``load_split``, that read is the only one (the records are those of a fresh read)."""
    json_path, image_dir = coco_data.write_coco(tmp_path)
    reads = []

    def counting(path):
        reads.append(path)
        return load_coco_json(path)

    monkeypatch.setattr(coco, "load_coco_json", counting)
    data = load_coco_json(json_path)
    given, _ = load_split(
        coco_data.CLASSES, coco_json=json_path, image_dir=image_dir, coco_data=data
    )
    assert reads == []
    fresh, _ = load_split(coco_data.CLASSES, coco_json=json_path, image_dir=image_dir)
    assert reads == [json_path]
    assert [(r.path, r.annotations) for r in given] == [(r.path, r.annotations) for r in fresh]
    for a, b in zip(given, fresh, strict=True):
        np.testing.assert_array_equal(a.boxes, b.boxes)
