"""evaluation.triage: each cause of a near-zero mAP found on its constructed case, none on a
healthy model's detections (ground truth with a few pixels of jitter)."""

import json
from types import SimpleNamespace

import numpy as np
import pytest
from helpers import load_script
from PIL import Image

from centernet_keras.data.annotations import ImageRecord
from centernet_keras.detections import Detections
from centernet_keras.evaluation import evaluate
from centernet_keras.evaluation.triage import TRIAGE_BELOW_MAP, diagnose, report_lines

CLASSES = ["cat", "dog", "bird"]


def _ground_truth(num_images=20, per_image=3, seed=0):
    rng = np.random.default_rng(seed)
    gt = []
    for image_id in range(1, num_images + 1):
        for _ in range(per_image):
            x1, y1 = rng.uniform(10, 120, 2)
            w, h = rng.uniform(30, 70, 2)
            cls = int(rng.integers(0, len(CLASSES)))
            gt.append({"image_id": image_id, "bbox": [x1, y1, x1 + w, y1 + h], "class": cls,
                       "difficult": 0})  # fmt: skip
    images = [{"id": i, "width": 200, "height": 200} for i in range(1, num_images + 1)]
    return {"classes": list(CLASSES), "images": images, "gt": gt}


def _detections(ground_truth, jitter=2.0, score=0.9, seed=1, boxes=None, classes=None):
    """One detection per object: its box moved by up to ``jitter`` px (``boxes``: a function
    of the [4] box instead), its class (``classes``: a function of it instead)."""
    rng = np.random.default_rng(seed)
    out = []
    for g in ground_truth["gt"]:
        box = np.asarray(g["bbox"]) + rng.uniform(-jitter, jitter, 4)
        out.append({
            "image_id": g["image_id"],
            "bbox": [float(v) for v in (boxes(box) if boxes else box)],
            "class": classes(g["class"]) if classes else g["class"],
            "score": float(score * rng.uniform(0.8, 1.0)),
        })  # fmt: skip
    return out


def _causes(findings):
    return [f.cause for f in findings]


def test_healthy_detections_show_no_cause():
    gt = _ground_truth()
    found = _detections(gt)
    assert evaluate(gt, found, "voc07").mean_ap > 0.9
    assert diagnose(gt, found, 0.01, data_classes=CLASSES) == []


@pytest.mark.parametrize("score", [None, 0.004])
def test_every_score_under_the_threshold(score):
    gt = _ground_truth()
    found = [] if score is None else _detections(gt, score=score)
    findings = diagnose(gt, found, 0.01)
    assert _causes(findings) == ["scores"]
    numbers = findings[0].numbers
    assert numbers["detections"] == len(found)
    if score is None:
        assert numbers["max_score"] is None and "0 detections" in findings[0].message
    else:
        assert numbers["max_score"] == pytest.approx(max(d["score"] for d in found))
        assert "under the score threshold 0.01" in findings[0].message


def _random_boxes(ground_truth, per_image=100, seed=10):
    """What an untrained model gives: ``per_image`` boxes anywhere, any class, low scores."""
    rng = np.random.default_rng(seed)
    out = []
    for image in ground_truth["images"]:
        xy, wh = rng.uniform(0, 180, (per_image, 2)), rng.uniform(10, 80, (per_image, 2))
        classes = rng.integers(0, 3, per_image)
        for box, cls in zip(np.concatenate([xy, xy + wh], 1), classes, strict=True):
            out.append({"image_id": image["id"], "bbox": [float(v) for v in box],
                        "class": int(cls), "score": float(rng.uniform(0.01, 0.2))})  # fmt: skip
    return out


@pytest.mark.parametrize("seed", [10, 11, 12])
def test_random_boxes_of_an_untrained_model_show_no_class_or_geometry_cause(seed):
    gt = _ground_truth()
    found = _random_boxes(gt, seed=seed)
    assert evaluate(gt, found, "voc07").mean_ap < TRIAGE_BELOW_MAP
    assert diagnose(gt, found, 0.01) == []  # 1-2 % of objects overlapped by chance


def test_scores_at_an_untrained_heads_prior():
    gt = _ground_truth()
    found = [{**d, "score": 0.1 + d["score"] / 1000} for d in _random_boxes(gt, per_image=8)]
    findings = diagnose(gt, found, 0.01)
    assert _causes(findings) == ["scores"]
    assert findings[0].message.startswith(
        "no score reaches 0.15, an untrained head's level (160 detections"
    )
    assert findings[0].numbers["max_score"] == pytest.approx(0.1002, abs=1e-4)


