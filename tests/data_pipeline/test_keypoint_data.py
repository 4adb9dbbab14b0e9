"""Keypoint data: COCO keypoints files → records, joints moved by the augmentation, pose targets
through the pipeline."""

import json

import cv2
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from centernet_keras.data.annotations import ImageRecord, drop_out_of_range_classes
from centernet_keras.data.augment import AugmentConfig
from centernet_keras.data.coco import read_coco
from centernet_keras.data.pipeline import PipelineConfig, make_dataset, transform_example
from centernet_keras.keypoints import KeypointSpec

NAMES = ["nose", "left_eye", "right_eye", "left_hand", "right_hand"]
SPEC = KeypointSpec.from_coco_category({"keypoints": NAMES, "skeleton": [[1, 2], [1, 3]]})
PERM = tuple(int(i) for i in SPEC.flip_permutation())  # (0, 2, 1, 4, 3)
COLOURS = [(250, 20, 20), (20, 250, 20), (20, 20, 250), (250, 250, 20), (20, 250, 250)]
DOT = 7  # side of each joint's square dot (pixels)
NO_COLOUR = {"hue": 0.0, "sat": 1.0, "val": 1.0}


def _person_scene(h=150, w=230):
    """A gray image with one person: each joint a ``DOT``-pixel square of its own colour."""
    image = np.full((h, w, 3), 90, np.uint8)
    corners = np.array([[100, 40], [80, 30], [125, 30], [50, 100], [160, 95]])
    for (x, y), colour in zip(corners, COLOURS, strict=True):
        image[y : y + DOT, x : x + DOT] = colour
    centres = corners + DOT / 2  # continuous pixel coordinates of the dot centres
    joints = np.concatenate([centres, np.full((5, 1), 2.0)], axis=1)[None].astype(np.float32)
    return image, np.array([[40, 20, 180, 120]], np.float32), joints


def _colour_centroid(image, colour):
    """Centroid (continuous coordinates) and size of the pixels close to ``colour``."""
    close = np.abs(image - np.array(colour, np.float32)).max(axis=-1) < 40
    ys, xs = np.nonzero(close)
    if len(xs) == 0:
        return None, 0
    return np.array([xs.mean() + 0.5, ys.mean() + 0.5]), len(xs)


@pytest.mark.parametrize("flip", [0.0, 1.0])
@pytest.mark.parametrize("seed", range(8))
def test_augmented_joints_land_on_their_pixels(seed, flip):
    image, boxes, joints = _person_scene()
    augment = AugmentConfig(**NO_COLOUR, scale_range=(0.8, 2.0), flip_prob=flip)
    config = PipelineConfig((128, 160), augment=augment, keypoint_flip=PERM)
    out, moved = transform_example(
        tf.constant(image), tf.constant(boxes), tf.constant([0]), config,
        tf.constant([seed, 3], tf.int64), keypoints=tf.constant(joints),
    )  # fmt: skip
    out, moved = out.numpy(), moved["keypoints"].numpy()[0]
    checked = 0
    for i, (x, y, v) in enumerate(moved):
        # flipped: joint i of the output (e.g. left_eye) is the original joint PERM[i]
        source = PERM[i] if flip else i
        centroid, size = _colour_centroid(out, COLOURS[source])
        assert v == joints[0, source, 2]  # visibility stays the annotation's
        if not (0 <= x < 160 and 0 <= y < 128):  # left the canvas: at most a sliver is on it
            assert size < DOT * DOT * 0.8 * 0.8
            continue
        if min(x, y, 160 - x, 128 - y) < DOT * 2:
            continue  # the dot is cut by the border: its centroid moves
        np.testing.assert_allclose([x, y], centroid, atol=1.5)
        checked += 1
    assert checked >= 1


