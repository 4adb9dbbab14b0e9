"""encode_targets against the CenterNet ctdet reference (fixture 3) and hand-made cases."""

import math

import numpy as np
import pytest
import tensorflow as tf
from reference_data import load_npz

from centernet_keras.targets import draw_gaussian, encode_targets, gaussian_radius

REF = load_npz("ctdet_targets.npz")
STRIDE = 4
REF_KW = {"image_size": (32 * STRIDE, 48 * STRIDE), "num_classes": 3, "max_objects": 8}
REF_KW["reference_clip"] = True  # ctdet.py clips boxes to [0, W_out - 1]
KEYS = ("heatmap", "size", "offset", "indices", "mask")


def assert_matches_reference(out: dict, b: int) -> None:
    np.testing.assert_allclose(out["heatmap"], REF["hm"][b], rtol=0, atol=1e-6)
    np.testing.assert_allclose(out["size"], REF["wh"][b], rtol=0, atol=1e-6)
    np.testing.assert_allclose(out["offset"], REF["reg"][b], rtol=0, atol=1e-6)
    np.testing.assert_array_equal(out["indices"], REF["ind"][b])
    np.testing.assert_array_equal(out["mask"], REF["reg_mask"][b])


def numpy_oracle(boxes, classes, out_hw, num_classes, max_objects, last=1):
    """A per-axis copy of the ctdet.py loop (output coordinates), for non-square maps."""
    out_h, out_w = out_hw
    hm = np.zeros((num_classes, out_h, out_w), np.float32)
    wh = np.zeros((max_objects, 2), np.float32)
    reg = np.zeros((max_objects, 2), np.float32)
    ind = np.zeros(max_objects, np.int64)
    mask = np.zeros(max_objects, np.uint8)
    for k in range(min(len(boxes), max_objects)):
        bbox = np.array(boxes[k], np.float32)
        bbox[[0, 2]] = np.clip(bbox[[0, 2]], 0, out_w - last)
        bbox[[1, 3]] = np.clip(bbox[[1, 3]], 0, out_h - last)
        h, w = bbox[3] - bbox[1], bbox[2] - bbox[0]
        if h > 0 and w > 0:
            radius = max(0, int(gaussian_radius(math.ceil(h), math.ceil(w))))
            ct = np.array([(bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2], np.float32)
            ct_int = ct.astype(np.int32)
            draw_gaussian(hm[classes[k]], ct_int, radius)
            wh[k] = w, h
            ind[k] = ct_int[1] * out_w + ct_int[0]
            reg[k] = ct - ct_int
            mask[k] = 1
    return {"heatmap": hm.transpose(1, 2, 0), "size": wh, "offset": reg, "indices": ind,
            "mask": mask}  # fmt: skip


@pytest.mark.parametrize("b", range(3))
def test_matches_reference_eagerly(b: int) -> None:
    n = int(REF["in_num_boxes"][b])
    boxes = REF["in_boxes"][b, :n] * STRIDE
    out = encode_targets(boxes, REF["in_classes"][b, :n], stride=STRIDE, **REF_KW)
    assert out["heatmap"].dtype == tf.float32 and out["size"].dtype == tf.float32
    assert out["indices"].dtype == tf.int32 and out["mask"].dtype == tf.float32
    assert_matches_reference(out, b)


def test_matches_reference_in_tf_data_graph_mode() -> None:
    ds = tf.data.Dataset.from_tensor_slices((REF["in_boxes"] * STRIDE, REF["in_classes"]))
    ds = ds.map(lambda boxes, classes: encode_targets(boxes, classes, **REF_KW)).batch(3)
    spec = ds.element_spec
    assert spec["heatmap"].shape.as_list() == [None, 32, 48, 3]
    assert spec["size"].shape.as_list() == spec["offset"].shape.as_list() == [None, 8, 2]
    assert spec["indices"].shape.as_list() == spec["mask"].shape.as_list() == [None, 8]
    (batch,) = list(ds)
    for b in range(3):
        assert_matches_reference({k: batch[k][b] for k in KEYS}, b)


def test_dynamic_number_of_boxes_gives_static_shapes() -> None:
    @tf.function(input_signature=[tf.TensorSpec([None, 4]), tf.TensorSpec([None], tf.int32)])
    def encode(boxes, classes):
        return encode_targets(boxes, classes, image_size=(64, 96), num_classes=2, max_objects=5)

    concrete = encode.get_concrete_function()
    assert concrete.structured_outputs["heatmap"].shape.as_list() == [16, 24, 2]
    assert concrete.structured_outputs["size"].shape.as_list() == [5, 2]
    assert concrete.structured_outputs["indices"].shape.as_list() == [5]
    out = encode(tf.constant([[8.0, 8.0, 40.0, 24.0]]), tf.constant([1]))
    assert out["mask"].numpy().tolist() == [1, 0, 0, 0, 0]
    empty = encode(tf.zeros([0, 4]), tf.zeros([0], tf.int32))
    assert not any(np.any(empty[k].numpy()) for k in KEYS)


def test_empty_input_gives_zero_targets() -> None:
    out = encode_targets(np.zeros((0, 4), np.float32), np.zeros((0,), np.int64), (64, 96), 3)
    assert out["heatmap"].shape == (16, 24, 3)
    assert out["size"].shape == out["offset"].shape == (100, 2)
    assert out["indices"].shape == out["mask"].shape == (100,)
    for key in KEYS:
        assert not np.any(out[key].numpy()), key


def test_non_square_index_uses_output_width() -> None:
    # Input 64×160 (H×W) → output 16×40. Box centre in output coordinates (25.5, 9.5).
    out = encode_targets([[88.0, 30.0, 116.0, 46.0]], [1], (64, 160), num_classes=2, max_objects=3)
    assert out["heatmap"].shape == (16, 40, 2)
    assert int(out["indices"][0]) == 9 * 40 + 25
    hm = out["heatmap"].numpy()
    assert hm[9, 25, 1] == 1.0 and np.argmax(hm[..., 1]) == 9 * 40 + 25
    assert not hm[..., 0].any()
    np.testing.assert_allclose(out["size"][0], [7.0, 4.0])
    np.testing.assert_allclose(out["offset"][0], [0.5, 0.5])


@pytest.mark.parametrize("reference_clip", [True, False])
def test_non_square_random_boxes_match_per_axis_oracle(reference_clip) -> None:
    """Both clips: the reference's ``[0, W_out − 1]`` and the map's ``[0, W_out]``."""
    rng = np.random.default_rng(3)
    xy = rng.uniform(-6, 44, size=(12, 2))
    wh = rng.uniform(0.5, 14, size=(12, 2))
    boxes = np.concatenate([xy, xy + wh], axis=1).astype(np.float32)  # output coords, 24×40 map
    boxes[:, [1, 3]] *= 0.6
    classes = rng.integers(0, 3, size=12)
    out = encode_targets(
        boxes * STRIDE, classes, (96, 160), 3, max_objects=10, reference_clip=reference_clip
    )
    expected = numpy_oracle(boxes, classes, (24, 40), 3, 10, last=int(reference_clip))
    assert expected["mask"].sum() >= 8
    for key in KEYS:
        np.testing.assert_allclose(out[key], expected[key], rtol=0, atol=1e-6, err_msg=key)


def test_a_box_touching_the_right_edge_keeps_its_size_and_its_mirror_centre() -> None:
    """Clipped to the map ``[0, W_out]``: a box reaching past the right edge is as wide as the
    visible part, and its centre is the mirror of its mirror image's (touching the left edge).
    The reference's ``[0, W_out − 1]`` takes a cell off and moves the centre half a cell."""
    box = np.array([[100.0, 20.0, 170.0, 50.0]], np.float32)  # 160 px wide input, W_out 40
    mirror = box[:, [2, 1, 0, 3]] * [-1, 1, -1, 1] + [160, 0, 160, 0]  # [-10, 20, 60, 50]
    for reference_clip, width in ((False, 15.0), (True, 14.0)):
        out, flipped = (
            {
                k: v.numpy()
                for k, v in encode_targets(
                    b, [0], (64, 160), 1, max_objects=1, reference_clip=reference_clip
                ).items()
            }
            for b in (box, mirror)
        )
        assert out["size"][0, 0] == width
        centre = out["indices"][0] % 40 + out["offset"][0, 0]
        mirrored = 40 - (flipped["indices"][0] % 40 + flipped["offset"][0, 0])
        assert (centre == mirrored) != reference_clip, (centre, mirrored)


def test_transposed_input_gives_transposed_targets() -> None:
    boxes = np.array([[10.0, 20.0, 70.0, 44.0], [100.0, 4.0, 126.0, 60.0]], np.float32)
    classes = [0, 1]
    out = encode_targets(boxes, classes, (64, 128), num_classes=2, max_objects=4)
    out_t = encode_targets(boxes[:, [1, 0, 3, 2]], classes, (128, 64), 2, max_objects=4)
    np.testing.assert_array_equal(out_t["heatmap"], np.transpose(out["heatmap"], (1, 0, 2)))
    np.testing.assert_array_equal(out_t["size"], out["size"].numpy()[:, ::-1])
    np.testing.assert_array_equal(out_t["offset"], out["offset"].numpy()[:, ::-1])
    np.testing.assert_array_equal(out_t["mask"], out["mask"])
    ind = out["indices"].numpy()[:2]
    y, x = ind // 32, ind % 32
    np.testing.assert_array_equal(out_t["indices"].numpy()[:2], x * 16 + y)


def test_points_zero_size_boxes_and_outside_points() -> None:
    boxes = [
        [50.0, 30.0, 50.0, 30.0],  # flagged point → output (12.5, 7.5)
        [80.0, 40.0, 80.0, 40.0],  # same zero-size box, not flagged → skipped
        [-4.0, 30.0, -4.0, 30.0],  # flagged point left of the image → skipped
        [192.0, 30.0, 192.0, 30.0],  # flagged point on the right edge (x == W) → skipped
        [100.0, 60.0, 100.0, 60.0],  # flagged point with class -1 → skipped
    ]
    classes = [2, 1, 0, 0, -1]
    is_point = [True, False, True, True, True]
    out = encode_targets(boxes, classes, (128, 192), 3, max_objects=6, is_point=is_point)
    np.testing.assert_array_equal(out["mask"], [1, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(out["indices"], [7 * 48 + 12, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(out["size"], np.zeros((6, 2)))
    np.testing.assert_allclose(out["offset"][0], [0.5, 0.5])
    expected = draw_gaussian(np.zeros((32, 48), np.float32), (12, 7), 3)
    hm = out["heatmap"].numpy()
    assert hm[7, 12, 2] == 1.0 and np.count_nonzero(hm[..., 2]) == 49  # 7×7 window
    np.testing.assert_allclose(hm[..., 2], expected, rtol=0, atol=1e-6)
    assert not hm[..., :2].any()


def test_point_radius_and_unknown_classes() -> None:
    boxes = [[40.0, 40.0, 40.0, 40.0], [8.0, 8.0, 48.0, 40.0]]
    out = encode_targets(boxes, [0, 5], (64, 64), 2, max_objects=2, is_point=[True, False],
                         point_radius=1)  # fmt: skip
    np.testing.assert_array_equal(out["mask"], [1, 0])  # class 5 >= num_classes is skipped
    assert np.count_nonzero(out["heatmap"].numpy()) == 9


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValueError, match="divisible"):
        encode_targets([[0.0, 0.0, 4.0, 4.0]], [0], (130, 128), 1)
    with pytest.raises(ValueError, match="radius_mode"):
        encode_targets([[0.0, 0.0, 4.0, 4.0]], [0], (128, 128), 1, radius_mode="mmdet")
