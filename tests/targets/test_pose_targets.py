"""encode_pose_targets against the CenterNet multi_pose reference (fixture 10) and by-hand cases."""

import math

import numpy as np
import pytest
import tensorflow as tf
from reference_data import load_npz

from centernet_keras.targets import draw_gaussian, encode_pose_targets, gaussian_radius

REF = load_npz("multi_pose_targets.npz")
STRIDE = 4
IMAGE_SIZE = (32 * STRIDE, 40 * STRIDE)  # output map H=32, W=40
OURS_TO_REF = {
    "heatmap": "hm",
    "size": "wh",
    "offset": "reg",
    "indices": "ind",
    "mask": "reg_mask",
    "keypoints": "hps",
    "keypoint_mask": "hps_mask",
    "keypoint_heatmap": "hm_hp",
    "keypoint_offset": "hp_offset",
    "keypoint_indices": "hp_ind",
    "keypoint_offset_mask": "hp_mask",
}
EXACT = ("indices", "mask", "keypoint_mask", "keypoint_indices", "keypoint_offset_mask")
KEYS = tuple(OURS_TO_REF)


def reference_inputs(b: int, pad_to: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Image ``b``'s people in input pixels; rows past ``in_num_people`` become −1 padding."""
    n = int(REF["in_num_people"][b])
    boxes = REF["in_boxes"][b] * STRIDE
    keypoints = REF["in_keypoints"][b].copy()
    keypoints[..., :2] *= STRIDE
    boxes[n:] = -1.0
    rows = n if pad_to is None else pad_to
    return boxes[:rows], keypoints[:rows]


def assert_matches(out: dict, expected: dict) -> None:
    for key in KEYS:
        got = np.asarray(out[key])
        if key in EXACT:
            np.testing.assert_array_equal(got, expected[key], err_msg=key)
        else:
            np.testing.assert_allclose(got, expected[key], rtol=0, atol=1e-6, err_msg=key)


def reference_targets(b: int) -> dict[str, np.ndarray]:
    return {ours: REF[theirs][b] for ours, theirs in OURS_TO_REF.items()}


def numpy_oracle(boxes, keypoints, out_hw, max_objects, last=1):
    """A per-axis copy of the multi_pose.py loop in output coordinates (for non-square maps)."""
    out_h, out_w = out_hw
    num_joints = keypoints.shape[1]
    t = {"heatmap": np.zeros((out_h, out_w, 1), np.float32),
         "keypoint_heatmap": np.zeros((out_h, out_w, num_joints), np.float32)}  # fmt: skip
    for key, shape in (("size", 2), ("offset", 2), ("keypoints", 2 * num_joints),
                       ("keypoint_mask", 2 * num_joints)):  # fmt: skip
        t[key] = np.zeros((max_objects, shape), np.float32)
    t["indices"], t["mask"] = np.zeros(max_objects, np.int64), np.zeros(max_objects, np.float32)
    t["keypoint_offset"] = np.zeros((max_objects * num_joints, 2), np.float32)
    t["keypoint_indices"] = np.zeros(max_objects * num_joints, np.int64)
    t["keypoint_offset_mask"] = np.zeros(max_objects * num_joints, np.float32)
    for k in range(min(len(boxes), max_objects)):
        bbox = np.array(boxes[k], np.float32)
        bbox[[0, 2]] = np.clip(bbox[[0, 2]], 0, out_w - last)
        bbox[[1, 3]] = np.clip(bbox[[1, 3]], 0, out_h - last)
        h, w = bbox[3] - bbox[1], bbox[2] - bbox[0]
        if not (h > 0 and w > 0):
            continue
        radius = max(0, int(gaussian_radius(math.ceil(h), math.ceil(w))))
        ct = np.array([(bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2], np.float32)
        ct_int = ct.astype(np.int32)
        t["size"][k], t["offset"][k] = (w, h), ct - ct_int
        t["indices"][k] = ct_int[1] * out_w + ct_int[0]
        t["mask"][k] = float(keypoints[k, :, 2].sum() > 0)
        for j, (x, y, v) in enumerate(np.asarray(keypoints[k], np.float32)):
            if v > 0 and 0 <= x < out_w and 0 <= y < out_h:
                pt = np.array([x, y], np.float32)
                pt_int = pt.astype(np.int32)
                t["keypoints"][k, 2 * j : 2 * j + 2] = pt - ct_int
                t["keypoint_mask"][k, 2 * j : 2 * j + 2] = 1
                t["keypoint_offset"][k * num_joints + j] = pt - pt_int
                t["keypoint_indices"][k * num_joints + j] = pt_int[1] * out_w + pt_int[0]
                t["keypoint_offset_mask"][k * num_joints + j] = 1
                draw_gaussian(t["keypoint_heatmap"][..., j], pt_int, radius)
        draw_gaussian(t["heatmap"][..., 0], ct_int, radius)
    return t


@pytest.mark.parametrize("b", range(2))
def test_matches_reference_eagerly(b: int) -> None:
    boxes, keypoints = reference_inputs(b)
    out = encode_pose_targets(boxes, keypoints, IMAGE_SIZE, max_objects=6, reference_clip=True)
    for key in KEYS:
        want = tf.int32 if key in ("indices", "keypoint_indices") else tf.float32
        assert out[key].dtype == want, key
    assert_matches(out, reference_targets(b))


def test_matches_reference_in_tf_data_graph_mode_and_eagerly() -> None:
    padded = [reference_inputs(b, pad_to=7) for b in range(2)]
    boxes = np.stack([p[0] for p in padded])
    keypoints = np.stack([p[1] for p in padded])
    ds = tf.data.Dataset.from_tensor_slices((boxes, keypoints))
    ds = ds.map(lambda bx, kp: encode_pose_targets(bx, kp, IMAGE_SIZE, 6, reference_clip=True))
    ds = ds.batch(2)
    spec = ds.element_spec
    assert spec["keypoint_heatmap"].shape.as_list() == [None, 32, 40, 17]
    assert spec["keypoints"].shape.as_list() == [None, 6, 34]
    assert spec["keypoint_offset"].shape.as_list() == [None, 102, 2]
    assert spec["keypoint_indices"].shape.as_list() == [None, 102]
    (batch,) = list(ds)
    for b in range(2):
        graph = {k: batch[k][b].numpy() for k in KEYS}
        assert_matches(graph, reference_targets(b))
        eager = encode_pose_targets(boxes[b], keypoints[b], IMAGE_SIZE, 6, reference_clip=True)
        for key in KEYS:
            np.testing.assert_array_equal(graph[key], eager[key], err_msg=key)


def test_reference_quirks_zero_joint_person_and_strict_right_edge() -> None:
    boxes, keypoints = reference_inputs(0)
    out = {k: v.numpy() for k, v in encode_pose_targets(boxes, keypoints, IMAGE_SIZE, 6).items()}
    # Slot 3 has no labelled joint: mask 0, but its box targets and a 1.0 centre peak are written.
    assert out["mask"][3] == 0 and out["indices"][3] == 5 * 40 + 19
    assert out["heatmap"][5, 19, 0] == 1.0 and out["size"][3].tolist() == [6.5, 8.75]
    assert not out["keypoint_mask"][3].any() and not out["keypoint_offset_mask"][51:68].any()
    # Slot 2: a joint exactly at x = W is dropped, one at x = 39.96 is kept at column 39.
    xs = keypoints[2, :, 0] / STRIDE
    labelled = keypoints[2, :, 2] > 0
    at_edge = np.flatnonzero(labelled & (xs == 40.0))
    just_inside = np.flatnonzero(labelled & (xs > 39.9) & (xs < 40.0))
    assert at_edge.size == 1 and just_inside.size == 1
    assert out["keypoint_offset_mask"][2 * 17 + at_edge[0]] == 0
    assert out["keypoint_offset_mask"][2 * 17 + just_inside[0]] == 1
    assert out["keypoint_indices"][2 * 17 + just_inside[0]] % 40 == 39


def test_padding_rows_are_ignored() -> None:
    boxes, keypoints = reference_inputs(0)
    base = encode_pose_targets(boxes, keypoints, IMAGE_SIZE, max_objects=8)
    # Padding rows with labelled "joints" inside the map, at the end and in the middle.
    pad_kp = np.tile(np.array([[20.0, 20.0, 2.0]], np.float32), (17, 1))[None]
    pad_box = -np.ones((1, 4), np.float32)
    tail = encode_pose_targets(
        np.concatenate([boxes, pad_box, pad_box]), np.concatenate([keypoints, pad_kp, pad_kp]),
        IMAGE_SIZE, max_objects=8,
    )  # fmt: skip
    assert_matches(tail, {k: v.numpy() for k, v in base.items()})
    middle = encode_pose_targets(
        np.concatenate([boxes[:2], pad_box, boxes[2:]]),
        np.concatenate([keypoints[:2], pad_kp, keypoints[2:]]),
        IMAGE_SIZE, max_objects=8,
    )  # fmt: skip
    # The padding row's slot 2 stays zero; later people move one slot down.
    for key in ("size", "offset", "indices", "mask", "keypoints", "keypoint_mask"):
        got, want = middle[key].numpy(), base[key].numpy()
        assert not got[2].any(), key
        np.testing.assert_array_equal(np.delete(got, 2, axis=0)[:7], want[:7], err_msg=key)
    for key in ("heatmap", "keypoint_heatmap"):
        np.testing.assert_array_equal(middle[key], base[key], err_msg=key)
    assert not middle["keypoint_offset_mask"].numpy()[34:51].any()


@pytest.mark.parametrize("reference_clip", [True, False])
def test_five_joints_non_square_random_match_per_axis_oracle(reference_clip) -> None:
    rng = np.random.default_rng(5)
    n, joints, out_hw = 9, 5, (20, 36)
    xy = rng.uniform(-4, 34, size=(n, 2))
    wh = rng.uniform(1.0, 14.0, size=(n, 2))
    boxes = np.concatenate([xy, xy + wh], axis=1).astype(np.float32)
    boxes[:, [1, 3]] *= 0.55
    kp = np.empty((n, joints, 3), np.float32)
    kp[..., 0] = rng.uniform(-3, out_hw[1] + 3, size=(n, joints))
    kp[..., 1] = rng.uniform(-3, out_hw[0] + 3, size=(n, joints))
    kp[..., 2] = rng.integers(0, 3, size=(n, joints))
    kp[4, :, 2] = 0  # one person with no labelled joint
    kp_in = kp.copy()
    kp_in[..., :2] *= STRIDE
    out = encode_pose_targets(boxes * STRIDE, kp_in, (80, 144), 8, reference_clip=reference_clip)
    expected = numpy_oracle(boxes, kp, out_hw, max_objects=8, last=int(reference_clip))
    assert out["keypoint_heatmap"].shape == (20, 36, 5) and out["keypoints"].shape == (8, 10)
    assert expected["mask"].sum() >= 5 and expected["keypoint_offset_mask"].sum() >= 10
    assert 0 < expected["keypoint_mask"].sum() < 2 * expected["keypoint_offset_mask"].size
    assert_matches(out, expected)


def test_max_objects_truncates_like_the_box_encoder() -> None:
    boxes, keypoints = reference_inputs(1)  # 7 people
    full = {k: v.numpy() for k, v in encode_pose_targets(boxes, keypoints, IMAGE_SIZE, 7).items()}
    assert full["mask"][6] == 1  # the 7th person is real; max_objects=6 in the fixture drops it
    for m in (6, 3):
        out = encode_pose_targets(boxes, keypoints, IMAGE_SIZE, max_objects=m)
        first = encode_pose_targets(boxes[:m], keypoints[:m], IMAGE_SIZE, max_objects=m)
        assert out["keypoint_offset"].shape == (m * 17, 2)
        for key in KEYS:
            np.testing.assert_array_equal(out[key], first[key], err_msg=key)
            if key not in ("heatmap", "keypoint_heatmap"):
                np.testing.assert_array_equal(out[key], full[key][: len(out[key])])
    out = encode_pose_targets(boxes, keypoints, IMAGE_SIZE, 6, reference_clip=True)
    assert_matches(out, reference_targets(1))


def test_dynamic_number_of_people_gives_static_shapes() -> None:
    signature = [tf.TensorSpec([None, 4]), tf.TensorSpec([None, 5, 3])]

    @tf.function(input_signature=signature)
    def encode(boxes, keypoints):
        return encode_pose_targets(boxes, keypoints, (64, 96), max_objects=3)

    outputs = encode.get_concrete_function().structured_outputs
    assert outputs["keypoint_heatmap"].shape.as_list() == [16, 24, 5]
    assert outputs["keypoints"].shape.as_list() == [3, 10]
    assert outputs["keypoint_indices"].shape.as_list() == [15]
    kp = np.array([[[20.0, 20.0, 2.0]] * 5], np.float32)
    out = encode(tf.constant([[8.0, 8.0, 40.0, 40.0]]), tf.constant(kp))
    assert out["mask"].numpy().tolist() == [1, 0, 0]
    assert out["keypoint_offset_mask"].numpy().tolist() == [1] * 5 + [0] * 10
    np.testing.assert_array_equal(out["keypoints"][0], [-1.0, -1.0] * 5)  # (5, 5) − ct_int (6, 6)
    empty = encode(tf.zeros([0, 4]), tf.zeros([0, 5, 3]))
    assert not any(np.any(empty[k].numpy()) for k in KEYS)


def test_point_box_uses_point_radius() -> None:
    kp = np.array([[[52.0, 30.0, 2.0], [60.0, 44.0, 0.0]]], np.float32)
    out = encode_pose_targets([[50.0, 30.0, 50.0, 30.0]], kp, (128, 192), 2, point_radius=2)
    np.testing.assert_array_equal(out["mask"], [1, 0])
    np.testing.assert_array_equal(out["size"], np.zeros((2, 2)))
    np.testing.assert_allclose(out["offset"][0], [0.5, 0.5])
    expected = draw_gaussian(np.zeros((32, 48), np.float32), (12, 7), 2)
    np.testing.assert_allclose(out["heatmap"][..., 0], expected, rtol=0, atol=1e-6)
    joint = draw_gaussian(np.zeros((32, 48), np.float32), (13, 7), 2)
    np.testing.assert_allclose(out["keypoint_heatmap"][..., 0], joint, rtol=0, atol=1e-6)
    assert not out["keypoint_heatmap"].numpy()[..., 1].any()
    outside = encode_pose_targets([[192.0, 30.0, 192.0, 30.0]], kp, (128, 192), 2)
    assert not any(np.any(outside[k].numpy()) for k in KEYS)  # a point at x == W is skipped


def test_bad_arguments_raise() -> None:
    kp = np.zeros((1, 17, 3), np.float32)
    with pytest.raises(ValueError, match="divisible"):
        encode_pose_targets([[0.0, 0.0, 4.0, 4.0]], kp, (130, 128))

    @tf.function(input_signature=[tf.TensorSpec([None, 4]), tf.TensorSpec([None, None, 3])])
    def encode(boxes, keypoints):
        return encode_pose_targets(boxes, keypoints, (128, 128))

    with pytest.raises(ValueError, match="static"):
        encode.get_concrete_function()
