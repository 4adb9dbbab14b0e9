"""FCOS losses against torchvision 0.28 (fixture 13) and a hand-computed fcos_loss."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from reference_data import load_npz

from centernet_keras.locations import fcos_location_strides, fcos_locations
from centernet_keras.losses import centerness_loss, fcos_loss, giou_loss, sigmoid_focal_loss
from centernet_keras.targets import encode_fcos_targets

REF = load_npz("fcos_losses.npz")
ATOL, RTOL, SUM_RTOL = 2e-6, 1e-5, 1e-6


def _np(x) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(x))


def _check(got, name: str) -> None:
    got = _np(got)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, REF[f"{name}_f64"], rtol=RTOL, atol=ATOL, err_msg=name)


def _check_sum(got, name: str) -> None:
    np.testing.assert_allclose(float(got), float(REF[f"{name}_f64"]), rtol=SUM_RTOL, err_msg=name)


def test_sigmoid_focal_loss_matches_torchvision() -> None:
    logits, targets = REF["focal_logits"], REF["focal_targets"]
    assert np.abs(logits).max() == 88.0 and (logits == 0).any()  # the extreme rows are there
    _check(sigmoid_focal_loss(logits, targets), "focal_none")
    _check_sum(sigmoid_focal_loss(logits, targets, reduction="sum"), "focal_sum")
    _check_sum(sigmoid_focal_loss(logits, targets, reduction="mean"), "focal_mean")


def test_giou_loss_matches_torchvision() -> None:
    b1, b2 = REF["giou_boxes1"], REF["giou_boxes2"]
    _check(giou_loss(b1, b2), "giou_none")
    _check(giou_loss(b2, b1), "giou_swapped_none")
    _check_sum(giou_loss(b1, b2, reduction="sum"), "giou_sum")
    _check(
        giou_loss(REF["giou_degenerate_boxes1"], REF["giou_degenerate_boxes2"]),
        "giou_degenerate_none",
    )
    assert _np(giou_loss(b1, b2)).max() > 1.9  # the far-apart disjoint case


def test_centerness_bce_matches_torch() -> None:
    logits, targets = REF["ctr_logits"], REF["ctr_targets"]
    assert (targets == 0).any() and logits.max() == 100.0  # zero targets count, big logits
    _check(centerness_loss(logits, targets), "ctr_bce_none")
    _check_sum(centerness_loss(logits, targets, reduction="sum"), "ctr_bce_sum")


def test_unknown_reduction() -> None:
    with pytest.raises(ValueError, match="reduction"):
        giou_loss(REF["giou_boxes1"], REF["giou_boxes2"], reduction="avg")


def test_fcos_loss_by_hand() -> None:
    # Two locations, C = 2: location 0 is class 1 with target deltas (1, 1, 1, 1) (a 2×2 box
    # around it, centerness 1); location 1 is background.
    y_true = {
        "classes": np.array([[1, -1]], np.int32),
        "deltas": np.array([[[1, 1, 1, 1], [-1, -1, -1, -1]]], np.float32),
        "centerness": np.array([[1.0, -1.0]], np.float32),
    }
    y_pred = {
        "classes": np.zeros((1, 2, 2), np.float32),  # p = 0.5 everywhere
        "deltas": np.array([[[0.5, 0.5, 0.5, 0.5], [7, 7, 7, 7]]], np.float32),
        "centerness": np.array([[0.0, 5.0]], np.float32),
    }
    out = {k: float(v) for k, v in fcos_loss(y_true, y_pred).items()}
    # focal: every element has BCE ln 2 and (1 − p_t)² = 1/4; α_t = 0.25 for the one positive,
    # 0.75 for the three negatives → (0.25 + 3·0.75) · 0.25 · ln 2 over 1 foreground location.
    assert out["class_loss"] == pytest.approx(0.625 * math.log(2), rel=1e-6)
    # GIoU: a 1×1 box inside the 2×2 one: IoU 1/4, the enclosing box is the union → loss 3/4.
    assert out["box_loss"] == pytest.approx(0.75, rel=1e-6)
    # Centerness: BCE(0, 1) = ln 2 at location 0; the background logit 5 is not counted.
    assert out["centerness_loss"] == pytest.approx(math.log(2), rel=1e-6)
    assert out["loss"] == pytest.approx(1.625 * math.log(2) + 0.75, rel=1e-6)
    weighted = fcos_loss(y_true, y_pred, weights=(2.0, 0.0, 1.0))
    assert float(weighted["loss"]) == pytest.approx(2.25 * math.log(2), rel=1e-6)


def _batch(rng: np.random.Generator, hw=(96, 160), num_classes=3):
    """Targets of two images with random boxes, and random predictions."""
    targets = []
    for _ in range(2):
        size = rng.uniform(8, 120, size=(6, 2))
        centre = rng.uniform(0, 1, size=(6, 2)) * np.array([hw[1], hw[0]])
        boxes = np.concatenate([centre - size / 2, centre + size / 2], 1).astype(np.float32)
        classes = rng.integers(0, num_classes, 6).astype(np.int32)
        targets.append(
            {k: np.asarray(v) for k, v in encode_fcos_targets(boxes, classes, hw).items()}
        )
    y_true = {k: np.stack([t[k] for t in targets]) for k in targets[0]}
    n = y_true["classes"].shape[1]
    y_pred = {
        "classes": rng.normal(size=(2, n, num_classes)).astype(np.float32),
        "deltas": rng.uniform(0, 6, size=(2, n, 4)).astype(np.float32),
        "centerness": rng.normal(size=(2, n)).astype(np.float32),
    }
    return y_true, y_pred


def test_fcos_loss_box_term_equals_pixel_space_giou(rng: np.random.Generator) -> None:
    """The box term, computed around the origin in stride units, is torchvision's pixel GIoU:
    predicted boxes ``location ∓ deltas · stride`` against the matched boxes."""
    hw = (96, 160)
    y_true, y_pred = _batch(rng, hw)
    fg = y_true["classes"] >= 0
    locations = fcos_locations(hw)[None]  # [1, L, 2]
    strides = fcos_location_strides(hw)[None, :, None]  # [1, L, 1]
    d = y_pred["deltas"] * strides
    pred_boxes = np.concatenate([locations - d[..., :2], locations + d[..., 2:]], -1)
    pixel = _np(giou_loss(pred_boxes[fg], y_true["boxes"][fg], reduction="sum")) / fg.sum()
    out = fcos_loss(y_true, y_pred)
    assert float(out["box_loss"]) == pytest.approx(float(pixel), rel=1e-5)
    onehot = np.eye(3, dtype=np.float32)[np.maximum(y_true["classes"], 0)] * fg[..., None]
    focal = _np(sigmoid_focal_loss(y_pred["classes"], onehot, reduction="sum")) / fg.sum()
    assert float(out["class_loss"]) == pytest.approx(float(focal), rel=1e-6)
    ctr = _np(centerness_loss(y_pred["centerness"][fg], y_true["centerness"][fg], "sum"))
    assert float(out["centerness_loss"]) == pytest.approx(float(ctr) / fg.sum(), rel=1e-6)


def test_fcos_loss_without_foreground_and_finite_gradients(rng: np.random.Generator) -> None:
    y_true, y_pred = _batch(rng)
    empty = {k: np.full_like(v, -1) for k, v in y_true.items()}
    out = fcos_loss(empty, y_pred)
    assert float(out["box_loss"]) == 0.0 and float(out["centerness_loss"]) == 0.0
    focal_sum = _np(sigmoid_focal_loss(y_pred["classes"], 0 * y_pred["classes"], reduction="sum"))
    assert float(out["class_loss"]) == pytest.approx(float(focal_sum), rel=1e-6)  # over max(1, 0)

    y_pred["deltas"][:, ::7] = 0.0  # zero-size predictions, as a ReLU gives
    variables = {k: tf.Variable(v) for k, v in y_pred.items()}
    with tf.GradientTape() as tape:
        loss = fcos_loss(y_true, variables)["loss"]
    grads = tape.gradient(loss, variables)
    assert all(np.isfinite(g.numpy()).all() for g in grads.values())
