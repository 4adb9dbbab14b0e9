"""Tests for centernet_keras.keypoints.KeypointSpec."""

import json

import numpy as np
import pytest
from reference_data import load_json

from centernet_keras.keypoints import COCO_SIGMAS, DEFAULT_SIGMA, KeypointSpec, parse_flip_pairs


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


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("left_eye", "right_eye"),
        ("Left_Eye", "RIGHT_EYE"),
        ("l_shoulder", "r_shoulder"),
        ("L_Shoulder", "R_Shoulder"),
        ("left eye", "right eye"),
        ("left-eye", "right-eye"),
        ("LeftEye", "RightEye"),
        ("leftEye", "rightEye"),
        ("LEye", "REye"),
        ("eye_left", "eye_right"),
        ("eye_l", "eye_r"),
        ("EyeLeft", "EyeRight"),
        ("eye.L", "eye.R"),
        ("left_big_toe", "BigToeRight"),
    ],
)
def test_flip_pairs_from_each_spelling_of_left_and_right(left: str, right: str) -> None:
    """Prefix or suffix, left/l, separators space - _ . or CamelCase: paired, wherever listed;
    the joints of no side and a side without its twin stay alone."""
    names = ["nose", right, "l_hand", left, "tail"]
    spec = KeypointSpec.from_coco_category({"keypoints": names})
    assert spec.flip_pairs == ((1, 3),)
    np.testing.assert_array_equal(spec.flip_permutation(), [0, 3, 2, 1, 4])
    assert spec.unpaired_sided_joints() == ["l_hand"]


def test_no_pairs_from_names_that_only_look_alike() -> None:
    names = ["lefteye", "righteye", "left", "right", "upper_lip", "lower_lip", "l_a", "left_a"]
    names += ["r_a"]  # two left twins of "a": ambiguous, neither is paired
    spec = KeypointSpec.from_coco_category({"keypoints": names})
    assert spec.flip_pairs == ()
    assert spec.unpaired_sided_joints() == [
        "lefteye", "righteye", "left", "right", "l_a", "left_a", "r_a"
    ]  # fmt: skip


def test_flip_pairs_given_in_the_category_override_the_names() -> None:
    """``flip_pairs`` of a COCO category: 1-based like ``skeleton``, or names; ``[]`` = none."""
    names = ["head", "left_paw", "right_paw", "paw_a", "paw_b"]
    by_index = KeypointSpec.from_coco_category({"keypoints": names, "flip_pairs": [[5, 4]]})
    assert by_index.flip_pairs == ((3, 4),)
    assert by_index.unpaired_sided_joints() == ["left_paw", "right_paw"]
    by_name = {"keypoints": names, "flip_pairs": [["paw_a", "paw_b"], [2, "right_paw"]]}
    assert KeypointSpec.from_coco_category(by_name).flip_pairs == ((1, 2), (3, 4))
    none = KeypointSpec.from_coco_category({"keypoints": names, "flip_pairs": []})
    assert none.flip_pairs == ()
    argument = KeypointSpec.from_coco_category(by_name, flip_pairs=[(0, 3)])
    assert argument.flip_pairs == ((0, 3),)


@pytest.mark.parametrize(
    ("flip_pairs", "message"),
    [
        ([[0, 1]], r"'flip_pairs': 0 is neither a joint index 1\.\.3 \(1-based\) nor a joint name"),
        ([[1, 4]], r"4 is neither a joint index 1\.\.3"),
        ([["a", "x"]], r"'x' is neither"),
        ([[1, 2, 3]], "each entry must be a pair of joints"),
        ([[1, 2], [2, 3]], "joint 'b' is in two pairs"),
        ([[3, 3]], "joint 'c' is paired with itself"),
        ([[True, 2]], "True is neither"),
        ("1-2", "must be a list of joint pairs"),
    ],
)
def test_category_flip_pair_errors(flip_pairs, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        KeypointSpec.from_coco_category({"keypoints": ["a", "b", "c"], "flip_pairs": flip_pairs})


def test_flip_pairs_flag_values() -> None:
    names = ["nose", "l_eye", "r_eye", "l_ear", "r_ear"]
    assert parse_flip_pairs("2:3,4:5", names) == ((1, 2), (3, 4))
    assert parse_flip_pairs("2-3, 4-5", names) == ((1, 2), (3, 4))
    assert parse_flip_pairs("l_eye:r_eye,5:l_ear", names) == ((1, 2), (4, 3))
    assert parse_flip_pairs("none", names) == ()
    with pytest.raises(ValueError, match=r"--flip-pairs: '2' is not a pair 'A:B'"):
        parse_flip_pairs("2", names)
    with pytest.raises(ValueError, match=r"--flip-pairs 'eye:r_eye': 'eye' is neither"):
        parse_flip_pairs("eye:r_eye", names)


def test_reordered_and_difference() -> None:
    spec = KeypointSpec.from_coco_category(
        {"keypoints": ["a", "left_b", "right_b"], "skeleton": [[1, 2]]}, sigmas=[0.1, 0.2, 0.3]
    )
    moved = spec.reordered(["right_b", "a", "left_b"])
    assert moved.flip_pairs == ((0, 2),) and moved.skeleton == ((1, 2),)
    assert moved.sigmas == (0.3, 0.1, 0.2) and moved.reordered(spec.names) == spec
    with pytest.raises(ValueError, match="are not"):
        spec.reordered(["a", "left_b", "c"])
    assert spec.difference(spec) == ""
    assert spec.difference(spec.with_flip_pairs([])) == "flip pairs [['left_b', 'right_b']] vs []"
    assert "joint names" in spec.difference(moved)
