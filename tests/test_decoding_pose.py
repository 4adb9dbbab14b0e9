"""Tests for decode_pose / PoseDecoder against the reference ``multi_pose_decode`` (fixture 6)."""

import keras
import numpy as np
import pytest
from reference_data import load_npz

from centernet_keras.decoding import PoseDecoder, decode_pose

ATOL = 1e-4  # fixture README, section 6: coordinates; scores and classes exact
VARIANTS = {  # fixture key: (use hm_hp, use hp_offset)
    "detections": (True, True),
    "detections_no_hp_offset": (True, False),
    "detections_no_hm_hp": (False, True),
}


@pytest.fixture(scope="module")
def ref() -> dict[str, np.ndarray]:
    return load_npz("multi_pose_decode.npz")


def _np(out: dict) -> dict[str, np.ndarray]:
    return {k: keras.ops.convert_to_numpy(v) for k, v in out.items()}


def _maps(ref: dict[str, np.ndarray], variant: str = "detections") -> dict[str, np.ndarray]:
    use_hm_hp, use_hp_offset = VARIANTS[variant]
    maps = {
        "heatmap": ref["heat"],
        "size": ref["wh"],
        "offset": ref["reg"],
        "keypoints": ref["kps"],
    }
    if use_hm_hp:
        maps["keypoint_heatmap"] = ref["hm_hp"]
    if use_hp_offset:
        maps["keypoint_offset"] = ref["hp_offset"]
    return maps


def _decode(maps: dict, **kwargs) -> dict[str, np.ndarray]:
    return _np(
        decode_pose(
            maps["heatmap"],
            maps["size"],
            maps.get("offset"),
            maps["keypoints"],
            maps.get("keypoint_heatmap"),
            maps.get("keypoint_offset"),
            **kwargs,
        )
    )


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_decode_matches_reference(ref: dict[str, np.ndarray], variant: str) -> None:
    want = ref[variant]  # [1, K, 40] = x1, y1, x2, y2, score, 17 × (x, y), class
    k = int(ref["K"])
    out = _decode(_maps(ref, variant), max_detections=k, stride=1)
    assert out["keypoints"].shape == (1, k, 17, 2) and out["keypoint_scores"].shape == (1, k, 17)
    assert out["keypoints"].dtype == np.float32 and out["classes"].dtype == np.int32
    np.testing.assert_array_equal(out["scores"], want[..., 4])
    np.testing.assert_array_equal(out["classes"], want[..., -1].astype(np.int32))
    np.testing.assert_allclose(out["boxes"], want[..., :4], rtol=0, atol=ATOL)
    np.testing.assert_allclose(out["keypoints"], want[..., 5:39].reshape(1, k, 17, 2), atol=ATOL)
    np.testing.assert_array_equal(out["num_detections"], [k])


def test_keypoint_scores_mark_snapped_joints(ref: dict[str, np.ndarray]) -> None:
    out = _decode(_maps(ref), max_detections=10, stride=1)
    regressed = _decode(_maps(ref, "detections_no_hm_hp"), max_detections=10, stride=1)
    moved = np.any(out["keypoints"] != regressed["keypoints"], axis=-1)  # [1, K, J]
    snapped = out["keypoint_scores"] > 0
    assert snapped.sum() == 41  # fixture README: 41 of the 170 keypoints snap
    np.testing.assert_array_equal(snapped, moved)
    assert np.all(out["keypoint_scores"][snapped] > 0.1)
    assert not snapped[..., 15:].any()  # joints 15, 16: every hm_hp value below 0.1
    # Without a joint heatmap every joint carries its person's score.
    np.testing.assert_array_equal(
        regressed["keypoint_scores"], np.repeat(regressed["scores"][..., None], 17, -1)
    )


def test_stride_scales_boxes_and_keypoints(ref: dict[str, np.ndarray]) -> None:
    one = _decode(_maps(ref), max_detections=10, stride=1)
    four = _decode(_maps(ref), max_detections=10, stride=4)
    np.testing.assert_allclose(four["boxes"], one["boxes"] * 4, atol=4 * ATOL)
    np.testing.assert_allclose(four["keypoints"], one["keypoints"] * 4, atol=4 * ATOL)
    np.testing.assert_array_equal(four["keypoint_scores"], one["keypoint_scores"])


