"""decode_fcos, FCOSDecoder, boxes_from_deltas and merge_fcos_flip: the EECS 498 write-up
(fixture 8), a round trip through encode_fcos_targets, and by-hand cases."""

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from reference_data import load_npz

from centernet_keras.boxes import box_iou
from centernet_keras.decoding import (
    FCOSDecoder,
    boxes_from_deltas,
    decode_fcos,
    merge_fcos_flip,
)
from centernet_keras.locations import fcos_level_shapes, fcos_location_strides, fcos_locations
from centernet_keras.targets import encode_fcos_targets

HW = (96, 160)  # non-square; levels 12×20, 6×10, 3×5
NUM_LOCATIONS = 12 * 20 + 6 * 10 + 3 * 5
HAND_HW = (64, 64)  # levels 8×8, 4×4, 2×2 → 84 locations


def _np(out: dict) -> dict[str, np.ndarray]:
    return {k: keras.ops.convert_to_numpy(v) for k, v in out.items()}


@pytest.mark.parametrize(("level", "stride"), [("p3", 8), ("p4", 16), ("p5", 32)])
def test_boxes_from_deltas_match_reference(level: str, stride: int) -> None:
    ref = load_npz("fcos_targets.npz")
    got = keras.ops.convert_to_numpy(
        boxes_from_deltas(ref[f"{level}__locations"], ref[f"{level}__deltas"], stride)
    )
    np.testing.assert_allclose(got, ref[f"{level}__boxes_from_deltas"], rtol=0, atol=1e-5)


def _separated_boxes(rng: np.random.Generator, n: int, hw=HW) -> np.ndarray:
    """``n`` boxes inside the image, pairwise IoU < 0.3 (so NMS at 0.6 keeps each)."""
    boxes = []
    while len(boxes) < n:
        w, h = rng.uniform(10, 80, size=2)
        x1, y1 = rng.uniform(0, hw[1] - w), rng.uniform(0, hw[0] - h)
        box = np.array([x1, y1, x1 + w, y1 + h], np.float32)
        if not boxes or keras.ops.convert_to_numpy(box_iou(box[None], np.stack(boxes))).max() < 0.3:
            boxes.append(box)
    return np.stack(boxes)


def _ideal_outputs(targets: dict, num_classes: int) -> dict[str, np.ndarray]:
    """Raw head outputs a perfect model gives for these targets (logits ±10)."""
    fg = targets["classes"] >= 0
    classes = np.full((len(fg), num_classes), -10.0, np.float32)
    classes[fg, targets["classes"][fg]] = 10.0
    ctr = np.clip(targets["centerness"], 1e-4, 1 - 1e-4)
    centerness = np.where(fg, np.log(ctr / (1 - ctr)), -10.0).astype(np.float32)
    deltas = np.where(fg[:, None], targets["deltas"], 0.0).astype(np.float32)
    return {"classes": classes, "deltas": deltas, "centerness": centerness}


def test_round_trip_recovers_every_box(rng: np.random.Generator) -> None:
    num_classes, images = 4, []
    for n in (5, 3):
        boxes = _separated_boxes(rng, n)
        classes = rng.integers(0, num_classes, n).astype(np.int32)
        targets = {k: np.asarray(v) for k, v in encode_fcos_targets(boxes, classes, HW).items()}
        matched = {tuple(b) for b in targets["boxes"][targets["classes"] >= 0]}
        assert len(matched) == n  # every box owns at least one location
        images.append((boxes, classes, _ideal_outputs(targets, num_classes)))
    batch = {k: np.stack([img[2][k] for img in images]) for k in images[0][2]}
    out = _np(decode_fcos(**batch, image_size=HW, max_detections=10))
    assert out["boxes"].shape == (2, 10, 4) and out["classes"].dtype == np.int32
    for b, (boxes, classes, _) in enumerate(images):
        n = len(boxes)
        assert out["num_detections"][b] == n
        iou = keras.ops.convert_to_numpy(box_iou(boxes, out["boxes"][b, :n]))  # [n, n]
        best = iou.argmax(axis=1)
        assert (iou.max(axis=1) > 0.99).all()
        np.testing.assert_array_equal(out["classes"][b, best], classes)
        assert (out["scores"][b, :n] > 0.5).all()  # sqrt(σ(10) · the best location's centerness)
        np.testing.assert_array_equal(out["scores"][b, n:], -1)
        np.testing.assert_array_equal(out["boxes"][b, n:], -1)


