"""The flip test on perfect maps (``evaluation.oracle``): the ground truth's own targets, as a
perfect network would output them for the image and for its mirror image, merged by each
detector's ``merge_flip`` and decoded. A flip test may not lower such maps' AP (issue 21: the
reference's joint mirror moved regressed joints one output cell, and boxes clipped to
``W_out − 1`` split in two at the right edge). Every image has objects touching both edges."""

import numpy as np
import pytest
from detector_cases import tiny_centernet, tiny_fcos, tiny_pose

from centernet_keras.evaluation.oracle import flip_oracle_maps, mirror_ground_truth, oracle_ap

SIZE = 128


def _samples(rng, pose: bool, count: int = 8) -> list[dict]:
    """``count`` images of 3 objects: one touching the left edge, one the right, one inside;
    float coordinates (no centre exactly on a cell border); people with 17 labelled joints."""
    samples = []
    for _ in range(count):
        w = rng.uniform(16, 56, 3)
        h = rng.uniform(16, 80, 3)
        x1 = np.array([0.0, SIZE - w[1], rng.uniform(30, SIZE - 30 - w[2])])
        y1 = rng.uniform(0, SIZE - h)
        boxes = np.stack([x1, y1, x1 + w, y1 + h], 1).astype(np.float32)
        boxes[1, 2] = SIZE  # exactly touching
        sample = {"boxes": boxes, "classes": rng.integers(0, 1 if pose else 3, 3)}
        if pose:
            u = rng.uniform(0.05, 0.95, (3, 17, 2))
            joints = boxes[:, None, :2] + u * (boxes[:, None, 2:] - boxes[:, None, :2])
            sample["keypoints"] = np.concatenate([joints, np.full((3, 17, 1), 2.0)], -1)
        samples.append(sample)
    return samples


@pytest.fixture(scope="module")
def models() -> dict:
    shape = (SIZE, SIZE, 3)
    return {
        "centernet": tiny_centernet(shape, score_threshold=0.01),
        "pose": tiny_pose(shape, score_threshold=0.01),
        "fcos": tiny_fcos(shape, score_threshold=0.01),
    }


@pytest.mark.parametrize("name", ["centernet", "pose", "fcos"])
def test_flip_test_keeps_the_ap_of_perfect_maps(models, name) -> None:
    model = models[name]
    samples = _samples(np.random.default_rng(7), pose=name == "pose")
    plain = oracle_ap(model, samples, (SIZE, SIZE))
    flipped = oracle_ap(model, samples, (SIZE, SIZE), flip_test=True)
    assert plain["box_ap"] > 0.9, plain  # the oracle itself decodes what it encodes
    for key, value in plain.items():
        assert abs(flipped[key] - value) <= 0.005, (key, plain, flipped)


def test_pose_flip_merge_puts_regressed_joints_on_the_truth(models) -> None:
    """Where the mirror image's maps are the image's own, mirrored, the merged joint
    regression equals the unmerged one at every person's centre (the reference's −dx' is one
    cell off)."""
    model = models["pose"]
    sample = _samples(np.random.default_rng(3), pose=True, count=1)[0]
    maps, mirrored = flip_oracle_maps(
        model, sample["boxes"], sample["classes"], (SIZE, SIZE), sample["keypoints"]
    )
    merged = model.merge_flip(maps, mirrored)
    centres = maps["heatmap"][0, ..., 0] == 1.0
    assert centres.sum() == 3
    np.testing.assert_allclose(
        np.asarray(merged["keypoints"])[0][centres], maps["keypoints"][0][centres], atol=1e-5
    )


def test_mirror_ground_truth_swaps_sides_and_joints() -> None:
    boxes = np.array([[0.0, 5.0, 10.0, 20.0]], np.float32)
    joints = np.array([[[2.0, 6.0, 2.0], [8.0, 6.0, 1.0], [0.0, 0.0, 0.0]]], np.float32)
    mirrored, mirrored_joints = mirror_ground_truth(boxes, 100, joints, [1, 0, 2])
    np.testing.assert_array_equal(mirrored, [[90.0, 5.0, 100.0, 20.0]])
    np.testing.assert_array_equal(
        mirrored_joints, [[[92.0, 6.0, 1.0], [98.0, 6.0, 2.0], [0.0, 0.0, 0.0]]]
    )
