"""Tests for centernet_keras.keypoints.KeypointSpec."""

import json

import numpy as np
import pytest
from reference_data import load_json

from centernet_keras.keypoints import COCO_SIGMAS, DEFAULT_SIGMA, KeypointSpec


def test_coco17_matches_the_coco_category() -> None:
    ref = load_json("oks_eval.json")  # a COCO person category and pycocotools' sigmas
    spec = KeypointSpec.coco17()
    category = ref["categories"][0]
    assert spec.num_joints == 17 and list(spec.names) == category["keypoints"]
    assert [[i + 1, j + 1] for i, j in spec.skeleton] == category["skeleton"]
    assert list(spec.sigmas) == ref["kpt_oks_sigmas"]
    assert spec.flip_pairs == tuple((i, i + 1) for i in range(1, 17, 2))
    assert KeypointSpec.from_coco_category(category) == spec


def test_custom_five_joint_category() -> None:
    category = {
        "keypoints": ["head", "Left_Paw", "right_paw", "left_eye", "tail"],
        "skeleton": [[1, 2], [1, 3], [1, 5]],
    }
    spec = KeypointSpec.from_coco_category(category)
    assert spec.names == ("head", "Left_Paw", "right_paw", "left_eye", "tail")
    assert spec.skeleton == ((0, 1), (0, 2), (0, 4))
    assert spec.flip_pairs == ((1, 2),)  # left_eye has no right_eye: not flipped
    assert spec.sigmas == (
        DEFAULT_SIGMA,
        DEFAULT_SIGMA,
        DEFAULT_SIGMA,
        COCO_SIGMAS[1],
        DEFAULT_SIGMA,
    )
    np.testing.assert_array_equal(spec.flip_permutation(), [0, 2, 1, 3, 4])
    given = KeypointSpec.from_coco_category(
        {"keypoints": category["keypoints"]}, sigmas=[0.1] * 5, flip_pairs=[[3, 4]]
    )
    assert given.sigmas == (0.1,) * 5 and given.flip_pairs == ((3, 4),) and given.skeleton == ()


def test_flip_permutation_is_an_involution() -> None:
    perm = KeypointSpec.coco17().flip_permutation()
    assert perm.dtype == np.int64
    np.testing.assert_array_equal(perm[:5], [0, 2, 1, 4, 3])
    np.testing.assert_array_equal(perm[perm], np.arange(17))
    assert sorted(perm) == list(range(17))


def test_config_round_trip_through_json() -> None:
    spec = KeypointSpec.from_coco_category(
        {"keypoints": ["a", "left_b", "right_b"], "skeleton": [[1, 2]]}, sigmas=[0.1, 0.2, 0.3]
    )
    config = json.loads(json.dumps(spec.get_config()))
    assert config["skeleton"] == [[0, 1]] and config["flip_pairs"] == [[1, 2]]
    again = KeypointSpec.from_config(config)
    assert again == spec and hash(again) == hash(spec)
    assert KeypointSpec.from_config(KeypointSpec.coco17().get_config()) == KeypointSpec.coco17()


def test_is_frozen() -> None:
    spec = KeypointSpec.coco17()
    with pytest.raises(AttributeError):
        spec.names = ("x",)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"flip_pairs": [(1, 3)]}, r"flip_pairs pair \(1, 3\) is out of range for 3 joints"),
        ({"skeleton": [(0, -1)]}, r"skeleton pair \(0, -1\) is out of range"),
        ({"sigmas": [0.1, 0.1]}, "got 2 sigmas for 3 joints"),
        ({"sigmas": [0.1, 0.0, 0.1]}, "sigmas must be > 0"),
        ({"flip_pairs": [(0, 1), (1, 2)]}, "at most one pair"),
        ({"flip_pairs": [(1, 1)]}, "at most one pair"),
        ({"names": ["a", "a", "b"]}, "unique"),
        ({"flip_pairs": [(0, 1, 2)]}, "must be a pair"),
    ],
)
def test_validation_errors(kwargs: dict, message: str) -> None:
    config = {"names": ["a", "b", "c"], "flip_pairs": [], "skeleton": [], "sigmas": [0.1] * 3}
    with pytest.raises(ValueError, match=message):
        KeypointSpec(**{**config, **kwargs})


def test_category_errors() -> None:
    with pytest.raises(ValueError, match="1-based"):
        KeypointSpec.from_coco_category({"keypoints": ["a", "b"], "skeleton": [[0, 1]]})
    with pytest.raises(ValueError, match="no 'keypoints'"):
        KeypointSpec.from_coco_category({"name": "person"})
    with pytest.raises(ValueError, match="got 1 sigmas for 2 joints"):
        KeypointSpec.from_coco_category({"keypoints": ["a", "b"]}, sigmas=[0.1])