def _scene() -> dict[str, np.ndarray]:
    """One person at cell (10, 10), box 8×8 (x, y in [6, 14]), two joints regressed to
    (12, 8) and (8, 12); both joint heatmaps hold several candidate peaks."""
    h = w = 24
    maps = {
        "heatmap": np.zeros((1, h, w, 1), "float32"),
        "size": np.full((1, h, w, 2), 8.0, "float32"),
        "offset": np.zeros((1, h, w, 2), "float32"),
        "keypoints": np.zeros((1, h, w, 4), "float32"),
        "keypoint_heatmap": np.zeros((1, h, w, 2), "float32"),
        "keypoint_offset": np.zeros((1, h, w, 2), "float32"),
    }
    maps["heatmap"][0, 10, 10, 0] = 0.9
    maps["keypoints"][0, 10, 10] = [2.0, -2.0, -2.0, 2.0]
    return maps


def test_snapping_rules() -> None:
    maps = _scene()
    jh = maps["keypoint_heatmap"]
    jh[0, 9, 13, 0] = 0.5  # joint 0: 1.41 from (12, 8), inside the box → snapped
    jh[0, 8, 11, 0] = 0.1  # nearer, but not above the threshold → ignored
    jh[0, 12, 5, 1] = 0.8  # joint 1: 3.0 from (8, 12), outside the box (x < 6) → regressed
    out = _decode(maps, max_detections=4, stride=1)
    np.testing.assert_allclose(out["keypoints"][0, 0], [[13.0, 9.0], [8.0, 12.0]])
    np.testing.assert_allclose(out["keypoint_scores"][0, 0], [0.5, 0.0])

    jh[0, 14, 14, 1] = 0.7  # inside, but 6.32 > 0.3 · 8 from (8, 12) → regressed
    assert np.allclose(_decode(maps, max_detections=4, stride=1)["keypoints"][0, 0, 1], [8, 12])
    jh[0, 13, 9, 1] = 0.6  # inside, 1.41 away → snapped, with the joint offset
    maps["keypoint_offset"][0, 13, 9] = [0.25, 0.5]
    out = _decode(maps, max_detections=4, stride=1)
    np.testing.assert_allclose(out["keypoints"][0, 0, 1], [9.25, 13.5])
    assert out["keypoint_scores"][0, 0, 1] == pytest.approx(0.6)
    # keypoint_threshold is a setting: at 0.55 the 0.5 peak of joint 0 is not taken.
    high = _decode(maps, max_detections=4, stride=1, keypoint_threshold=0.55)
    np.testing.assert_allclose(high["keypoints"][0, 0, 0], [12.0, 8.0])


def test_padding_after_valid_rows(ref: dict[str, np.ndarray]) -> None:
    full = _decode(_maps(ref), max_detections=10, stride=1)
    threshold = float(full["scores"][0, 3])
    out = _decode(_maps(ref), max_detections=10, stride=1, score_threshold=threshold)
    np.testing.assert_array_equal(out["num_detections"], [4])
    for key in ("boxes", "scores", "classes", "keypoints", "keypoint_scores"):
        np.testing.assert_array_equal(out[key][0, :4], full[key][0, :4])
        np.testing.assert_array_equal(out[key][0, 4:], -1)
    assert out["keypoints"].shape == (1, 10, 17, 2)


def test_map_smaller_than_k_and_batch() -> None:
    maps = _scene()
    small = {k: np.concatenate([v[:, 8:12, 8:12]] * 2) for k, v in maps.items()}  # 16 cells < K
    out = _decode(small, max_detections=20, stride=1)
    np.testing.assert_array_equal(out["num_detections"], [1, 1])
    assert out["keypoints"].shape == (2, 20, 2, 2)
    np.testing.assert_array_equal(out["keypoints"][1], out["keypoints"][0])
    np.testing.assert_allclose(out["keypoints"][0, 0], [[4.0, 0.0], [0.0, 4.0]])  # (2, 2) ± 2
    np.testing.assert_array_equal(out["keypoints"][:, 1:], -1)