def test_flip_swaps_left_and_right_joints_by_the_spec():
    image, boxes, joints = _person_scene()
    seed = tf.constant([1, 2], tf.int64)  # the same geometry, flipped or not
    moved = {}
    for flip in (0.0, 1.0):
        augment = AugmentConfig(**NO_COLOUR, scale_range=(0.5, 0.6), flip_prob=flip)
        config = PipelineConfig((160, 256), keypoint_flip=PERM, augment=augment)
        _, out = transform_example(image, boxes, tf.constant([0]), config, seed, keypoints=joints)
        moved[flip] = out["keypoints"].numpy()[0]
    assert (moved[0.0][:, 2] > 0).all()
    # joint i of the flipped image is the mirror image of joint PERM[i]: left ↔ right
    expected = moved[0.0][list(PERM)] * [-1, 1, 1] + [256, 0, 0]
    np.testing.assert_allclose(moved[1.0], expected, atol=1e-4)
    with pytest.raises(ValueError, match="keypoint_flip"):
        transform_example(
            image, boxes, tf.constant([0]), PipelineConfig((160, 256)), tf.constant([1, 2]),
            keypoints=joints,
        )  # fmt: skip


def test_validation_letterbox_moves_joints_like_boxes():
    image, boxes, joints = _person_scene()
    config = PipelineConfig((128, 128))
    _, moved = transform_example(image, boxes, tf.constant([0]), config, keypoints=joints)
    scale, pad_y = 128 / 230, (128 - round(150 * 128 / 230)) // 2
    expected = joints[0, :, :2] * scale + [0, pad_y]
    np.testing.assert_allclose(moved["keypoints"].numpy()[0, :, :2], expected, atol=0.5)
    box = moved["boxes"].numpy()[0]
    np.testing.assert_allclose(box, boxes[0] * scale + [0, pad_y, 0, pad_y], atol=0.5)


def _write_pose_json(tmp_path, annotations, images=((1, "a.png", 120, 90), (2, "b.png", 64, 64))):
    image_dir = tmp_path / "images"
    image_dir.mkdir()
    for _, name, w, h in images:
        Image.fromarray(np.zeros((h, w, 3), np.uint8)).save(image_dir / name)
    category = {"id": 1, "name": "person", "keypoints": NAMES, "skeleton": [[1, 2], [1, 3]]}
    data = {
        "images": [{"id": i, "file_name": n, "width": w, "height": h} for i, n, w, h in images],
        "annotations": annotations,
        "categories": [category],
    }
    path = tmp_path / "person_keypoints_val.json"
    path.write_text(json.dumps(data))
    return path, image_dir


def _person(ann_id, image_id, bbox, joints, crowd=0):
    return {
        "id": ann_id, "image_id": image_id, "category_id": 1, "bbox": bbox, "iscrowd": crowd,
        "area": bbox[2] * bbox[3], "keypoints": joints,
        "num_keypoints": sum(1 for v in joints[2::3] if v) if isinstance(joints, list) else 0,
    }  # fmt: skip


def test_read_coco_reads_keypoints_crowds_zero_joint_people_and_negatives(tmp_path):
    joints = [50, 20, 2, 45, 15, 2, 55, 15, 1, 0, 0, 0, 60, 70, 2]
    path, image_dir = _write_pose_json(
        tmp_path,
        [
            _person(1, 1, [30, 10, 40, 70], joints),
            _person(2, 1, [80, 10, 30, 60], [0] * 15),  # a person without labelled joints
            _person(3, 1, [0, 0, 120, 90], [0] * 15, crowd=1),  # a crowd region
            _person(4, 1, [5, 5, 10, 10], [1, 2, 3]),  # malformed joints: the box is kept
        ],
    )
    records, names, report = read_coco(path, image_dir)
    assert names == ["person"] and report.keypoint_spec == SPEC
    first, negative = records
    assert len(negative.boxes) == 0 and negative.keypoints.shape == (0, 5, 3)  # kept, no people
    assert first.keypoints.shape == (3, 5, 3)  # the crowd is skipped for training
    np.testing.assert_array_equal(first.keypoints[0].reshape(-1), joints)
    assert not first.keypoints[1:, :, 2].any()  # zero-joint person and malformed: unlabelled
    counts = report.counts()
    assert counts["crowd_skipped"] == 1 and counts["bad_keypoints"] == 1
    # evaluation keeps the crowd as an ignore region, and the joints for the official scorer
    records, _, _ = read_coco(path, image_dir, keep_crowd=True)
    assert records[0].difficult.tolist() == [False, False, True, False]
    official = records[0].annotations
    assert official[0]["keypoints"] == [float(v) for v in joints]
    assert [a["num_keypoints"] for a in official] == [4, 0, 0, 0]


