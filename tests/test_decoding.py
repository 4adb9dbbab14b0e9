"""Tests for centernet_keras.decoding against the reference ``ctdet_decode`` (fixture 5)."""

import keras
import numpy as np
import pytest
from reference_data import load_npz

from centernet_keras.decoding import class_nms, decode_centernet, peak_keep, topk_peaks


@pytest.fixture(scope="module")
def ref() -> dict[str, np.ndarray]:
    return load_npz("ctdet_decode.npz")


def _np(out: dict) -> dict[str, np.ndarray]:
    return {k: keras.ops.convert_to_numpy(v) for k, v in out.items()}


def test_peak_keep_matches_nms_heat(ref: dict[str, np.ndarray]) -> None:
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(peak_keep(ref["heat"])), ref["nms_heat"]
    )


def test_topk_matches_reference(ref: dict[str, np.ndarray]) -> None:
    scores, spatial, classes, _ = topk_peaks(ref["nms_heat"], int(ref["K"]))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(scores), ref["topk_scores"])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(spatial), ref["topk_inds"])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(classes), ref["topk_clses"])


@pytest.mark.parametrize("with_offset", [True, False])
def test_decode_matches_reference(ref: dict[str, np.ndarray], with_offset: bool) -> None:
    offset = ref["reg"] if with_offset else None
    want = ref["detections" if with_offset else "detections_noreg"]
    out = _np(decode_centernet(ref["heat"], ref["wh"], offset, max_detections=20, stride=1))
    assert out["boxes"].dtype == np.float32 and out["classes"].dtype == np.int32
    np.testing.assert_array_equal(out["scores"], want[..., 4])
    np.testing.assert_array_equal(out["classes"], want[..., 5].astype(np.int32))
    np.testing.assert_allclose(out["boxes"], want[..., :4], rtol=0, atol=1e-5)
    np.testing.assert_array_equal(out["num_detections"], [20, 20])


def test_stride_scales_boxes(ref: dict[str, np.ndarray]) -> None:
    out = _np(decode_centernet(ref["heat"], ref["wh"], ref["reg"], max_detections=20))
    np.testing.assert_allclose(out["boxes"], ref["detections"][..., :4] * 4, atol=4e-5)


def _scene(h: int = 16, w: int = 20, c: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    heat = np.zeros((1, h, w, c), "float32")
    size = np.full((1, h, w, 2), 4.0, "float32")
    offset = np.zeros((1, h, w, 2), "float32")
    return heat, size, offset


def test_batch_images_are_independent() -> None:
    heat, size, offset = _scene()
    heat[0, 3, 4, 0], heat[0, 10, 12, 2], heat[0, 7, 15, 1] = 0.9, 0.6, 0.3
    shifted = np.roll(heat, shift=(2, 3), axis=(1, 2))
    batch = np.concatenate([heat, shifted])
    out = _np(decode_centernet(batch, np.repeat(size, 2, 0), np.repeat(offset, 2, 0), 10, 0.1))
    single = _np(decode_centernet(heat, size, offset, 10, 0.1))
    np.testing.assert_array_equal(out["num_detections"], [3, 3])
    np.testing.assert_array_equal(out["scores"][0], single["scores"][0])
    np.testing.assert_array_equal(out["scores"][1], out["scores"][0])
    np.testing.assert_array_equal(out["classes"][1], out["classes"][0])
    shift = np.array([3, 2, 3, 2], "float32") * 4
    np.testing.assert_allclose(out["boxes"][1, :3], out["boxes"][0, :3] + shift)


def test_non_peaks_are_not_detections_even_at_threshold_zero() -> None:
    heat, size, offset = _scene()
    heat[0, 3, 4, 0], heat[0, 10, 12, 2], heat[0, 7, 15, 1] = 0.9, 0.5, 0.3
    heat[0, 3, 5, 0] = 0.8  # next to the 0.9 peak: suppressed, score 0 after the peak keep
    out = _np(decode_centernet(heat, size, offset, max_detections=6, score_threshold=0.0))
    assert out["num_detections"][0] == 3
    np.testing.assert_allclose(out["scores"][0], [0.9, 0.5, 0.3, -1, -1, -1])
    np.testing.assert_array_equal(out["classes"][0, 3:], -1)


def test_score_threshold_pads_with_minus_one() -> None:
    heat, size, offset = _scene()
    heat[0, 3, 4, 0], heat[0, 10, 12, 2], heat[0, 7, 15, 1] = 0.9, 0.5, 0.3
    out = _np(decode_centernet(heat, size, offset, max_detections=6, score_threshold=0.5))
    assert out["num_detections"][0] == 2
    np.testing.assert_allclose(out["scores"][0], [0.9, 0.5, -1, -1, -1, -1])
    np.testing.assert_array_equal(out["classes"][0], [0, 2, -1, -1, -1, -1])
    np.testing.assert_array_equal(out["boxes"][0, 2:], -1.0)
    np.testing.assert_allclose(out["boxes"][0, 0], np.array([2, 1, 6, 5]) * 4.0)


def test_nms_class_wise() -> None:
    heat, size, offset = _scene(c=2)
    heat[0, 5, 5, 0] = 0.9  # kept
    heat[0, 5, 7, 0] = 0.8  # same class, IoU(4x4 boxes 2 px apart) = 1/3 -> suppressed
    heat[0, 5, 6, 1] = 0.7  # other class overlapping -> kept
    heat[0, 12, 15, 0] = 0.6  # same class, far away -> kept
    kwargs = {"max_detections": 8, "score_threshold": 0.1}
    without = _np(decode_centernet(heat, size, offset, **kwargs))
    assert without["num_detections"][0] == 4
    out = _np(decode_centernet(heat, size, offset, iou_threshold=0.3, **kwargs))
    assert out["num_detections"][0] == 3
    np.testing.assert_allclose(out["scores"][0, :4], [0.9, 0.7, 0.6, -1])
    np.testing.assert_array_equal(out["classes"][0, :4], [0, 1, 0, -1])
    loose = _np(decode_centernet(heat, size, offset, iou_threshold=0.5, **kwargs))
    assert loose["num_detections"][0] == 4


def test_nms_is_greedy_not_all_pairs() -> None:
    # A suppresses B, B overlaps C but C is kept because B was removed first.
    boxes = np.array([[[0, 0, 10, 10], [6, 0, 16, 10], [12, 0, 22, 10]]], "float32")
    keep = class_nms(boxes, np.zeros((1, 3), "int32"), np.ones((1, 3), bool), 0.2)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(keep), [[True, False, True]])


