"""get_map.py and evaluation.runner: splits from annotation lines, VOC XML and COCO json."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from centernet_keras.data.annotations import ImageRecord
from centernet_keras.evaluation.runner import collect_detections, evaluate_split, load_split
from centernet_keras.inference import Detections
from centernet_keras.models import build_centernet

ROOT = Path(__file__).resolve().parents[1]
CLASSES = ["cat", "dog"]
# image name → (height, width), [(x1, y1, x2, y2, class, difficult)]
OBJECTS = {
    "img1.jpg": ((40, 60), [(5, 6, 30, 33, 0, 0), (35, 10, 58, 38, 1, 1)]),
    "img2.jpg": ((50, 45), [(10, 12, 40, 44, 1, 0)]),
    "img3.jpg": ((36, 36), []),
}


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(name.removesuffix(".py"), ROOT / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


get_map = _load_script("get_map.py")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """Images + an annotation-lines file, a VOC2007 tree and a COCO json of the same objects."""
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    voc = root / "VOCdevkit" / "VOC2007"
    for sub in ("JPEGImages", "Annotations", "ImageSets/Main"):
        (voc / sub).mkdir(parents=True)
    lines, coco = [], {"images": [], "annotations": [], "categories": []}
    coco["categories"] = [{"id": i + 1, "name": n} for i, n in enumerate(CLASSES)]
    for image_id, (name, ((h, w), objects)) in enumerate(OBJECTS.items(), 1):
        pixels = rng.integers(0, 256, (h, w, 3)).astype(np.uint8)
        Image.fromarray(pixels).save(voc / "JPEGImages" / name, quality=95)
        lines.append(" ".join([str(voc / "JPEGImages" / name), *_line_fields(objects)]))
        xml_objects = "".join(
            f"<object><name>{CLASSES[c]}</name><difficult>{d}</difficult><bndbox>"
            f"<xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax>"
            f"</bndbox></object>"
            for x1, y1, x2, y2, c, d in objects
        )
        (voc / "Annotations" / f"{Path(name).stem}.xml").write_text(
            f"<annotation><filename>{name}</filename><size><width>{w}</width>"
            f"<height>{h}</height><depth>3</depth></size>{xml_objects}</annotation>"
        )
        coco["images"].append({"id": image_id, "file_name": name, "width": w, "height": h})
        for x1, y1, x2, y2, c, d in objects:
            coco["annotations"].append(
                {
                    "id": len(coco["annotations"]) + 1,
                    "image_id": image_id,
                    "category_id": c + 1,
                    "bbox": [x1, y1, x2 - x1, y2 - y1],
                    "area": (x2 - x1) * (y2 - y1),
                    "iscrowd": d,  # COCO's ignore flag; the reader skips crowds
                }
            )
    (voc / "ImageSets" / "Main" / "test.txt").write_text(
        "".join(f"{Path(n).stem}\n" for n in OBJECTS)
    )
    (root / "val.txt").write_text("\n".join(lines) + "\n")
    (root / "instances.json").write_text(json.dumps(coco))
    return root


def _line_fields(objects):
    return [f"{x1},{y1},{x2},{y2},{c}" + (",1" if d else "") for x1, y1, x2, y2, c, d in objects]


def oracle_detector(records):
    """Returns each image's ground truth as detections (looked up by image size)."""
    by_size = {(int(r.height), int(r.width)): r for r in records}

    def detect(image):
        r = by_size[image.shape[:2]]
        n = len(r.classes)
        return Detections(
            r.boxes.copy(),
            np.linspace(0.9, 0.5, n).astype(np.float32),
            r.classes.copy(),
            [CLASSES[c] for c in r.classes],
            image.shape[:2],
        )

    return detect


@pytest.mark.parametrize("source", ["lines", "voc", "coco"])
def test_splits_read_difficult_flags(dataset, source) -> None:
    kwargs = {
        "lines": {"annotation_file": dataset / "val.txt"},
        "voc": {"voc_root": dataset / "VOCdevkit", "year": 2007, "split": "test"},
        "coco": {
            "coco_json": dataset / "instances.json",
            "image_dir": dataset / "VOCdevkit/VOC2007/JPEGImages",
        },
    }[source]
    records, problems = load_split(CLASSES, **kwargs)
    assert problems == []
    assert [Path(r.path).name for r in records] == list(OBJECTS)
    first = records[0]
    if source == "coco":  # crowd objects are skipped by the COCO reader
        np.testing.assert_array_equal(first.classes, [0])
    else:
        np.testing.assert_array_equal(first.classes, [0, 1])
        np.testing.assert_array_equal(first.difficult, [False, True])
        np.testing.assert_allclose(first.boxes, [[5, 6, 30, 33], [35, 10, 58, 38]])


