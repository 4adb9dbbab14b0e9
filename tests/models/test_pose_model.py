"""CenterNetPose beyond the detector contract (tests/test_detector_contract.py runs fit, export,
flip merge and torch parity for it): heads, joints in predict, a custom joint set saved and
loaded, errors."""

import keras
import numpy as np
import pytest

from centernet_keras.keypoints import KeypointSpec
from centernet_keras.models.pose import CenterNetPose, build_centernet_pose
from centernet_keras.targets import encode_pose_targets

SHAPE = (64, 96, 3)
TINY = {"backbone": "resnet18", "neck_filters": (32, 32, 32), "head_channels": 16}


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return build_centernet_pose(17, input_shape=SHAPE, **TINY)


def _batch(rng, joints=17, batch=2):
    images = rng.uniform(0, 255, (batch, *SHAPE)).astype("float32")
    targets = []
    for _ in range(batch):
        xy = rng.uniform([4, 4], [60, 36], (2, 2))
        boxes = np.concatenate([xy, xy + 24], axis=1).astype("float32")
        kps = np.concatenate(
            [xy[:, None] + rng.uniform(0, 24, (2, joints, 2)), np.full((2, joints, 1), 2.0)], -1
        ).astype("float32")
        targets.append(encode_pose_targets(boxes, kps, SHAPE[:2], max_objects=4))
    return images, {k: np.stack([np.asarray(t[k]) for t in targets]) for k in targets[0]}


def test_heads_and_named_loss_terms(model, rng):
    images, targets = _batch(rng)
    out = model(images, training=False)
    shapes = {k: tuple(v.shape) for k, v in out.items()}
    assert shapes == {
        "heatmap": (2, 16, 24, 1), "size": (2, 16, 24, 2), "offset": (2, 16, 24, 2),
        "keypoints": (2, 16, 24, 34), "keypoint_heatmap": (2, 16, 24, 17),
        "keypoint_offset": (2, 16, 24, 2),
    }  # fmt: skip
    np.testing.assert_allclose(model.get_layer("keypoint_heatmap").bias.numpy(), -2.19)
    losses = model.detector_losses(targets, out)
    assert set(losses) == {"loss", *model.loss_terms}
    assert all(np.isfinite(float(v)) for v in losses.values())


def test_predict_people_with_joints(model, rng):
    out = model.predict(rng.uniform(0, 255, (2, *SHAPE)).astype("float32"), verbose=0)
    k = model.decoder.max_detections
    assert out["keypoints"].shape == (2, k, 17, 2) and out["keypoints"].dtype == np.float32
    assert out["keypoint_scores"].shape == (2, k, 17)
    assert out["boxes"].shape == (2, k, 4) and out["num_detections"].dtype == np.int32


def test_keras_round_trip_keeps_spec_and_decoder(tmp_path):
    names = ("head", "left_hand", "right_hand", "left_foot", "right_foot")
    spec = KeypointSpec.from_coco_category({"keypoints": list(names), "skeleton": [[1, 2]]})
    model = build_centernet_pose(5, input_shape=SHAPE, keypoint_spec=spec, **TINY)
    model.save(tmp_path / "pose.keras")
    again = keras.saving.load_model(tmp_path / "pose.keras", safe_mode=True)
    assert isinstance(again, CenterNetPose) and again.keypoint_spec == spec
    assert again.decoder.get_config() == model.decoder.get_config()
    x = np.random.default_rng(0).uniform(0, 255, (1, *SHAPE)).astype("float32")
    for key, value in model(x, training=False).items():
        np.testing.assert_allclose(np.asarray(again(x, training=False)[key]), value, atol=1e-5)


def test_joint_count_needs_a_spec():
    with pytest.raises(ValueError, match="keypoint_spec"):
        build_centernet_pose(5, input_shape=SHAPE, **TINY)