def _hand_maps(cells: dict[int, tuple[int, float, tuple]]) -> dict[str, np.ndarray]:
    """Logit maps on the 64² input, C = 2: ``cells[location] = (class, logit, deltas)``."""
    classes = np.full((1, 84, 2), -20.0, np.float32)
    deltas = np.zeros((1, 84, 4), np.float32)
    for loc, (cls, logit, d) in cells.items():
        classes[0, loc, cls] = logit
        deltas[0, loc] = d
    return {"classes": classes, "deltas": deltas, "centerness": np.full((1, 84), 20.0, "float32")}


def test_nms_is_class_wise_and_optional() -> None:
    # P3 locations 9 (x=12, y=12) and 10 (x=20, y=12): 16 px boxes 8 px apart (IoU 1/3).
    maps = _hand_maps(
        {
            9: (0, 3.0, (1, 1, 1, 1)),
            10: (0, 2.0, (1, 1, 1, 1)),
            11: (1, 1.0, (1, 1, 1, 1)),  # x=28: other class, overlapping location 10
        }
    )
    kwargs = {"image_size": HAND_HW, "max_detections": 5}
    loose = _np(decode_fcos(**maps, iou_threshold=0.5, **kwargs))
    tight = _np(decode_fcos(**maps, iou_threshold=0.3, **kwargs))
    off = _np(decode_fcos(**maps, iou_threshold=None, **kwargs))
    assert loose["num_detections"][0] == 3 and off["num_detections"][0] == 3
    assert tight["num_detections"][0] == 2
    np.testing.assert_array_equal(tight["classes"][0], [0, 1, -1, -1, -1])
    np.testing.assert_allclose(tight["boxes"][0, 0], [4, 4, 20, 20])
    np.testing.assert_allclose(tight["boxes"][0, 1], [20, 4, 36, 20])
    sig = 1 / (1 + np.exp(-np.array([3.0, 1.0])))
    np.testing.assert_allclose(tight["scores"][0, :2], np.sqrt(sig / (1 + np.exp(-20.0))), 1e-6)


def test_threshold_top_k_per_level_clipping_and_padding() -> None:
    maps = _hand_maps(
        {
            0: (0, 4.0, (1, 1, 1, 1)),  # P3 (4, 4): box clipped to the image at 0
            30: (0, 3.0, (0.5, 0.5, 0.5, 0.5)),
            63: (1, 2.0, (1, 1, 1, 1)),
            64 + 5: (1, 1.0, (1, 1, 1, 1)),  # P4 (24, 24)
            80: (0, 0.0, (1, 1, 2, 2)),  # P5 (16, 16): score sqrt(0.5 · σ(20)) ≈ 0.707
        }
    )
    kwargs = {"image_size": HAND_HW, "iou_threshold": None}
    out = _np(decode_fcos(**maps, max_detections=8, pre_nms_top_k=1, **kwargs))
    assert out["num_detections"][0] == 3  # the best of each level
    np.testing.assert_array_equal(out["classes"][0, :4], [0, 1, 0, -1])
    np.testing.assert_allclose(out["boxes"][0, 0], [0, 0, 12, 12])
    np.testing.assert_allclose(out["boxes"][0, 1], [8, 8, 40, 40])
    np.testing.assert_allclose(out["boxes"][0, 2], [0, 0, 64, 64])
    np.testing.assert_array_equal(out["boxes"][0, 3:], -1)
    assert out["boxes"].shape == (1, 8, 4)  # 3 candidates, padded to max_detections

    everything = _np(decode_fcos(**maps, max_detections=8, **kwargs))
    assert everything["num_detections"][0] == 5
    assert np.all(np.diff(everything["scores"][0, :5]) <= 0)
    threshold = float(everything["scores"][0, 2])
    strict = _np(decode_fcos(**maps, max_detections=8, score_threshold=threshold, **kwargs))
    assert strict["num_detections"][0] == 2  # score > threshold, not >=
    few = _np(decode_fcos(**maps, max_detections=2, **kwargs))
    assert few["num_detections"][0] == 2 and few["boxes"].shape == (1, 2, 4)
    np.testing.assert_array_equal(few["scores"], everything["scores"][:, :2])


def test_public_names() -> None:
    import centernet_keras as ck
    from centernet_keras.losses import centerness_loss, fcos_loss, giou_loss, sigmoid_focal_loss

    assert ck.encode_fcos_targets is encode_fcos_targets  # lazy, like encode_targets
    assert ck.decode_fcos is decode_fcos and ck.FCOSDecoder is FCOSDecoder
    assert ck.fcos_loss is fcos_loss and ck.fcos_locations is fcos_locations
    assert all(callable(f) for f in (centerness_loss, giou_loss, sigmoid_focal_loss))