def test_constant_shift_and_scale_found_with_its_transform():
    gt = _ground_truth()
    # boxes left in a letterboxed frame: x' = 0.6 x + 50, y' = 0.6 y + 20; and low-score noise
    found = _detections(gt, jitter=1.0, boxes=lambda b: b * 0.6 + np.array([50, 20, 50, 20]))
    found += [{**d, "score": d["score"] / 10} for d in _random_boxes(gt, per_image=30)]
    assert evaluate(gt, found, "voc07").mean_ap < TRIAGE_BELOW_MAP
    findings = diagnose(gt, found, 0.01)
    assert _causes(findings) == ["shift_scale"]
    n = findings[0].numbers
    assert n["match_rate_before"] < 0.1 and n["match_rate_after"] > 0.9
    assert n["scale_x"] == pytest.approx(1 / 0.6, abs=0.03)  # the inverse: x = (x' - 50) / 0.6
    assert n["offset_x"] == pytest.approx(-50 / 0.6, abs=3)
    assert n["scale_y"] == pytest.approx(1 / 0.6, abs=0.03)
    assert n["offset_y"] == pytest.approx(-20 / 0.6, abs=3)
    assert "->" in findings[0].message and "x' = 1.66" in findings[0].message


def test_class_ids_shifted_by_one():
    gt = _ground_truth()
    found = _detections(gt, classes=lambda c: (c + 1) % len(CLASSES))
    assert evaluate(gt, found, "voc07").mean_ap < TRIAGE_BELOW_MAP
    findings = diagnose(gt, found, 0.01)
    assert _causes(findings) == ["class_shift"]
    n = findings[0].numbers
    assert n["matches"] == len(gt["gt"]) and n["other_class"] == len(gt["gt"])
    assert n["dominant_offset"] == 1 and n["dominant_count"] == len(gt["gt"])  # 2 -> 0 too
    assert "are class k+1 for ground truth k" in findings[0].message


def test_overlapping_duplicates_mean_no_nms():
    gt = _ground_truth()
    found = [d for seed in range(5) for d in _detections(gt, jitter=1.5, seed=seed)]
    findings = diagnose(gt, found, 0.01)
    assert _causes(findings) == ["no_nms"]
    assert findings[0].numbers["mean_duplicates"] == pytest.approx(4.0, abs=0.3)


def test_model_classes_not_the_data_classes():
    gt = _ground_truth()
    found = _detections(gt)
    findings = diagnose(gt, found, 0.01, data_classes=["cat", "dog", "bird", "car"])
    assert _causes(findings) == ["class_names"]
    assert findings[0].numbers == {"model_classes": 3, "data_classes": 4, "ids_outside": 0}
    assert "4 names in the data, 3 in the model" in findings[0].message
    renamed = diagnose(gt, found, 0.01, data_classes=["cat", "horse", "bird"])
    assert "'horse'" in renamed[0].message


def test_report_lines():
    gt = _ground_truth()
    lines = report_lines(diagnose(gt, [], 0.01), 0.0)
    assert lines[0] == f"triage: mAP 0.0000 < {TRIAGE_BELOW_MAP}; the detections show:"
    assert lines[1].startswith("  - scores: every score is under")
    assert "none of the usual causes" in report_lines([], 0.01)[0]


def _val_with_stand_in(tmp_path, monkeypatch, shift, written=None):
    """``get_map.py`` (``centernet val``) on 4 images (a cat and a dog each) with a stand-in
    predictor returning the true boxes with class ``(k + shift) % 2``; ``written``: the
    ``val_classes.txt`` beside the annotation lines. Returns (exit code, summary)."""
    objects = [(4, 5, 30, 28, 0), (34, 8, 60, 40, 1)]
    lines = []
    for i in range(4):
        path = tmp_path / f"im{i}.jpg"
        Image.new("RGB", (64, 48), (40 * i, 40 * i, 40 * i)).save(path)
        lines.append(f"{path} " + " ".join(",".join(map(str, o)) for o in objects))
    (tmp_path / "val.txt").write_text("\n".join(lines) + "\n")
    if written is not None:
        (tmp_path / "val_classes.txt").write_text("\n".join(written) + "\n")
    names = ["cat", "dog"]

    def detect(image):
        classes = np.array([(o[4] + shift) % 2 for o in objects], np.int32)
        boxes = np.array([o[:4] for o in objects], np.float32)
        scores = np.array([0.9, 0.8], np.float32)
        return Detections(boxes, scores, classes, [names[c] for c in classes], image.shape[:2])

    settings = {"score_threshold": 0.01, "letterbox": True}
    methods = {"__call__": lambda self, im: detect(im), "settings": lambda self: settings}
    predictor = type("StandIn", (), methods)()
    predictor.class_names, predictor.score_threshold = names, 0.01
    predictor.model = SimpleNamespace(class_names=None, keypoint_spec=None)  # names not saved
    get_map = load_script("get_map.py")
    monkeypatch.setattr(get_map, "predictor_from_args", lambda args: predictor)
    argv = ["--model", str(tmp_path / "unused.keras"), "--annotation-file"]
    argv += [str(tmp_path / "val.txt"), "--output-dir", str(tmp_path / "map"), "--no-progress"]
    code = get_map.main(argv)
    return code, json.loads((tmp_path / "map" / "summary.json").read_text())


