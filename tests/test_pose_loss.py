"""pose_loss against the reference CenterNet MultiPoseLoss (fixture 11, targets from fixture 10)."""

import keras
import numpy as np
import pytest
from reference_data import load_npz

from centernet_keras.losses import pose_loss

OURS_TO_REF = {
    "heatmap_loss": "hm_loss",
    "size_loss": "wh_loss",
    "offset_loss": "off_loss",
    "keypoint_loss": "hp_loss",
    "keypoint_heatmap_loss": "hm_hp_loss",
    "keypoint_offset_loss": "hp_offset_loss",
    "loss": "total",
}


@pytest.fixture(scope="module")
def ref() -> dict[str, np.ndarray]:
    return load_npz("pose_loss.npz")


@pytest.fixture(scope="module")
def inputs(ref: dict[str, np.ndarray]) -> tuple[dict, dict]:
    t = load_npz("multi_pose_targets.npz")
    y_true = {
        "heatmap": t["hm"],
        "size": t["wh"],
        "offset": t["reg"],
        "indices": t["ind"],
        "mask": t["reg_mask"].astype("float32"),
        "keypoints": t["hps"],
        "keypoint_mask": t["hps_mask"].astype("float32"),
        "keypoint_heatmap": t["hm_hp"],
        "keypoint_offset": t["hp_offset"],
        "keypoint_indices": t["hp_ind"],
        "keypoint_offset_mask": t["hp_mask"].astype("float32"),
    }
    y_pred = {
        "heatmap": ref["pred_hm"],
        "size": ref["pred_wh"],
        "offset": ref["pred_reg"],
        "keypoints": ref["pred_hps"],
        "keypoint_heatmap": ref["pred_hm_hp"],
        "keypoint_offset": ref["pred_hp_offset"],
    }
    return y_true, y_pred


def _floats(out: dict) -> dict[str, float]:
    return {k: float(keras.ops.convert_to_numpy(v)) for k, v in out.items()}


def test_every_term_matches_reference(ref: dict[str, np.ndarray], inputs) -> None:
    out = _floats(pose_loss(*inputs))
    assert set(out) == set(OURS_TO_REF)
    for ours, theirs in OURS_TO_REF.items():
        np.testing.assert_allclose(out[ours], ref[f"{theirs}_f64"], rtol=1e-5, atol=0, err_msg=ours)
        np.testing.assert_allclose(out[ours], ref[f"{theirs}_f32"], rtol=2e-5, atol=0, err_msg=ours)


def test_masked_out_joint_does_not_change_the_loss(inputs) -> None:
    y_true, y_pred = inputs
    base = _floats(pose_loss(y_true, y_pred))
    # Image 0, slot 1: joint 1 is unlabelled (coordinates 2, 3 of its keypoint row are masked).
    assert y_true["mask"][0, 1] == 1 and not y_true["keypoint_mask"][0, 1, 2:4].any()
    assert y_true["keypoint_offset_mask"][0, 17 + 1] == 0
    assert 5 not in y_true["keypoint_indices"][0][y_true["keypoint_offset_mask"][0] > 0]
    y, x = divmod(int(y_true["indices"][0, 1]), 40)
    true2 = {k: v.copy() for k, v in y_true.items()}
    pred2 = {k: v.copy() for k, v in y_pred.items()}
    true2["keypoints"][0, 1, 2:4] = [55.0, -70.0]
    pred2["keypoints"][0, y, x, 2:4] = [-9.0, 13.0]
    true2["keypoint_offset"][0, 17 + 1] = [0.9, 0.1]
    true2["keypoint_indices"][0, 17 + 1] = 5  # where the prediction below is changed
    pred2["keypoint_offset"][0, 0, 5] = [4.0, -4.0]
    masked = _floats(pose_loss(true2, pred2))
    assert masked == pytest.approx(base, rel=1e-7)
    # The same changes with the joint's masks switched on do change both joint terms.
    true2["keypoint_mask"][0, 1, 2:4] = 1.0
    true2["keypoint_offset_mask"][0, 17 + 1] = 1.0
    unmasked = _floats(pose_loss(true2, pred2))
    for key in ("keypoint_loss", "keypoint_offset_loss", "loss"):
        assert unmasked[key] > base[key] * 1.01, key


def test_weights_as_dict_or_sequence(inputs) -> None:
    terms = _floats(pose_loss(*inputs))
    weights = {
        "heatmap": 2.0,
        "size": 0.5,
        "offset": 3.0,
        "keypoint": 0.25,
        "keypoint_heatmap": 4.0,
    }
    expected = (
        2.0 * terms["heatmap_loss"]
        + 0.5 * terms["size_loss"]
        + 3.0 * (terms["offset_loss"] + terms["keypoint_offset_loss"])
        + 0.25 * terms["keypoint_loss"]
        + 4.0 * terms["keypoint_heatmap_loss"]
    )
    by_dict = _floats(pose_loss(*inputs, weights=weights))
    by_seq = _floats(pose_loss(*inputs, weights=list(weights.values())))
    assert by_dict["loss"] == pytest.approx(expected, rel=1e-6)
    assert by_seq["loss"] == pytest.approx(expected, rel=1e-6)
    partial = _floats(pose_loss(*inputs, weights={"keypoint_heatmap": 0.0}))
    assert partial["loss"] == pytest.approx(
        terms["loss"] - terms["keypoint_heatmap_loss"], rel=1e-6
    )
    with pytest.raises(ValueError, match="unknown"):
        pose_loss(*inputs, weights={"hp_offset": 1.0})
    with pytest.raises(ValueError, match="need 5 values"):
        pose_loss(*inputs, weights=(1.0, 0.1, 1.0))
