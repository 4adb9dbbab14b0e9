"""predict.py on a pose model: skeletons in image / dir / video mode, --no-boxes, joint heatmap,
--json with the joints."""

import contextlib
import io
import json

import cv2
import numpy as np
import pytest
from detector_cases import tiny_pose
from helpers import load_script
from PIL import Image

from centernet_keras.detections import Detections
from centernet_keras.inference import Predictor
from centernet_keras.keypoints import COCO_KEYPOINT_NAMES
from centernet_keras.visualize import class_color, heatmap_overlay
from centernet_keras.visualize.pose import CENTRE_COLOR, LEFT_COLOR, RIGHT_COLOR

predict = load_script("predict.py")
GRAY = (128, 128, 128)
JOINT = {name: i for i, name in enumerate(COCO_KEYPOINT_NAMES)}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "pose.keras"
    tiny_pose().save(path)  # 64 x 64 input, COCO-17
    return path


@pytest.fixture
def gray_image(tmp_path):
    path = tmp_path / "people.png"
    Image.new("RGB", (72, 48), GRAY).save(path)
    return path


def one_person(image):
    """A person with known joints; only the shoulders, elbows and the left wrist scored, the
    wrist below the drawing threshold (0.1)."""
    h, w = image.shape[:2]
    joints = np.full((1, 17, 2), 2.0, np.float32)
    scores = np.zeros((1, 17), np.float32)
    for name, xy, score in (
        ("left_shoulder", (50, 14), 0.9),
        ("left_elbow", (50, 40), 0.9),
        ("right_shoulder", (20, 14), 0.9),
        ("right_elbow", (20, 40), 0.9),
        ("left_wrist", (66, 40), 0.05),
    ):
        joints[0, JOINT[name]] = xy
        scores[0, JOINT[name]] = score
    return Detections(
        boxes=np.array([[4, 6, 68, 46]], np.float32),
        scores=np.array([0.9], np.float32),
        class_ids=np.array([0], np.int32),
        class_names=["person"],
        image_size=(h, w),
        keypoints=joints,
        keypoint_scores=scores,
    )


@pytest.mark.parametrize("no_boxes", [False, True])
def test_image_mode_draws_limbs_by_side(
    checkpoint, gray_image, tmp_path, monkeypatch, no_boxes
) -> None:
    monkeypatch.setattr(Predictor, "__call__", lambda self, image: one_person(image))
    out = tmp_path / "out.png"
    argv = ["--model", str(checkpoint), "--input", str(gray_image), "--output", str(out)]
    assert predict.main(argv + ["--no-boxes"] * no_boxes) == 0
    pixels = np.asarray(Image.open(out))
    assert pixels.shape == (48, 72, 3)
    assert tuple(pixels[27, 50]) == LEFT_COLOR  # left shoulder → left elbow, halfway
    assert tuple(pixels[27, 20]) == RIGHT_COLOR  # right shoulder → right elbow
    assert tuple(pixels[14, 35]) == CENTRE_COLOR  # shoulder → shoulder
    assert tuple(pixels[40, 58]) == GRAY  # elbow → wrist: the wrist scores below 0.1
    assert tuple(pixels[40, 66]) == GRAY  # nor is the wrist drawn
    assert tuple(pixels[2, 2]) == GRAY  # unscored joints (score 0) are not drawn
    box_edge = tuple(pixels[30, 4])
    assert box_edge == (GRAY if no_boxes else class_color(0))


def test_dir_and_video_modes_draw_people(checkpoint, tmp_path, rng, capsys) -> None:
    src = tmp_path / "imgs"
    src.mkdir()
    for name in ("a.png", "b.png"):
        Image.fromarray(rng.integers(0, 256, (40, 56, 3)).astype(np.uint8)).save(src / name)
    out = tmp_path / "annotated"
    argv = ["--model", str(checkpoint), "--input", str(src), "--no-progress", "--count"]
    assert predict.main([*argv, "--mode", "dir", "--output", str(out)]) == 0
    assert "2 image(s) annotated" in capsys.readouterr().out
    for name in ("a.png", "b.png"):
        pixels = np.asarray(Image.open(out / name)).reshape(-1, 3)
        drawn = {tuple(p) for p in pixels} & {LEFT_COLOR, RIGHT_COLOR, CENTRE_COLOR}
        assert drawn, name  # skeleton colours, which a noise image does not have

    video = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (64, 48))
    for _ in range(2):
        writer.write(rng.integers(0, 256, (48, 64, 3)).astype(np.uint8))
    writer.release()
    clip = tmp_path / "clip_out.mp4"
    argv = ["--model", str(checkpoint), "--mode", "video", "--input", str(video), "--no-boxes"]
    assert predict.main([*argv, "--output", str(clip), "--no-progress"]) == 0
    assert "2 frames" in capsys.readouterr().out
    assert int(cv2.VideoCapture(str(clip)).get(cv2.CAP_PROP_FRAME_COUNT)) == 2