def test_a_box_file_has_no_keypoints(tmp_path):
    path, image_dir = _write_pose_json(tmp_path, [_person(1, 1, [30, 10, 40, 70], [0] * 15)])
    data = json.loads(path.read_text())
    del data["categories"][0]["keypoints"]
    path.write_text(json.dumps(data))
    records, _, report = read_coco(path, image_dir)
    assert report.keypoint_spec is None and records[0].keypoints.shape == (1, 0, 3)
    assert "keypoints" not in records[0].annotations[0]


def test_dropping_boxes_drops_their_joints():
    record = ImageRecord(
        "x.jpg", [[0, 0, 5, 5], [1, 1, 9, 9]], [0, 7], keypoints=np.ones((2, 3, 3))
    )
    drop_out_of_range_classes([record], num_classes=1)
    assert record.keypoints.shape == (1, 3, 3)
    with pytest.raises(ValueError, match="differ in length"):
        ImageRecord("x.jpg", [[0, 0, 5, 5]], [0], keypoints=np.ones((2, 3, 3)))


def test_pose_targets_through_the_pipeline(tmp_path):
    """make_dataset hands the moved joints to the encoder: a pose model's targets come out."""
    from centernet_keras.models.pose import build_centernet_pose

    model = build_centernet_pose(
        5, backbone="resnet18", input_shape=(64, 96, 3), keypoint_spec=SPEC, head_channels=8,
        neck_filters=(16, 16, 16),
    )  # fmt: skip
    image, boxes, joints = _person_scene()
    path = tmp_path / "p.png"
    cv2.imwrite(str(path), image[..., ::-1])
    records = [ImageRecord(str(path), boxes, [0], keypoints=joints)] * 2
    config = PipelineConfig((64, 96), batch_size=2, keypoint_flip=PERM)
    encoder = model.target_encoder(4)
    (_, targets), *_ = list(make_dataset(records, config, False, encoder=encoder))
    assert targets["keypoint_heatmap"].shape == (2, 16, 24, 5)
    assert targets["mask"].numpy()[:, 0].tolist() == [1, 1]
    assert targets["keypoint_offset_mask"].numpy()[0, :5].tolist() == [1] * 5
    np.testing.assert_allclose(targets["keypoint_heatmap"].numpy().max(axis=(1, 2)), 1.0)
    train = make_dataset(records, config, True, repeat=True, encoder=encoder)
    assert next(iter(train))[1]["keypoint_heatmap"].shape == (2, 16, 24, 5)
    box_records = [ImageRecord(str(path), boxes, [0])]
    with pytest.raises(ValueError, match="keypoints"):
        list(make_dataset(box_records, config, False, encoder=encoder))


def _cut_people_scene():
    """A 200² image: person 0 fills it with labelled joints only near its corners, person 1 has
    no labelled joint, person 2 one joint. A 2× zoom onto a 64² canvas shows a 100² window of
    it, so person 0's box is always on the canvas while its joints mostly are not."""
    joints = np.zeros((3, 5, 3), np.float32)
    joints[0, :4] = [[4, 4, 2], [196, 4, 2], [4, 196, 1], [196, 196, 2]]  # joint 4 unlabelled
    joints[2, 0] = [130, 130, 2]
    boxes = np.array([[0, 0, 200, 200], [60, 60, 140, 140], [100, 100, 160, 160]], np.float32)
    return np.full((200, 200, 3), 90, np.uint8), boxes, joints