def test_wrong_number_of_locations() -> None:
    maps = _hand_maps({})
    with pytest.raises(ValueError, match="84"):
        decode_fcos(**maps, image_size=(64, 96))


def test_decoder_layer_reads_probabilities_and_serializes(rng: np.random.Generator) -> None:
    logits = {
        "classes": rng.normal(-2, 2, size=(2, NUM_LOCATIONS, 3)).astype(np.float32),
        "deltas": rng.uniform(0, 4, size=(2, NUM_LOCATIONS, 4)).astype(np.float32),
        "centerness": rng.normal(size=(2, NUM_LOCATIONS)).astype(np.float32),
    }
    probs = {
        "classes": 1 / (1 + np.exp(-logits["classes"])),
        "deltas": logits["deltas"],
        "centerness": 1 / (1 + np.exp(-logits["centerness"])),
    }
    decoder = FCOSDecoder(max_detections=20, score_threshold=0.2, image_size=HW)
    want = _np(decode_fcos(**logits, image_size=HW, max_detections=20, score_threshold=0.2))
    got = _np(decoder(probs))
    assert want["num_detections"].min() > 0
    np.testing.assert_array_equal(got["classes"], want["classes"])
    np.testing.assert_allclose(got["boxes"], want["boxes"], atol=1e-4)
    np.testing.assert_allclose(got["scores"], want["scores"], atol=1e-6)

    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(decoder))
    assert isinstance(restored, FCOSDecoder) and restored.get_config() == decoder.get_config()
    assert decoder.get_config()["strides"] == [8, 16, 32] and "stride" not in decoder.get_config()
    changed = decoder.replace(iou_threshold=None, pre_nms_top_k=5, image_size=None)
    assert (changed.iou_threshold, changed.pre_nms_top_k, decoder.pre_nms_top_k) == (None, 5, 1000)
    with pytest.raises(ValueError, match="image_size"):
        changed(probs)
    np.testing.assert_array_equal(
        _np(changed(probs, image_size=HW))["num_detections"],
        _np(decode_fcos(**logits, image_size=HW, max_detections=20, score_threshold=0.2,
                        iou_threshold=None, pre_nms_top_k=5))["num_detections"],
    )  # fmt: skip
    with pytest.raises(TypeError, match="stride"):
        decoder.replace(stride=4)


def _mirror(x: np.ndarray, hw=HW) -> np.ndarray:
    """NumPy: flat per-level maps of the mirrored image."""
    parts, start = [], 0
    for h, w in fcos_level_shapes(hw):
        level = x[:, start : start + h * w].reshape(x.shape[0], h, w, *x.shape[2:])
        parts.append(level[:, :, ::-1].reshape(x.shape[0], h * w, *x.shape[2:]))
        start += h * w
    return np.concatenate(parts, axis=1)


def test_merge_fcos_flip(rng: np.random.Generator) -> None:
    maps = {
        "classes": rng.uniform(size=(2, NUM_LOCATIONS, 3)).astype(np.float32),
        "deltas": rng.uniform(0, 4, size=(2, NUM_LOCATIONS, 4)).astype(np.float32),
        "centerness": rng.uniform(size=(2, NUM_LOCATIONS)).astype(np.float32),
    }
    # What the mirrored image shows: mirrored maps, l and r exchanged.
    flipped = {k: _mirror(v) for k, v in maps.items()}
    flipped["deltas"] = flipped["deltas"][..., [2, 1, 0, 3]]
    same = _np(merge_fcos_flip(maps, flipped, fcos_level_shapes(HW)))
    for key, value in maps.items():
        np.testing.assert_allclose(same[key], value, rtol=1e-6, err_msg=key)
    # The mirrored image's boxes, mirrored back (x → W − x), are the image's boxes.
    loc, strides = fcos_locations(HW), fcos_location_strides(HW)
    in_flipped = keras.ops.convert_to_numpy(boxes_from_deltas(loc, flipped["deltas"][0], strides))
    back = np.stack(
        [HW[1] - in_flipped[:, 2], in_flipped[:, 1], HW[1] - in_flipped[:, 0], in_flipped[:, 3]], 1
    )
    direct = keras.ops.convert_to_numpy(boxes_from_deltas(loc, maps["deltas"][0], strides))
    np.testing.assert_allclose(_mirror(back[None])[0], direct, atol=1e-4)

    zeros = {k: np.zeros_like(v) for k, v in maps.items()}
    half = _np(merge_fcos_flip(maps, zeros, fcos_level_shapes(HW)))
    for key, value in maps.items():
        np.testing.assert_allclose(half[key], value / 2, rtol=1e-6, err_msg=key)