def test_heatmap_mode_shows_the_joints(checkpoint, tmp_path, rng) -> None:
    image = rng.integers(0, 256, (48, 72, 3)).astype(np.uint8)
    Image.fromarray(image).save(tmp_path / "people.png")
    out = tmp_path / "heat.png"
    argv = ["--model", str(checkpoint), "--input", str(tmp_path / "people.png")]
    assert predict.main([*argv, "--mode", "heatmap", "--output", str(out)]) == 0
    written = np.asarray(Image.open(out))
    predictor = Predictor.from_checkpoint(checkpoint)
    joints = np.asarray(heatmap_overlay(image, predictor.heatmap(image, which="keypoints")))
    centres = np.asarray(heatmap_overlay(image, predictor.heatmap(image, which="centres")))
    np.testing.assert_array_equal(written, joints)
    assert np.abs(written.astype(int) - centres).mean() > 1.0


def _decoded_people(checkpoint, image, tmp_path, monkeypatch, flags) -> list[Detections]:
    """``predict.py --mode image`` with ``flags``; the ``Detections`` the Predictor returned."""
    seen = []
    call = Predictor.__call__

    def spy(self, img):
        seen.append(call(self, img))
        return seen[-1]

    monkeypatch.setattr(Predictor, "__call__", spy)
    argv = ["--model", str(checkpoint), "--input", str(image), "--score-threshold", "0"]
    assert predict.main([*argv, "--output", str(tmp_path / "o.png"), *flags]) == 0
    return seen


def test_iou_threshold_suppresses_overlapping_people(
    checkpoint, tmp_path, rng, monkeypatch
) -> None:
    """--iou-threshold on a pose model runs class-wise NMS over the people (the default, 'auto',
    is the model's own: none)."""
    image = tmp_path / "crowd.png"
    Image.fromarray(rng.integers(0, 256, (64, 64, 3)).astype(np.uint8)).save(image)
    [plain] = _decoded_people(checkpoint, image, tmp_path, monkeypatch, [])
    [none] = _decoded_people(checkpoint, image, tmp_path, monkeypatch, ["--iou-threshold", "none"])
    [nms] = _decoded_people(checkpoint, image, tmp_path, monkeypatch, ["--iou-threshold", "0.1"])
    assert len(plain) == len(none) > 20  # 12 x 20 px people, peaks 2 cells (8 px) apart
    assert 0 < len(nms) < len(plain)
    assert set(map(tuple, nms.boxes)) < set(map(tuple, plain.boxes))  # suppressed, not moved
    assert nms.scores[0] == plain.scores.max()  # the best person is always kept


def test_keypoint_threshold_flag_sets_the_decoders_snapping(
    checkpoint, tmp_path, rng, monkeypatch
) -> None:
    """--keypoint-threshold T: joints are snapped only to joint-heatmap peaks scoring above T
    (snapped joints carry that score, the others 0); a lower T snaps more joints."""
    image = tmp_path / "people.png"
    Image.fromarray(rng.integers(0, 256, (64, 64, 3)).astype(np.uint8)).save(image)
    snapped = {}
    for threshold in (0.05, 0.5):
        flags = ["--keypoint-threshold", str(threshold)]
        [found] = _decoded_people(checkpoint, image, tmp_path, monkeypatch, flags)
        scores = found.keypoint_scores
        assert np.all((scores == 0) | (scores > threshold))
        snapped[threshold] = int(np.count_nonzero(scores))
    assert snapped[0.5] > 0 and snapped[0.05] > snapped[0.5]


