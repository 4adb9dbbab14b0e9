"""get_map.py and evaluation.runner: splits from annotation lines, VOC XML and COCO json."""

import json
import subprocess
import sys
from pathlib import Path

import coco_data
import keras
import numpy as np
import pytest
from helpers import load_script
from PIL import Image

from centernet_keras.data.annotations import ImageRecord
from centernet_keras.evaluation.runner import collect_detections, evaluate_split, load_split
from centernet_keras.inference import Detections, Predictor
from centernet_keras.models import build_centernet

ROOT = Path(__file__).resolve().parents[1]
CLASSES = ["cat", "dog"]
# image name → (height, width), [(x1, y1, x2, y2, class, difficult)]
OBJECTS = {
    "img1.jpg": ((40, 60), [(5, 6, 30, 33, 0, 0), (35, 10, 58, 38, 1, 1)]),
    "img2.jpg": ((50, 45), [(10, 12, 40, 44, 1, 0)]),
    "img3.jpg": ((36, 36), []),
}


get_map = load_script("get_map.py")


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
    first = records[0]  # a COCO crowd object is kept flagged, like a difficult one
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
        "--coco-json", "--image-dir", "--output-dir", "--score-threshold", "--confidence",
        "--iou-threshold", "--nms-iou",
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
    assert summary["score_threshold"] == 0.01 and summary["num_images"] == 3
    assert len(summary["metrics"]["coco"]["stats"]) == 12
    assert sorted(p.name for p in (out / "pr_curves").iterdir()) == ["pr_cat.png", "pr_dog.png"]
    assert (out / "per_class.txt").read_text().strip() in captured.out
    saved = json.loads((out / "detections.json").read_text())
    assert [g["difficult"] for g in saved["ground_truth"]["gt"]] == [0, 1, 0]


def test_cli_warns_on_high_confidence_and_one_source(dataset, checkpoint, tmp_path, capsys):
    argv = ["--model", str(checkpoint), "--annotation-file", str(dataset / "val.txt")]
    argv += ["--output-dir", str(tmp_path), "--confidence", "0.3", "--no-progress"]
    assert get_map.main([*argv, "--metrics", "voc07"]) == 0
    assert "warning: --score-threshold 0.3" in capsys.readouterr().err  # the former flag name
    both = ["--model", str(checkpoint), "--annotation-file", "a.txt", "--voc-root", "v"]
    assert get_map.main(both) == 2
    assert "exactly one of" in capsys.readouterr().err


def _run(argv, capsys) -> tuple[int, str]:
    code = get_map.main([*argv, "--no-progress"])
    return code, capsys.readouterr().err


def _json_around_detections(checkpoint, root: Path) -> tuple[Path, Path]:
    """The COCO file of ``coco_data``, its objects placed where the model detects things.

    Per image and class: the top detection, shifted by a tenth of its size (IoU 0.68: a hit
    at IoU 0.5 to 0.65 only), is an object whose area puts it in another bucket than its box;
    on the first image the next detection, enlarged 1.5×, is a crowd region (IoU 0.44 as a
    box: a miss and a false positive if it were not a crowd).
    """
    _, image_dir = coco_data.write_coco(root, annotations=[])
    predictor = Predictor.from_checkpoint(checkpoint, score_threshold=0.01)
    annotations = []
    for n, (image_id, (name, _, _)) in enumerate(coco_data.IMAGES.items()):
        detections = predictor(str(image_dir / name))
        for c, class_name in enumerate(CLASSES):
            boxes = detections.boxes[detections.class_ids == c]  # by descending score
            x1, y1, x2, y2 = (float(v) for v in boxes[0])
            w, h = x2 - x1, y2 - y1
            area = (5000.0, 200.0, 12000.0)[(n + c) % 3]
            annotations.append((image_id, class_name, [x1 + w / 10, y1 + h / 10, w, h], area, 0))
            if n == 0:
                x1, y1, x2, y2 = (float(v) for v in boxes[1])
                w, h = x2 - x1, y2 - y1
                crowd = [x1 - w / 4, y1 - h / 4, 1.5 * w, 1.5 * h]
                annotations.append((image_id, class_name, crowd, 2.25 * w * h, 1))
    return coco_data.write_coco(root, annotations=annotations)