def test_in_tf_function_with_dynamic_batch(rng: np.random.Generator) -> None:
    import tensorflow as tf

    maps = {
        "classes": rng.normal(-2, 2, size=(3, NUM_LOCATIONS, 2)).astype(np.float32),
        "deltas": rng.uniform(0, 4, size=(3, NUM_LOCATIONS, 4)).astype(np.float32),
        "centerness": rng.normal(size=(3, NUM_LOCATIONS)).astype(np.float32),
    }
    sig = [
        tf.TensorSpec([None, NUM_LOCATIONS, 2], tf.float32),
        tf.TensorSpec([None, NUM_LOCATIONS, 4], tf.float32),
        tf.TensorSpec([None, NUM_LOCATIONS], tf.float32),
    ]
    run = tf.function(
        lambda c, d, t: decode_fcos(c, d, t, HW, max_detections=15), input_signature=sig
    )
    eager = _np(decode_fcos(**maps, image_size=HW, max_detections=15))
    graph = _np(run(maps["classes"], maps["deltas"], maps["centerness"]))
    for key in eager:
        np.testing.assert_allclose(graph[key], eager[key], atol=1e-5, err_msg=key)


TORCH_SIDE = textwrap.dedent(
    """
    import sys
    import keras
    import numpy as np
    assert keras.backend.backend() == "torch"
    from centernet_keras.decoding import decode_fcos
    from centernet_keras.losses import fcos_loss
    assert "tensorflow" not in sys.modules  # a machine without TensorFlow can decode and train
    d = dict(np.load(sys.argv[1]))
    hw = tuple(int(v) for v in d.pop("hw"))
    y_true = {k[2:]: d[k] for k in d if k.startswith("t_")}
    y_pred = {k[2:]: d[k] for k in d if k.startswith("p_")}
    det = decode_fcos(**y_pred, image_size=hw, max_detections=12)
    out = {"det_" + k: v for k, v in det.items()}
    out.update({"loss_" + k: v for k, v in fcos_loss(y_true, y_pred).items()})
    np.savez(sys.argv[2], **{k: keras.ops.convert_to_numpy(v) for k, v in out.items()})
    """
)


@pytest.mark.slow
def test_torch_backend_matches_tensorflow(rng: np.random.Generator, tmp_path) -> None:
    """decode_fcos and fcos_loss under KERAS_BACKEND=torch (a subprocess) equal TensorFlow's."""
    num_classes, targets, preds = 3, [], []
    for n in (4, 2):
        boxes = _separated_boxes(rng, n)
        classes = rng.integers(0, num_classes, n).astype(np.int32)
        t = {k: np.asarray(v) for k, v in encode_fcos_targets(boxes, classes, HW).items()}
        ideal = _ideal_outputs(t, num_classes)
        ideal["classes"] += rng.normal(0, 1, ideal["classes"].shape).astype(np.float32)
        targets.append(t)
        preds.append(ideal)
    y_true = {k: np.stack([t[k] for t in targets]) for k in targets[0]}
    y_pred = {k: np.stack([p[k] for p in preds]) for k in preds[0]}
    arrays = {"hw": np.array(HW)}
    arrays.update({"t_" + k: v for k, v in y_true.items()})
    arrays.update({"p_" + k: v for k, v in y_pred.items()})
    np.savez(tmp_path / "in.npz", **arrays)
    env = {**os.environ, "KERAS_BACKEND": "torch", "CUDA_VISIBLE_DEVICES": ""}
    cmd = [sys.executable, "-c", TORCH_SIDE, str(tmp_path / "in.npz"), str(tmp_path / "out.npz")]
    subprocess.run(cmd, env=env, check=True, timeout=300)
    got = dict(np.load(tmp_path / "out.npz"))

    det = _np(decode_fcos(**y_pred, image_size=HW, max_detections=12))
    assert det["num_detections"].min() > 0
    np.testing.assert_array_equal(got["det_num_detections"], det["num_detections"])
    np.testing.assert_array_equal(got["det_classes"], det["classes"])
    np.testing.assert_allclose(got["det_scores"], det["scores"], atol=1e-6)
    np.testing.assert_allclose(got["det_boxes"], det["boxes"], atol=1e-4)
    from centernet_keras.losses import fcos_loss

    for key, value in fcos_loss(y_true, y_pred).items():
        np.testing.assert_allclose(got["loss_" + key], float(value), rtol=1e-5, err_msg=key)
