"""VOC difficult objects: written flagged by the converter, never trained on as positives,
ignored by every VOC metric (get_map from an annotation file, the training mAP callback)."""

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from helpers import centernet_encoder, load_script
from PIL import Image

from centernet_keras.data.annotations import ImageRecord, read_annotation_file
from centernet_keras.data.augment import AugmentConfig
from centernet_keras.data.pipeline import PipelineConfig, make_dataset
from centernet_keras.detections import Detections
from centernet_keras.evaluation.runner import evaluate_split, load_split

ROOT = Path(__file__).resolve().parents[2]
CLASSES = ["cat", "dog"]
ENCODE = centernet_encoder(num_classes=len(CLASSES))
# stem → gray level (identifies the image), [(x1, y1, x2, y2, class, difficult)]: a cat and a
# difficult cat in each image
IMAGES = {f"im{i}": (40 + 30 * i, [(4, 5, 30, 28, 0, 0), (34, 8, 60, 40, 0, 1)]) for i in range(4)}


def _voc(root):
    voc = root / "VOCdevkit" / "VOC2007"
    for sub in ("Annotations", "JPEGImages"):
        (voc / sub).mkdir(parents=True)
    for stem, (gray, objects) in IMAGES.items():
        Image.new("RGB", (64, 48), (gray, gray, gray)).save(voc / "JPEGImages" / f"{stem}.jpg")
        xml = "".join(
            f"<object><name>{CLASSES[c]}</name><difficult>{d}</difficult><bndbox><xmin>{x1}"
            f"</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object>"
            for x1, y1, x2, y2, c, d in objects
        )
        (voc / "Annotations" / f"{stem}.xml").write_text(f"<annotation>{xml}</annotation>")
    (root / "classes.txt").write_text("\n".join(CLASSES) + "\n")
    return root / "VOCdevkit"


def _convert(tmp_path, *flags):
    """voc_annotation.py (in-process) with every image in val; returns the val records."""
    voc_root = _voc(tmp_path)
    argv = ["--voc-root", voc_root, "--classes", tmp_path / "classes.txt", "--out-dir", tmp_path]
    argv += ["--trainval-percent", "1", "--train-percent", "0", *flags]
    assert load_script("voc_annotation.py").main([str(a) for a in argv]) == 0
    records, problems = read_annotation_file(tmp_path / "2007_val.txt")
    assert problems == [] and len(records) == len(IMAGES)
    return records


def test_converter_writes_difficult_flag_by_default(tmp_path):
    for record in _convert(tmp_path):
        np.testing.assert_array_equal(record.classes, [0, 0])
        np.testing.assert_array_equal(record.difficult, [False, True])
    text = (tmp_path / "2007_val.txt").read_text()
    assert text.count(",0,1") == len(IMAGES)  # "x1,y1,x2,y2,0,1": the cat flagged difficult


def test_skip_difficult_drops_them(tmp_path, capsys):
    for record in _convert(tmp_path, "--skip-difficult"):
        np.testing.assert_array_equal(record.classes, [0])
        assert not record.difficult.any()
    assert "difficult_skipped" in capsys.readouterr().out


def _oracle(image_boxes):
    """A detector returning every ground-truth box (difficult ones too), by image gray level."""

    def detect(image):
        objects = image_boxes[round(float(image.mean()))]
        boxes = np.array([o[:4] for o in objects], np.float32)
        classes = np.array([o[4] for o in objects], np.int32)
        # the difficult box scores highest: as a false positive it would halve the precision
        scores = np.array([0.9 if o[5] else 0.5 for o in objects], np.float32)
        return Detections(boxes, scores, classes, [CLASSES[c] for c in classes], image.shape[:2])

    return detect


ORACLE = _oracle({gray: objects for gray, objects in IMAGES.values()})


def test_perfect_detector_scores_one_from_the_converted_file(tmp_path):
    _convert(tmp_path)
    records, problems = load_split(CLASSES, annotation_file=tmp_path / "2007_val.txt")
    summary, _, failures = evaluate_split(
        ORACLE, records, CLASSES, tmp_path / "map", progress=False
    )
    assert problems == [] and failures == []
    assert summary["metrics"]["voc07"]["mAP"] == pytest.approx(1.0)
    assert summary["metrics"]["voc"]["mAP"] == pytest.approx(1.0)


def test_get_map_cli_perfect_detector_scores_one(tmp_path, monkeypatch, capsys):
    _convert(tmp_path)
    get_map = load_script("get_map.py")
    fake = SimpleNamespace(
        class_names=CLASSES,
        score_threshold=0.01,
        iou_threshold=None,
        max_detections=100,
        letterbox=True,
        flip_test=False,
    )
    methods = {"__call__": lambda self, im: ORACLE(im), "settings": lambda self: vars(fake)}
    fake_predictor = type("FakePredictor", (), methods)()
    fake_predictor.__dict__.update(vars(fake))
    fake_predictor.model = SimpleNamespace(class_names=CLASSES, keypoint_spec=None)  # as Detector
    monkeypatch.setattr(get_map, "predictor_from_args", lambda args: fake_predictor)
    out = tmp_path / "map"
    argv = ["--model", str(tmp_path / "unused.keras"), "--annotation-file"]
    argv += [str(tmp_path / "2007_val.txt"), "--output-dir", str(out), "--no-progress"]
    assert get_map.main([*argv, "--metrics", "voc07", "voc"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["metrics"]["voc07"]["mAP"] == pytest.approx(1.0)
    assert summary["metrics"]["voc"]["per_class"]["cat"]["num_gt"] == len(IMAGES)


def test_training_map_callback_ignores_difficult(tmp_path, monkeypatch):
    from centernet_keras import inference
    from centernet_keras.training.map_callback import evaluate_model

    records = _convert(tmp_path)
    monkeypatch.setattr(inference, "Predictor", lambda model, names, score_threshold: ORACLE)
    model = SimpleNamespace(class_names=CLASSES, num_classes=2)
    make_dataset(records, PipelineConfig((64, 64), batch_size=2), training=False, encoder=ENCODE)
    assert evaluate_model(model, records, "voc07").mean_ap == pytest.approx(1.0)
    assert all(r.difficult.tolist() == [False, True] for r in records)  # records not mutated


@pytest.mark.parametrize("training", [False, True])
def test_pipeline_targets_have_no_difficult_box(tmp_path, training):
    # class 0 easy at the left, class 1 difficult at the right; a third image all difficult
    paths = []
    for i in range(3):
        path = tmp_path / f"{i}.jpg"
        Image.new("RGB", (64, 64), (90, 90, 90)).save(path)
        paths.append(str(path))
    boxes = [[4, 4, 24, 24], [36, 36, 60, 60]]
    records = [
        ImageRecord(paths[0], boxes, [0, 1], [False, True]),
        ImageRecord(paths[1], boxes, [0, 1], [False, True]),
        ImageRecord(paths[2], boxes, [1, 1], [True, True]),
    ]
    config = PipelineConfig((64, 64), batch_size=3, augment=AugmentConfig(enabled=False))
    data = make_dataset(records, config, training=training, drop_remainder=False, encoder=ENCODE)
    (_, targets), *_ = list(data)
    mask = targets["mask"].numpy()
    heatmap = targets["heatmap"].numpy()
    order = np.argsort(-mask.sum(1))  # training shuffles: images with one box first
    np.testing.assert_array_equal(mask.sum(1)[order], [1, 1, 0])
    assert heatmap[..., 1].max() == 0.0  # no difficult box drawn
    assert heatmap[..., 0].reshape(3, -1).max(1)[order].tolist() == [1.0, 1.0, 0.0]
