"""VOC AP (07 11-point and all-point) against the reference voc_eval (fixture 7), plus reports."""

import json
import math

import numpy as np
import pytest
from reference_data import load_json

from centernet_keras.evaluation import evaluate, voc_ap
from centernet_keras.evaluation.plots import format_table, plot_pr_curves, write_summary

REF = load_json("voc_eval.json")
TOL = 1e-9  # float64 reimplementation (fixture README, section 7)


@pytest.mark.parametrize(
    "metric,key", [("voc07", "use_07_metric_True"), ("voc", "use_07_metric_False")]
)
def test_matches_reference(metric: str, key: str) -> None:
    want = REF["voc"][key]
    result = evaluate(REF, REF["det"], metric)
    assert result.metric == metric
    assert result.mean_ap == pytest.approx(want["mAP"], abs=TOL, rel=0)
    assert list(result.per_class) == REF["classes"]
    for name, got in result.per_class.items():
        ref = want["per_class"][name]
        assert got.ap == pytest.approx(ref["ap"], abs=TOL, rel=0), name
        np.testing.assert_allclose(got.recall, ref["recall"], rtol=0, atol=TOL)
        np.testing.assert_allclose(got.precision, ref["precision"], rtol=0, atol=TOL)


def test_fixture_exercises_the_rules() -> None:
    """The fixture has difficult GTs and detections on them: npos excludes the difficult ones."""
    result = evaluate(REF, REF["det"], "voc")
    for c, name in enumerate(REF["classes"]):
        easy = [g for g in REF["gt"] if g["class"] == c and not g["difficult"]]
        assert result.per_class[name].num_gt == len(easy)
        assert result.per_class[name].num_det == sum(d["class"] == c for d in REF["det"])
    assert sum(r.num_gt for r in result.per_class.values()) < len(REF["gt"])


def _gt(boxes, classes=None, difficult=None, image_id=1):
    n = len(boxes)
    classes = classes or [0] * n
    difficult = difficult or [0] * n
    return {
        "classes": ["a", "b"],
        "images": [{"id": image_id, "width": 100, "height": 100}],
        "gt": [
            {"image_id": image_id, "bbox": b, "class": c, "difficult": d}
            for b, c, d in zip(boxes, classes, difficult, strict=True)
        ],
    }


def _det(boxes, scores, classes=None, image_id=1):
    classes = classes or [0] * len(boxes)
    return [
        {"image_id": image_id, "bbox": b, "class": c, "score": s}
        for b, s, c in zip(boxes, scores, classes, strict=True)
    ]


def test_iou_of_exactly_half_is_not_a_match() -> None:
    # +1 areas: GT 10x10 = 100 px, detection 10x5 = 50 px inside it → IoU exactly 0.5.
    gt = _gt([[0, 0, 9, 9]])
    assert evaluate(gt, _det([[0, 0, 9, 4]], [0.9]), "voc").per_class["a"].ap == 0.0
    assert evaluate(gt, _det([[0, 0, 9, 5]], [0.9]), "voc").per_class["a"].ap == 1.0


def test_difficult_match_is_neither_tp_nor_fp() -> None:
    gt = _gt([[0, 0, 20, 20], [50, 50, 80, 80]], difficult=[0, 1])
    # The top-scored detection hits the difficult GT: ignored, so precision stays 1.
    det = _det([[50, 50, 80, 80], [0, 0, 20, 20]], [0.9, 0.8])
    result = evaluate(gt, det, "voc").per_class["a"]
    assert result.num_gt == 1
    np.testing.assert_array_equal(result.precision, [0.0, 1.0])  # 0/eps, then 1/1
    np.testing.assert_array_equal(result.recall, [0.0, 1.0])
    assert result.ap == 1.0


def test_duplicate_is_a_false_positive_and_class_without_gt_is_nan() -> None:
    gt = _gt([[0, 0, 20, 20]])
    det = _det([[0, 0, 20, 20], [1, 1, 20, 20], [0, 0, 5, 5]], [0.9, 0.8, 0.7], [0, 0, 1])
    result = evaluate(gt, det, "voc07")
    np.testing.assert_allclose(result.per_class["a"].precision, [1.0, 0.5])
    assert result.per_class["a"].ap == pytest.approx(1.0)
    assert math.isnan(result.per_class["b"].ap)  # no ground truth of class b
    assert result.mean_ap == pytest.approx(1.0)  # NaN classes are left out of the mean


def test_detection_on_unknown_image_raises() -> None:
    with pytest.raises(ValueError, match="not in the ground truth"):
        evaluate(_gt([[0, 0, 9, 9]]), _det([[0, 0, 9, 9]], [0.5], image_id=7), "voc")


def test_unknown_metric_raises() -> None:
    with pytest.raises(ValueError, match="metric"):
        evaluate(_gt([[0, 0, 9, 9]]), [], "map50")


def test_voc_ap_eleven_point_and_area() -> None:
    rec = np.array([0.5, 1.0])
    prec = np.array([1.0, 0.5])
    assert voc_ap(rec, prec, use_07_metric=False) == pytest.approx(0.5 * 1.0 + 0.5 * 0.5)
    assert voc_ap(rec, prec, use_07_metric=True) == pytest.approx((6 * 1.0 + 5 * 0.5) / 11)


def test_reports(tmp_path) -> None:
    results = {m: evaluate(REF, REF["det"], m) for m in ("voc07", "voc", "coco")}
    table = format_table(results)
    lines = table.splitlines()
    for name in REF["classes"]:
        row = next(line for line in lines if line.startswith(name))
        assert f"{results['voc07'].per_class_ap[name]:.4f}" in row
        assert f"{results['coco'].per_class[name]['AP50']:.4f}" in row
    assert f"{REF['voc']['use_07_metric_True']['mAP']:.4f}" in lines[-1]

    paths = plot_pr_curves(results["voc"], tmp_path / "pr")
    assert [p.name for p in paths] == [f"pr_{n}.png" for n in REF["classes"]]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in paths)

    summary = write_summary(tmp_path / "summary.json", results, {"model": "m.keras"})
    loaded = json.loads((tmp_path / "summary.json").read_text())
    assert loaded == json.loads(json.dumps(summary))
    assert loaded["model"] == "m.keras"
    assert loaded["metrics"]["voc07"]["mAP"] == pytest.approx(results["voc07"].mean_ap, abs=TOL)
    assert loaded["metrics"]["coco"]["stats"]["AP@.5"] == pytest.approx(REF["coco"]["stats"][1])