def test_cli_scores_a_coco_json_like_pycocotools(checkpoint, tmp_path, capsys) -> None:
    """Crowds, segmentation areas, non-contiguous ids, a dummy category: pycocotools' stats."""
    json_path, image_dir = _json_around_detections(checkpoint, tmp_path)
    out = tmp_path / "map"
    argv = ["--model", str(checkpoint), "--coco-json", str(json_path)]
    code, err = _run([*argv, "--image-dir", str(image_dir), "--output-dir", str(out)], capsys)
    assert code == 0, err
    results = json.loads((out / "coco_results.json").read_text())
    assert results and all(set(r) == {"image_id", "category_id", "bbox", "score"} for r in results)
    assert {r["image_id"] for r in results} == set(coco_data.IMAGES)
    assert {r["category_id"] for r in results} == set(coco_data.CATEGORY_IDS.values())
    official = coco_data.official_eval(json_path, out / "coco_results.json")
    stats = json.loads((out / "summary.json").read_text())["metrics"]["coco"]["stats"]
    np.testing.assert_allclose(list(stats.values()), official.stats, rtol=0, atol=1e-6)
    # Not a vacuous comparison: scored with box areas and without crowds, the stats differ.
    data = json.loads(json_path.read_text())
    for ann in data["annotations"]:
        ann.update(area=ann["bbox"][2] * ann["bbox"][3], iscrowd=0)
    (tmp_path / "plain.json").write_text(json.dumps(data))
    plain = coco_data.official_eval(tmp_path / "plain.json", out / "coco_results.json")
    assert np.abs(plain.stats - official.stats).max() > 0.1


def test_cli_matches_coco_categories_by_the_classes_given(tmp_path, capsys) -> None:
    """A model saved without names scores a COCO json only with --classes (matched by name)."""
    keras.utils.set_random_seed(0)
    model = build_centernet(
        2, backbone="resnet18", input_shape=(64, 64, 3), neck_filters=(32, 32, 32),
        head_channels=16,
    )  # fmt: skip
    heat = model.get_layer("heatmap")  # logits spread ~N(0, 1): both classes are detected
    heat.kernel.assign(heat.kernel * 100.0)
    heat.bias.assign(np.zeros(2, np.float32))
    model.save(tmp_path / "unnamed.keras")
    json_path, image_dir = coco_data.write_coco(tmp_path)
    argv = ["--model", str(tmp_path / "unnamed.keras"), "--coco-json", str(json_path)]
    argv += ["--image-dir", str(image_dir), "--output-dir", str(tmp_path / "map")]
    code, err = _run(argv, capsys)
    assert code == 1 and "class_0" in err and "'cat'" in err and "Traceback" not in err
    (tmp_path / "classes.txt").write_text("dog\ncat\n")
    assert _run([*argv, "--classes", str(tmp_path / "classes.txt")], capsys)[0] == 0
    results = json.loads((tmp_path / "map" / "coco_results.json").read_text())
    summary = json.loads((tmp_path / "map" / "summary.json").read_text())
    assert summary["num_gt"] == len(coco_data.ANNOTATIONS)  # the crowd is kept (as ignored)
    assert {r["category_id"] for r in results} == {17, 18}


def _one_error_line(err: str) -> str:
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    return err