def test_crop_keeps_a_person_by_its_labelled_joints_before_the_crop():
    """The reference's rule (multi_pose.py: ``num_kpts`` from the annotation, a joint dropped
    when off the output map): a person the crop keeps trains its box (``mask`` 1) if it has a
    labelled joint in the annotation, even when all its joints left the canvas; a person with
    none is a heatmap positive without regression (``mask`` 0)."""
    from centernet_keras.models.pose import build_centernet_pose

    image, boxes, joints = _cut_people_scene()
    model = build_centernet_pose(
        5, backbone="resnet18", input_shape=(64, 64, 3), keypoint_spec=SPEC, head_channels=8,
        neck_filters=(16, 16, 16),
    )  # fmt: skip
    augment = AugmentConfig(**NO_COLOUR, jitter=0.0, scale_range=(2.0, 2.0), flip_prob=0.0)
    config = PipelineConfig((64, 64), augment=augment, keypoint_flip=PERM)
    args = (tf.constant(image), tf.constant(boxes), tf.constant([0, 0, 0]), config)
    labelled = joints[..., 2] > 0  # [3, 5], before the crop
    cut = 0  # images where person 0 keeps its box but no labelled joint: the rules differ
    for seed in range(8):
        noise = tf.constant([seed, 5], tf.int64)
        _, moved = transform_example(*args, noise, keypoints=tf.constant(joints))
        _, t = transform_example(*args, noise, model.target_encoder(4), keypoints=joints)
        t = {k: v.numpy() for k, v in t.items()}
        kept = moved["classes"].numpy() >= 0
        assert kept[:2].all()  # persons 0 and 1 overlap every 100² window
        np.testing.assert_array_equal(t["mask"][:3], kept & labelled.any(axis=1))
        np.testing.assert_array_equal(moved["keypoints"].numpy()[..., 2], joints[..., 2])
        xy = moved["keypoints"].numpy()[..., :2]
        on_canvas = ((xy >= 0) & (xy < 64)).all(axis=-1)  # [3, 5]
        joint_mask = kept[:, None] & labelled & on_canvas
        np.testing.assert_array_equal(t["keypoint_offset_mask"][:15], joint_mask.reshape(-1))
        np.testing.assert_array_equal(t["keypoint_mask"][:3], np.repeat(joint_mask, 2, axis=1))
        peaks = t["heatmap"][..., 0].reshape(-1)[t["indices"][:3][kept]]
        np.testing.assert_array_equal(peaks, 1.0)  # every kept person is a heatmap positive
        assert (t["size"][:2] > 0).all()  # written for both; the loss reads it where mask is 1
        if not joint_mask[0].any():
            # box trained, no joint target (channels 1-4 hold only person 0's joints)
            assert t["mask"][0] == 1 and t["keypoint_heatmap"][..., 1:].max() == 0
            cut += 1
    assert cut >= 4  # with these seeds the constructed case is common (P ≈ 0.8 per image)


def test_a_joint_outside_the_image_is_reported_and_not_trained_on(tmp_path):
    """x = 5000 in a 120-px image: reported when read, unlabelled in the training record (a
    letterbox could otherwise put it on the padding), kept as in the file for the scorer."""
    joints = [50, 20, 2, 5000, 15, 2, 55, -3, 1, 0, 0, 0, 120, 90, 2]  # the last on the corner
    path, image_dir = _write_pose_json(tmp_path, [_person(1, 1, [30, 10, 40, 70], joints)])
    records, _, report = read_coco(path, image_dir)
    problems = [str(p) for p in report.problems if p.kind == "bad_keypoints"]
    assert len(problems) == 1 and "joints [1, 2] outside the 120x90 image" in problems[0]
    np.testing.assert_array_equal(records[0].keypoints[0, :, 2], [2, 0, 0, 0, 2])
    assert records[0].annotations[0]["keypoints"] == [float(v) for v in joints]