def test_perfect_detections_score_one(dataset, tmp_path) -> None:
    records, _ = load_split(CLASSES, annotation_file=dataset / "val.txt")
    for r in records:
        r.height, r.width = Image.open(r.path).size[::-1]
    summary, table, failures = evaluate_split(
        oracle_detector(records), records, CLASSES, tmp_path, progress=False
    )
    assert failures == []
    metrics = summary["metrics"]
    assert metrics["voc07"]["mAP"] == pytest.approx(1.0)
    assert metrics["voc"]["mAP"] == pytest.approx(1.0)
    assert metrics["coco"]["stats"]["AP@[.5:.95]"] == pytest.approx(1.0)
    # The difficult dog is not a positive: dog has one ground truth for VOC.
    assert metrics["voc"]["per_class"]["dog"]["num_gt"] == 1
    assert "cat" in table and "dog" in table


def test_unreadable_image_is_reported(dataset, tmp_path) -> None:
    records = [
        ImageRecord(
            str(dataset / "VOCdevkit/VOC2007/JPEGImages/img2.jpg"), [[10, 12, 40, 44]], [1]
        ),
        ImageRecord(str(tmp_path / "missing.jpg"), [[0, 0, 5, 5]], [0]),
    ]
    records[0].height, records[0].width = 50, 45
    gt, det, failures = collect_detections(oracle_detector(records[:1]), records, CLASSES, False)
    assert len(failures) == 1 and "missing.jpg" in failures[0]
    assert [im["id"] for im in gt["images"]] == [1] and len(gt["gt"]) == 1 and len(det) == 1


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    model = build_centernet(
        2,
        backbone="resnet18",
        input_shape=(64, 64, 3),
        neck_filters=(32, 32, 32),
        head_channels=16,
        class_names=CLASSES,
    )
    size = model.get_layer("size")
    size.kernel.assign(size.kernel * 0.01)
    size.bias.assign(np.array([4.0, 4.0], np.float32))
    path = tmp_path_factory.mktemp("ckpt") / "tiny.keras"
    model.save(path)
    return path


def test_help_explains_every_flag() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "get_map.py"), "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    for flag in (
        "--model", "--classes", "--annotation-file", "--voc-root", "--year", "--split",
        "--coco-json", "--image-dir", "--output-dir", "--confidence", "--nms-iou",
    ):  # fmt: skip
        assert flag in out, flag
    for action in get_map.build_parser()._actions:
        assert action.help, action.option_strings


def test_cli_writes_reports(dataset, checkpoint, tmp_path, capsys) -> None:
    out = tmp_path / "map"
    argv = ["--model", str(checkpoint), "--voc-root", str(dataset / "VOCdevkit")]
    assert get_map.main([*argv, "--output-dir", str(out), "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "warning" not in captured.err
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["metrics"]) == {"voc07", "voc", "coco"}
    assert summary["confidence"] == 0.01 and summary["num_images"] == 3
    assert len(summary["metrics"]["coco"]["stats"]) == 12
    assert sorted(p.name for p in (out / "pr_curves").iterdir()) == ["pr_cat.png", "pr_dog.png"]
    assert (out / "per_class.txt").read_text().strip() in captured.out
    saved = json.loads((out / "detections.json").read_text())
    assert [g["difficult"] for g in saved["ground_truth"]["gt"]] == [0, 1, 0]


def test_cli_warns_on_high_confidence_and_one_source(dataset, checkpoint, tmp_path, capsys):
    argv = ["--model", str(checkpoint), "--annotation-file", str(dataset / "val.txt")]
    argv += ["--output-dir", str(tmp_path), "--confidence", "0.3", "--no-progress"]
    assert get_map.main([*argv, "--metrics", "voc07"]) == 0
    assert "warning: --confidence 0.3" in capsys.readouterr().err
    both = ["--model", str(checkpoint), "--annotation-file", "a.txt", "--voc-root", "v"]
    assert get_map.main(both) == 2
    assert "exactly one of" in capsys.readouterr().err


def test_class_id_beyond_the_model_is_an_error(tmp_path) -> None:
    record = ImageRecord(str(tmp_path / "x.jpg"), [[0, 0, 5, 5]], [2])
    with pytest.raises(ValueError, match=r"class id 2 .* the model has 2 classes"):
        collect_detections(lambda image: None, [record], CLASSES, progress=False)