def test_keypoint_threshold_flag_sets_the_drawing_threshold(
    checkpoint, gray_image, tmp_path, monkeypatch
) -> None:
    """The skeleton drawing hides joints scored below --keypoint-threshold (the left wrist
    scores 0.05: hidden at the model's 0.1, drawn at 0.01)."""
    monkeypatch.setattr(Predictor, "__call__", lambda self, image: one_person(image))
    out = tmp_path / "out.png"
    argv = ["--model", str(checkpoint), "--input", str(gray_image), "--output", str(out)]
    assert predict.main([*argv, "--keypoint-threshold", "0.01"]) == 0
    pixels = np.asarray(Image.open(out))
    assert tuple(pixels[40, 66]) == LEFT_COLOR  # the wrist's dot
    assert tuple(pixels[40, 58]) == LEFT_COLOR  # elbow → wrist
    assert predict.main([*argv, "--keypoint-threshold", "0.5"]) == 0
    assert tuple(np.asarray(Image.open(out))[27, 50]) == LEFT_COLOR  # 0.9 joints still drawn


def test_keypoint_threshold_is_saved_with_an_exported_pose_model(checkpoint, tmp_path) -> None:
    out = tmp_path / "exported.keras"
    argv = ["--model", str(checkpoint), "--mode", "export", "--format", "keras"]
    argv += ["--output", str(out), "--keypoint-threshold", "0.42", "--iou-threshold", "0.7"]
    assert predict.main(argv) == 0
    decoder = Predictor.from_checkpoint(out).model.decoder
    assert (decoder.keypoint_threshold, decoder.iou_threshold) == (0.42, 0.7)


def test_flip_test_warns_about_sided_joints_without_a_pair(tmp_path, gray_image, capsys) -> None:
    """A model saved with left/right-looking joints in no flip pair (here by an explicit empty
    pair list): ``--flip-test`` says the mirror image's joints are not swapped; a model with
    its pairs does not."""
    from centernet_keras.keypoints import KeypointSpec

    spec = KeypointSpec(("left_hand", "right_hand", "head"), (), ((0, 1), (0, 2)), (1, 1, 1))
    from centernet_keras.models.pose import build_centernet_pose

    path = tmp_path / "unpaired.keras"
    build_centernet_pose(
        3, backbone="resnet18", input_shape=(64, 64, 3), keypoint_spec=spec,
        neck_filters=(16, 16, 16), head_channels=8,
    ).save(path)  # fmt: skip
    paired = tmp_path / "paired.keras"
    build_centernet_pose(
        3, backbone="resnet18", input_shape=(64, 64, 3),
        keypoint_spec=spec.with_flip_pairs([(0, 1)]), neck_filters=(16, 16, 16), head_channels=8,
    ).save(paired)  # fmt: skip
    for model, warned in ((path, True), (paired, False)):
        argv = ["--model", str(model), "--mode", "image", "--input", str(gray_image)]
        argv += ["--output", str(tmp_path / "out.png"), "--flip-test"]
        assert predict.main(argv) == 0
        err = capsys.readouterr().err
        assert ("['left_hand', 'right_hand'] look left/right" in err) == warned, err


def test_json_carries_each_persons_joints(checkpoint, tmp_path, rng) -> None:
    """predict --json of a pose model: the COCO results' ``keypoints`` ``[x, y, 1] * 17`` (and
    ``keypoint_scores``) are the Predictor's joints in image pixels; pycocotools reads them."""
    from pycocotools.coco import COCO

    path = tmp_path / "people.jpg"
    Image.fromarray(rng.integers(0, 256, (48, 72, 3)).astype(np.uint8)).save(path)
    target = tmp_path / "people.json"
    argv = ["--model", str(checkpoint), "--input", str(path), "--output", str(tmp_path / "o.jpg")]
    settings = ["--score-threshold", "0", "--max-detections", "4", "--json", str(target)]
    assert predict.main([*argv, *settings]) == 0
    results = json.loads(target.read_text())
    found = Predictor.from_checkpoint(checkpoint, score_threshold=0.0, max_detections=4)(path)
    assert len(results) == len(found) > 0
    for result, box, joints, scores in zip(
        results, found.boxes, found.keypoints, found.keypoint_scores, strict=True
    ):
        assert result["bbox"][:2] == [float(box[0]), float(box[1])]
        assert result["keypoints"] == [v for x, y in joints for v in (float(x), float(y), 1.0)]
        assert len(result["keypoints"]) == 51 and result["category_name"] == "person"
        assert result["keypoint_scores"] == [float(s) for s in scores]
    gt = COCO()
    gt.dataset = {
        "images": [{"id": 1, "file_name": path.name, "height": 48, "width": 72}],
        "annotations": [],
        "categories": [{"id": 0, "name": "person", "keypoints": list(COCO_KEYPOINT_NAMES)}],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        assert len(gt.loadRes(str(target)).anns) == len(results)