def test_cli_refuses_lines_of_another_class_set(dataset, checkpoint, tmp_path, capsys) -> None:
    """Issue 26 point 4: line files of another class set are refused with one line (exit 2)
    instead of scoring their ids as the model's classes, with a warning per image."""
    first, second, third = (dataset / "val.txt").read_text().splitlines()
    first = first.replace("35,10,58,38,1,1", "35,10,58,38,4,1")  # ids 0, 4, 3: another set
    split = tmp_path / "voc_val.txt"
    split.write_text(f"{first}\n{second[:-2]},3\n{third}\n")
    argv = ["--model", str(checkpoint), "--output-dir", str(tmp_path / "map")]
    code, err = _run([*argv, "--annotation-file", str(split)], capsys)
    assert code == 2 and "has class ids up to 4 (2 boxes in 2 lines)" in _one_error_line(err)
    assert "the model has 2 classes ('cat', 'dog')" in err and "warning" not in err
    assert not (tmp_path / "map").exists()  # nothing scored

    # ids in range, but the classes file convert wrote beside them names other classes
    same_ids = tmp_path / "coco_val.txt"
    same_ids.write_text((dataset / "val.txt").read_text())
    (tmp_path / "coco_val_classes.txt").write_text("aeroplane\ndog\n")
    code, err = _run([*argv, "--annotation-file", str(same_ids)], capsys)
    assert code == 2 and f"written with the classes of {tmp_path / 'coco_val_classes.txt'}" in err
    assert "id 0: 'aeroplane' in coco_val_classes.txt, 'cat' in the model" in _one_error_line(err)

    # --classes naming other classes than the model saved (the ids' meaning): refused too
    (tmp_path / "classes.txt").write_text("aeroplane\ndog\n")
    extra = [
        "--annotation-file",
        str(dataset / "val.txt"),
        "--classes",
        str(tmp_path / "classes.txt"),
    ]
    code, err = _run([*argv, *extra], capsys)
    assert code == 2 and "'aeroplane' in --classes, 'cat' in the model" in _one_error_line(err)
    (tmp_path / "coco_val_classes.txt").write_text("cat\ndog\n")  # the model's: scored
    assert _run([*argv, "--annotation-file", str(same_ids)], capsys)[0] == 0


def test_cli_wrong_image_dir_is_an_error(checkpoint, tmp_path, capsys) -> None:
    json_path, _ = coco_data.write_coco(tmp_path)
    argv = ["--model", str(checkpoint), "--coco-json", str(json_path)]
    code, err = _run([*argv, "--image-dir", str(tmp_path), "--output-dir", str(tmp_path)], capsys)
    assert code == 1 and "none of the 3 images" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "case",
    ["classes_length", "missing_model", "text_model", "empty_model", "missing_file", "empty_file"],
)
def test_user_errors_are_one_line(case, dataset, checkpoint, tmp_path, capsys) -> None:
    model, split = str(checkpoint), str(dataset / "val.txt")
    extra, want = (
        [],
        {
            "classes_length": "3 class names but the model has 2 classes",
            "missing_model": "no such model file",
            "text_model": "not a Keras model",
            "empty_model": "not a Keras model",
            "missing_file": "No such file",
            "empty_file": "no images",
        }[case],
    )
    if case == "classes_length":
        (tmp_path / "classes.txt").write_text("cat\ndog\nbird\n")
        extra = ["--classes", str(tmp_path / "classes.txt")]
    elif case == "missing_model":
        model = str(tmp_path / "missing.keras")
    elif case in ("text_model", "empty_model"):
        model = str(tmp_path / "model.keras")
        Path(model).write_text("not a model\n" if case == "text_model" else "")
    elif case == "missing_file":
        split = str(tmp_path / "missing.txt")
    else:
        split = str(tmp_path / "empty.txt")
        Path(split).write_text("")
    argv = ["--model", model, "--annotation-file", split, "--output-dir", str(tmp_path), *extra]
    code, err = _run(argv, capsys)
    assert code == (2 if case == "classes_length" else 1)  # --classes not fitting: a usage error
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    assert want in err and "Traceback" not in err