def test_layer_config_round_trip_and_call(ref: dict[str, np.ndarray]) -> None:
    layer = PoseDecoder(max_detections=10, score_threshold=0.9753, keypoint_threshold=0.2, stride=2)
    config = layer.get_config()
    assert {k: config[k] for k in ("max_detections", "keypoint_threshold", "stride")} == {
        "max_detections": 10,
        "keypoint_threshold": 0.2,
        "stride": 2,
    }
    assert config["iou_threshold"] is None  # no NMS, as the reference
    restored = PoseDecoder.from_config(config)
    assert restored.get_config() == config
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert isinstance(again, PoseDecoder) and again.get_config() == config
    want = _decode(
        _maps(ref), max_detections=10, score_threshold=0.9753, keypoint_threshold=0.2, stride=2
    )
    for decoder in (layer, restored):
        got = _np(decoder(_maps(ref)))
        assert set(got) == set(want)
        for key in want:
            np.testing.assert_array_equal(got[key], want[key])
    assert want["num_detections"][0] == 7
    assert layer.replace(stride=1).stride == 1
    assert layer.replace(iou_threshold=0.5).iou_threshold == 0.5
    # A pose model saved before the setting existed (no iou_threshold in its config) loads.
    legacy = {k: v for k, v in config.items() if k != "iou_threshold"}
    assert PoseDecoder.from_config(legacy).iou_threshold is None


def test_iou_threshold_keeps_the_people_box_nms_keeps(ref: dict[str, np.ndarray]) -> None:
    """NMS over the people: the boxes kept are those ``decode_centernet`` keeps from the same
    maps at the same IoU, each with its own joints."""
    from centernet_keras.decoding import decode_centernet

    maps = _maps(ref)
    plain = _decode(maps, max_detections=30, stride=4)
    for iou in (0.1, 0.3):
        nms = _decode(maps, max_detections=30, stride=4, iou_threshold=iou)
        boxes = _np(decode_centernet(maps["heatmap"], maps["size"], maps["offset"], 30, 0.0, iou))
        n = int(nms["num_detections"][0])
        assert n == int(boxes["num_detections"][0]) < int(plain["num_detections"][0])
        np.testing.assert_array_equal(nms["boxes"][0, :n], boxes["boxes"][0, :n])
        same = (nms["boxes"][0, :n, None] == plain["boxes"][0, None]).all(-1)  # [n, K]
        rows = same.argmax(axis=1)  # each kept person's row without NMS
        for key in ("scores", "keypoints", "keypoint_scores"):
            np.testing.assert_array_equal(nms[key][0, :n], plain[key][0, rows])
        np.testing.assert_array_equal(nms["keypoints"][0, n:], -1)


def test_traced_equals_eager(ref: dict[str, np.ndarray]) -> None:
    import tensorflow as tf

    def spec(c: int) -> tf.TensorSpec:
        return tf.TensorSpec([None, None, None, c], tf.float32)

    signature = [spec(1), spec(2), spec(2), spec(34), spec(17), spec(2)]

    @tf.function(input_signature=signature, jit_compile=False)
    def run(*maps: tf.Tensor) -> dict:
        return decode_pose(*maps, max_detections=10, stride=4)

    maps = _maps(ref)
    args = [maps[k] for k in ("heatmap", "size", "offset", "keypoints")]
    args += [maps["keypoint_heatmap"], maps["keypoint_offset"]]
    traced = _np(run(*args))
    eager = _decode(maps, max_detections=10, stride=4)
    for key in eager:
        np.testing.assert_array_equal(traced[key], eager[key])
    # Dynamic shapes: a smaller map (15 cells) through the same trace.
    small = _np(run(*(a[:, :3, :5] for a in args)))
    assert small["keypoints"].shape == (1, 10, 17, 2)
    assert 0 < small["num_detections"][0] <= 10