def _greedy_nms(boxes, classes, valid, threshold) -> np.ndarray:
    """Textbook greedy NMS, one row at a time (NumPy)."""
    keep = np.zeros(len(boxes), bool)
    for j in range(len(boxes)):
        if not valid[j]:
            continue
        earlier = np.flatnonzero(keep[:j] & (classes[:j] == classes[j]))
        ious = [_iou(boxes[i], boxes[j]) for i in earlier]
        keep[j] = not any(iou > threshold for iou in ious)
    return keep


def _iou(a, b) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def test_nms_equals_textbook_greedy_on_clutter_and_long_chains() -> None:
    """Random clutter (3 classes, invalid rows) and a 40-box chain where each box overlaps the
    next: greedy keeps every other one, which needs as many fixed-point steps as boxes."""
    rng = np.random.default_rng(7)
    k = 60
    xy = rng.uniform(0, 60, (3, k, 2))
    wh = rng.uniform(5, 30, (3, k, 2))
    boxes = np.concatenate([xy, xy + wh], -1).astype("float32")
    classes = rng.integers(0, 3, (3, k)).astype("int32")
    valid = rng.random((3, k)) < 0.85
    chain = np.stack([np.arange(k) * 5.0, np.zeros(k), np.arange(k) * 5.0 + 10, np.full(k, 10)], 1)
    boxes[2, :40] = chain[:40]  # IoU of neighbours 1/3, of every other box 0
    classes[2, :40], valid[2, :40] = 1, True
    for threshold in (0.3, 0.5):
        got = keras.ops.convert_to_numpy(class_nms(boxes, classes, valid, threshold))
        for b in range(3):
            want = _greedy_nms(boxes[b], classes[b], valid[b], threshold)
            np.testing.assert_array_equal(got[b], want, err_msg=f"image {b}, iou {threshold}")
    chain_keep = keras.ops.convert_to_numpy(class_nms(boxes, classes, valid, 0.3))[2, :40]
    np.testing.assert_array_equal(chain_keep, np.arange(40) % 2 == 0)


def test_map_smaller_than_k() -> None:
    heat = np.linspace(0.1, 0.9, 2 * 2 * 3, dtype="float32").reshape(1, 2, 2, 3)
    size = np.ones((1, 2, 2, 2), "float32")
    out = _np(decode_centernet(heat, size, None, max_detections=20))
    assert out["boxes"].shape == (1, 20, 4)
    n = int(out["num_detections"][0])
    assert 0 < n <= 12
    assert np.all(out["scores"][0, :n] >= 0) and np.all(out["scores"][0, n:] == -1)
    assert np.all(out["classes"][0, n:] == -1)
    assert np.all(np.diff(out["scores"][0, :n]) <= 0)


def test_dynamic_shapes_in_tf_function(ref: dict[str, np.ndarray]) -> None:
    import tensorflow as tf

    sig = [
        tf.TensorSpec([None, None, None, 3], tf.float32),
        tf.TensorSpec([None, None, None, 2], tf.float32),
        tf.TensorSpec([None, None, None, 2], tf.float32),
    ]

    @tf.function(input_signature=sig)
    def run(heat: tf.Tensor, wh: tf.Tensor, reg: tf.Tensor) -> dict:
        return decode_centernet(heat, wh, reg, max_detections=20, iou_threshold=0.5, stride=1)

    out = _np(run(ref["heat"], ref["wh"], ref["reg"]))
    eager = _np(
        decode_centernet(ref["heat"], ref["wh"], ref["reg"], 20, iou_threshold=0.5, stride=1)
    )
    for key in eager:
        np.testing.assert_array_equal(out[key], eager[key])
    small = _np(run(ref["heat"][:1, :2, :3], ref["wh"][:1, :2, :3], ref["reg"][:1, :2, :3]))
    assert small["scores"].shape == (1, 20) and small["num_detections"][0] <= 18