def test_class_id_beyond_the_model_is_refused_in_one_line(
    dataset, checkpoint, tmp_path, capsys
) -> None:
    """Lines of another class set (issue 26 point 4): one error, not a warning per image and a
    score of what is left (before: exit 0, 'class id outside 0..1 dropped', num_gt 2)."""
    lines = (dataset / "val.txt").read_text().replace("5,6,30,33,0", "5,6,30,33,7")
    (tmp_path / "val.txt").write_text(lines)
    out = tmp_path / "map"
    argv = ["--model", str(checkpoint), "--annotation-file", str(tmp_path / "val.txt")]
    code, err = _run([*argv, "--output-dir", str(out), "--metrics", "voc07"], capsys)
    assert code == 2 and "has class ids up to 7 (1 box in 1 line)" in _one_error_line(err)
    assert "warning" not in err and not out.exists()


def test_class_id_beyond_the_model_is_an_error(tmp_path) -> None:
    record = ImageRecord(str(tmp_path / "x.jpg"), [[0, 0, 5, 5]], [2])
    with pytest.raises(ValueError, match=r"class id 2 .* the model has 2 classes"):
        collect_detections(lambda image: None, [record], CLASSES, progress=False)


#: summary.json keys of the settings that change the detections, hence the score.
SCORE_SETTINGS = (
    "runtime", "quantize", "calibration", "input_hw", "flip_test", "letterbox",
    "score_threshold", "iou_threshold", "max_detections", "decoder",
)  # fmt: skip


@pytest.mark.slow
def test_summary_records_every_setting_that_changes_the_score(dataset, tmp_path, capsys):
    """A plain Keras run and an INT8 ONNX Runtime run with every setting changed: each
    setting is in summary.json, and differs between the two reports (issue 21 point 5)."""
    model = build_centernet(
        2, backbone="resnet18", input_shape=(None, None, 3), neck_filters=(32, 32, 32),
        head_channels=16, class_names=CLASSES,
    )  # fmt: skip
    path = tmp_path / "dynamic.keras"
    model.save(path)
    argv = ["--model", str(path), "--annotation-file", str(dataset / "val.txt")]
    argv += ["--no-progress", "--metrics", "voc", "--output-dir"]
    changed = [
        "--runtime", "onnxruntime", "--quantize", "int8", "--calibration-count", "2",
        "--calibration-images", str(dataset / "VOCdevkit" / "VOC2007" / "JPEGImages"),
        "--input-size", "96", "--flip-test", "--no-letterbox", "--score-threshold", "0.02",
        "--iou-threshold", "0.4", "--max-detections", "20",
    ]  # fmt: skip
    assert get_map.main([*argv, str(tmp_path / "plain")]) == 0
    with pytest.warns(UserWarning, match="int8"):
        assert get_map.main([*argv, str(tmp_path / "int8"), *changed]) == 0
    capsys.readouterr()
    plain, int8 = (
        json.loads((tmp_path / name / "summary.json").read_text()) for name in ("plain", "int8")
    )
    for key in SCORE_SETTINGS:
        assert key in plain and key in int8 and plain[key] != int8[key], key
    assert (plain["runtime"], plain["quantize"], plain["calibration"]) == ("keras", None, None)
    assert (int8["runtime"], int8["quantize"]) == ("onnxruntime", "int8")
    assert int8["calibration"]["images"] == 2 and len(int8["calibration"]["sha256"]) == 64
    assert (plain["input_hw"], plain["input_longest_side"]) == (None, 512)  # each image's
    assert int8["input_hw"] == [96, 96] and "input_longest_side" not in int8
    assert (plain["flip_test"], int8["flip_test"]) == (False, True)
    assert (plain["letterbox"], int8["letterbox"]) == (True, False)
    assert (plain["score_threshold"], int8["score_threshold"]) == (0.01, 0.02)
    assert (plain["iou_threshold"], int8["iou_threshold"]) == (0.5, 0.4)  # auto: ResNet's 0.5
    assert (plain["max_detections"], int8["max_detections"]) == (100, 20)
    assert int8["decoder"]["score_threshold"] == 0.02 and int8["decoder"]["max_detections"] == 20
