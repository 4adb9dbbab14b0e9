"""Tests for centernet_keras.losses against the reference CenterNet losses (fixture 4)."""

import keras
import numpy as np
import pytest
from reference_data import load_npz

from centernet_keras.losses import centernet_loss, focal_loss, gather_feature, reg_l1_loss

COMPONENTS = {
    "heatmap_loss": "hm_loss",
    "size_loss": "wh_loss",
    "offset_loss": "off_loss",
    "loss": "total",
}


@pytest.fixture(scope="module")
def ref() -> dict[str, np.ndarray]:
    return load_npz("centernet_loss.npz")


def _inputs(ref: dict[str, np.ndarray], case: str) -> tuple[dict, dict]:
    prefix = "zero_pos__" if case == "zero_pos" else ""
    y_true = {
        "heatmap": ref[f"{prefix}gt_hm"],
        "size": ref["wh_target"],
        "offset": ref["reg_target"],
        "indices": ref["ind"],
        "mask": ref[f"{prefix}reg_mask"].astype("float32"),
    }
    y_pred = {"heatmap": ref["logits"], "size": ref["wh_pred"], "offset": ref["reg_pred"]}
    return y_true, y_pred


@pytest.mark.parametrize("case", ["main", "zero_pos"])
def test_matches_reference(ref: dict[str, np.ndarray], case: str) -> None:
    y_true, y_pred = _inputs(ref, case)
    out = {
        k: float(keras.ops.convert_to_numpy(v)) for k, v in centernet_loss(y_true, y_pred).items()
    }
    for ours, theirs in COMPONENTS.items():
        np.testing.assert_allclose(out[ours], ref[f"{case}__{theirs}_f64"], rtol=1e-5, atol=0)
        np.testing.assert_allclose(out[ours], ref[f"{case}__{theirs}_f32"], rtol=2e-5, atol=0)


def test_zero_pos_is_unnormalised_negative_term(ref: dict[str, np.ndarray]) -> None:
    y_true, y_pred = _inputs(ref, "zero_pos")
    loss = float(focal_loss(y_true["heatmap"], y_pred["heatmap"]))
    assert loss == pytest.approx(695.7409261261668, rel=1e-5)


def test_weights_combine_components(ref: dict[str, np.ndarray]) -> None:
    y_true, y_pred = _inputs(ref, "main")
    out = {k: float(v) for k, v in centernet_loss(y_true, y_pred, weights=(2.0, 0.5, 3.0)).items()}
    expected = 2.0 * out["heatmap_loss"] + 0.5 * out["size_loss"] + 3.0 * out["offset_loss"]
    assert out["loss"] == pytest.approx(expected, rel=1e-6)


def test_gather_feature_flat_index(rng: np.random.Generator) -> None:
    fmap = rng.normal(size=(2, 5, 7, 3)).astype("float32")
    ys, xs = np.array([[0, 4, 2], [3, 1, 4]]), np.array([[0, 6, 3], [5, 2, 0]])
    got = keras.ops.convert_to_numpy(gather_feature(fmap, ys * 7 + xs))
    want = np.stack([fmap[b, ys[b], xs[b]] for b in range(2)])
    np.testing.assert_array_equal(got, want)


def test_reg_l1_hand_computed() -> None:
    pred = np.zeros((1, 2, 2, 2), "float32")
    pred[0, 1, 0] = [3.0, 5.0]  # index 1*2 + 0 = 2
    target = np.array([[[1.0, 1.0], [9.0, 9.0]]], "float32")
    mask = np.array([[1.0, 0.0]], "float32")
    loss = float(reg_l1_loss(pred, np.array([[2, 0]]), mask, target))
    assert loss == pytest.approx((2.0 + 4.0) / (2.0 + 1e-4), rel=1e-6)


def test_saturated_logits_finite_with_finite_grad(ref: dict[str, np.ndarray]) -> None:
    import tensorflow as tf

    gt = ref["gt_hm"]
    logits = np.where(np.random.default_rng(1).random(gt.shape) < 0.5, 100.0, -100.0)
    x = tf.Variable(logits.astype("float32"))
    with tf.GradientTape() as tape:
        loss = focal_loss(gt, x)
    grad = tape.gradient(loss, x)
    assert np.isfinite(float(loss))
    assert np.all(np.isfinite(grad.numpy()))
    assert float(loss) > 0.0


def test_float16_inputs_computed_in_float32(ref: dict[str, np.ndarray]) -> None:
    y_true, y_pred = _inputs(ref, "main")
    y_pred16 = {k: v.astype("float16") for k, v in y_pred.items()}
    out = centernet_loss(y_true, y_pred16)
    assert keras.backend.standardize_dtype(out["loss"].dtype) == "float32"
    assert float(out["loss"]) == pytest.approx(float(ref["main__total_f64"]), rel=1e-2)


def test_batch_permutation_invariant(ref: dict[str, np.ndarray]) -> None:
    y_true, y_pred = _inputs(ref, "main")
    perm = np.array([2, 0, 1])
    a = centernet_loss(y_true, y_pred)
    b = centernet_loss(
        {k: v[perm] for k, v in y_true.items()}, {k: v[perm] for k, v in y_pred.items()}
    )
    for key in COMPONENTS:
        assert float(a[key]) == pytest.approx(float(b[key]), rel=1e-6)