@pytest.mark.parametrize(
    ("shift", "written", "causes"),
    [
        (1, None, ["class_shift"]),
        (1, ["dog", "cat"], ["class_shift", "class_names"]),
        (0, None, []),
    ],
)
def test_val_prints_the_triage_under_the_metrics(tmp_path, monkeypatch, capsys, shift, written,
                                                 causes):  # fmt: skip
    code, summary = _val_with_stand_in(tmp_path, monkeypatch, shift, written)
    out = capsys.readouterr().out
    assert code == 0
    if not causes:  # mAP 1: no triage
        assert summary["metrics"]["voc07"]["mAP"] == pytest.approx(1.0)
        assert "triage: " not in out and "triage" not in summary
        return
    assert summary["metrics"]["voc07"]["mAP"] < TRIAGE_BELOW_MAP
    assert [f["cause"] for f in summary["triage"]["findings"]] == causes
    assert out.index("triage: mAP 0.0000 < 0.05") < out.index("reports written to")
    assert "  - class_shift: 100% of the 8 IoU>=0.5 matches are class k+1" in out
    if "class_names" in causes:  # the lines were written with the names the other way round
        assert "  - class_names: the model's classes are not the data's (id 0: 'dog'" in out


def test_training_map_callback_logs_the_triage_once_per_cause(tmp_path, monkeypatch, caplog):
    from centernet_keras import inference
    from centernet_keras.training.map_callback import MapCallback

    objects = [(4, 5, 30, 28, 0), (34, 8, 60, 40, 1)]
    records = []
    for i in range(3):
        path = tmp_path / f"im{i}.jpg"
        Image.new("RGB", (64, 48), (60 * i, 60 * i, 60 * i)).save(path)
        boxes = np.array([o[:4] for o in objects], np.float32)
        records.append(ImageRecord(str(path), boxes, np.array([0, 1]), np.zeros(2, bool)))
    state = {"shift": 1, "score": 0.9}

    def detect(image):
        classes = np.array([(o[4] + state["shift"]) % 2 for o in objects], np.int32)
        boxes = np.array([o[:4] for o in objects], np.float32)
        found = Detections(boxes, np.full(2, state["score"], np.float32), classes,
                           ["cat", "dog"], image.shape[:2])  # fmt: skip
        return found.above(0.01)

    monkeypatch.setattr(inference, "Predictor", lambda model, names, score_threshold: detect)
    callback = MapCallback(records, every=1, last_epoch=5)
    callback.set_model(SimpleNamespace(class_names=["cat", "dog"], num_classes=2,
                                       keypoint_spec=None))  # fmt: skip
    seen = []
    for epoch, (shift, score) in enumerate([(1, 0.9), (1, 0.9), (1, 0.001), (0, 0.9)]):
        state.update(shift=shift, score=score)
        caplog.clear()
        with caplog.at_level("INFO", logger="centernet_keras.training"):
            callback.on_epoch_end(epoch, {})
        seen.append([r.getMessage() for r in caplog.records if "val mAP" not in r.getMessage()])
    assert seen[0][0] == "triage: mAP 0.0000 < 0.05; the detections show:"
    assert seen[0][1].startswith("  - class_shift: 100% of the 6 IoU>=0.5 matches")
    assert seen[1] == []  # the same cause: not again
    assert seen[2][1].startswith("  - scores: every score is under the score threshold 0.01")
    assert seen[3] == []  # mAP 1: nothing to explain
    assert callback.triage_causes == ("scores",)
