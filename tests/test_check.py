"""``centernet check``, the dataset doctor (issue 23): each finding on a constructed tiny case
and not on a clean one, the detector's own round trip finding unlearnable objects, the exit
codes (0 clean, 1 failing findings, 2 usage errors) and data_report.png, through the CLI."""

import numpy as np
import pytest
from PIL import Image

from centernet_keras.console import main
from centernet_keras.data.annotations import ImageRecord, write_annotation_file
from centernet_keras.data.synthetic_pose import generate_pose_dataset
from centernet_keras.doctor.examine import examine
from centernet_keras.doctor.findings import findings, finest_stride, leaked
from centernet_keras.doctor.learnable import learnable, recovered
from centernet_keras.doctor.survey import Survey, survey
from centernet_keras.models.registry import detector_class, untrained_detector

INPUT = (64, 64)


def _survey(boxes, classes, images=1, image=None, digests=None, unreadable=None, joints=None):
    """A survey of ``images`` 64² images with the given input-pixel boxes."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    return Survey(
        INPUT,
        True,
        np.full((images, 2), 64),
        np.zeros(images, bool) if unreadable is None else np.asarray(unreadable),
        digests or [f"d{i}" for i in range(images)],
        np.zeros(len(boxes), np.int64) if image is None else np.asarray(image),
        np.asarray(classes, np.int32),
        boxes,
        np.zeros((len(boxes), 0, 3)) if joints is None else np.asarray(joints, np.float32),
    )


def _found(data, num_classes=2, keep=None, training=True):
    keep = np.ones(len(data.classes), bool) if keep is None else keep
    return {f.what.split(" (")[0]: f for f in findings(data, keep, 4, num_classes, training)}


CLEAN = _survey([[4, 4, 30, 30], [30, 30, 60, 58]], [0, 1])


def test_a_clean_split_has_no_finding():
    found = _found(CLEAN)
    assert not any(f.count for f in found.values()), [f.line() for f in found.values()]


@pytest.mark.parametrize(
    "boxes, classes, what",
    [
        ([[4, 4, 30, 30], [10, 10, 12, 12]], [0, 1], "smaller than the stride 4"),
        ([[4, 4, 30, 30], [10, 10, 10.5, 30]], [0, 1], "zero size at the input"),
        ([[4, 4, 30, 30], [2, 10, 62, 12.5]], [0, 1], "aspect ratio above 20"),
        ([[4, 4, 30, 30], [5, 5, 29, 29]], [0, 0], "centre on a stride-4 cell taken by its class"),
    ],
)
def test_each_box_finding_on_its_case(boxes, classes, what):
    found = _found(_survey(boxes, classes), num_classes=max(classes) + 1)
    assert found[what].count == 1
    others = [f.line() for k, f in found.items() if f.count and k != what]
    assert not others or what.startswith(("zero", "smaller")), others


def test_failing_findings_are_the_ones_that_hurt_training():
    assert not any(f.fails for f in _found(CLEAN).values())
    lost = _found(CLEAN, keep=np.array([True, False]))["no output location can learn"]
    assert lost.fails and lost.count == 1
    missing = _found(_survey([[4, 4, 30, 30]], [0]))["classes without an object"]
    assert missing.fails and missing.count == 1
    assert not _found(_survey([[4, 4, 30, 30]], [0]), training=False)[
        "classes without an object"
    ].fails
    bad = _found(_survey([[4, 4, 30, 30], [30, 30, 60, 58]], [0, 1], 2, unreadable=[False, True]))
    assert bad["unreadable"].fails and bad["without objects"].count == 1


def test_images_without_objects_duplicates_and_leaks():
    data = _survey(CLEAN.boxes, [0, 1], images=3, image=[0, 2], digests=["a", "b", "a"])
    found = _found(data)
    assert found["without objects"].count == 1 and not found["without objects"].fails
    assert found["duplicates"].count == 1 and not found["duplicates"].fails
    val = _survey(CLEAN.boxes, [0, 1], images=2, image=[0, 1], digests=["x", "b"])
    assert leaked(data, val).count == 1 and leaked(data, val).fails
    assert leaked(data, _survey(CLEAN.boxes, [0, 1], digests=["y"])).count == 0


def test_rarely_labelled_joints():
    joints = np.zeros((2, 3, 3), np.float32)
    joints[:, :2, 2] = 2  # joint 2 never labelled
    found = _found(_survey(CLEAN.boxes, [0, 1], joints=joints))
    assert found["labelled in under 10% of the objects"].count == 1


def test_survey_places_boxes_as_the_network_sees_them(tmp_path):
    path = tmp_path / "wide.png"
    Image.new("RGB", (128, 64)).save(path)
    record = ImageRecord(str(path), [[0, 0, 128, 64], [10, 10, 20, 20]], [0, 1], [False, True])
    data = survey([record], INPUT, letterbox=True)
    np.testing.assert_allclose(data.boxes, [[0, 16, 64, 48]])  # letterboxed; difficult left out
    assert survey([record], INPUT, letterbox=False).boxes.tolist() == [[0, 0, 64, 64]]


def test_recovered_matches_one_to_one_by_class():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10]], np.float32)
    found = {"num_detections": 1, "boxes": boxes[:1], "classes": np.array([0])}
    assert recovered(boxes, np.array([0, 0]), found).tolist() == [True, False]
    assert recovered(boxes, np.array([1, 1]), found).tolist() == [False, False]


@pytest.fixture(scope="module")
def centernet():
    return untrained_detector("centernet", 2, backbone="mobilenetv3_small", input_shape=(64, 64, 3))


def test_the_round_trip_loses_the_second_centre_on_one_centernet_cell(centernet):
    assert (
        finest_stride(detector_class("centernet")) == 4
        and finest_stride(detector_class("fcos")) == 8
    )
    two = _survey([[4, 4, 30, 30], [6, 6, 28, 28], [40, 40, 60, 60]], [0, 0, 1])
    assert learnable(centernet, two).tolist().count(False) == 1
    apart = _survey([[4, 4, 30, 30], [34, 34, 60, 60]], [0, 0])
    assert learnable(centernet, apart).all()


def test_the_summary_paragraph_names_the_problems(centernet, tmp_path):
    records = [ImageRecord(str(tmp_path / "x.png"), [[4, 4, 30, 30], [6, 6, 28, 28]], [0, 0])]
    Image.new("RGB", (64, 64)).save(tmp_path / "x.png")
    text = examine(centernet, {"training": records}, ["a", "b"]).summary()
    assert text.startswith("data check (training, input 64x64, letterbox): 1 images, 2 objects")
    assert "PROBLEMS: 1 of 2 objects (50.0 %) no output location can learn" in text
    assert "1 of 2 classes (50.0 %) classes without an object" in text


def _dataset(tmp_path, boxes_per_image, name="train.txt"):
    rng = np.random.default_rng(len(name))
    records = []
    for i, boxes in enumerate(boxes_per_image):
        path = tmp_path / f"{name}{i}.png"
        Image.fromarray(rng.integers(0, 255, (64, 64, 3), np.uint8)).save(path)
        records.append(ImageRecord(str(path), [b[:4] for b in boxes], [b[4] for b in boxes]))
    write_annotation_file(tmp_path / name, records)
    (tmp_path / "classes.txt").write_text("a\nb\n")
    return tmp_path / name


def _check(tmp_path, train, *extra):
    argv = ["check", "--detector", "fcos", "--backbone", "mobilenetv3_small", "--input-size",
            "64", "--classes", str(tmp_path / "classes.txt"), "--train", str(train),
            "--output-dir", str(tmp_path / "out"), *extra]  # fmt: skip
    return main(argv)


def test_cli_clean_data_exits_0_and_writes_the_report(tmp_path, capsys):
    train = _dataset(tmp_path, [[(4, 4, 40, 40, 0)], [(10, 8, 60, 50, 1), (2, 2, 30, 30, 0)]])
    val = _dataset(tmp_path, [[(6, 6, 50, 40, 1)]], "val.txt")
    assert _check(tmp_path, train, "--val", str(val)) == 0
    out = capsys.readouterr().out
    assert "OK: no finding" in out and "validation: 1 images, 1 objects" in out
    assert (tmp_path / "out" / "data_report.png").stat().st_size > 1000


def test_cli_unlearnable_fcos_objects_exit_1(tmp_path, capsys):
    tiny = [(9, 9, 11, 11, 0), (20, 20, 40, 40, 1)]  # 2 px: no stride-8 location inside
    train = _dataset(tmp_path, [tiny, [(4, 4, 40, 40, 0), (41, 41, 60, 60, 1)]])
    assert _check(tmp_path, train, "--val", "") == 1
    out = capsys.readouterr().out
    assert "1 of 4 objects (25.0 %) no output location can learn" in out, out


@pytest.mark.parametrize(
    "extra, message",
    [(["--train", "missing.txt"], "missing.txt"), (["--input-size", "65"], "32")],
)
def test_cli_usage_errors_exit_2(tmp_path, capsys, extra, message):
    train = _dataset(tmp_path, [[(4, 4, 40, 40, 0), (10, 8, 60, 50, 1)]])
    assert _check(tmp_path, train, "--val", "", *extra) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1, err


def test_cli_pose_keypoints_from_coco_json(tmp_path, capsys):
    paths = generate_pose_dataset(tmp_path / "pose", num_images=6, seed=1, val_fraction=0.34)
    argv = ["check", "--detector", "pose", "--backbone", "mobilenetv3_small", "--input-size",
            "64", "--train-json", str(paths["train"]), "--train-images", str(paths["images"]),
            "--val-json", str(paths["val"]), "--val-images", str(paths["images"]),
            "--output-dir", str(tmp_path / "out")]  # fmt: skip
    assert main(argv) in (0, 1)
    out = capsys.readouterr().out
    assert out.count("joints labelled: nose ") == 2 and "right_ankle" in out
    assert (tmp_path / "out" / "data_report.png").is_file()


def test_a_detector_whose_targets_the_oracle_cannot_read_is_said_unchecked():
    """A registered detector with its own target layout (the toy of tests/toy_detector): the
    learnability row says 'not checked' and does not fail; it crashed train before (KeyError
    'indices' in the oracle)."""
    from toy_detector.model import CenterPoint  # registers the toy

    model = untrained_detector("toy", 2, backbone="tiny", input_shape=(64, 64, 3))
    assert isinstance(model, CenterPoint)
    data = _survey([[4, 4, 40, 40]], [0])
    assert learnable(model, data) is None
    row = findings(data, None, 8, 2)[0]
    assert row.what.endswith("not checked (the oracle does not read this detector's targets)")
    assert row.count == 0 and not row.fails
