"""encode_fcos_targets and the FCOS locations: the EECS 498 write-up (fixture 8), by hand."""

import math

import numpy as np
import pytest
import tensorflow as tf
from reference_data import load_npz

from centernet_keras.locations import (
    fcos_level_shapes,
    fcos_location_strides,
    fcos_size_ranges,
)
from centernet_keras.targets import encode_fcos_targets, fcos_locations

REF = load_npz("fcos_targets.npz")
LEVELS = ("p3", "p4", "p5")
STRIDES = (8, 16, 32)


def _np(out: dict) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in out.items()}


@pytest.fixture(scope="module")
def ref_out() -> dict[str, np.ndarray]:
    gt = REF["gt_boxes"]
    return _np(encode_fcos_targets(gt[:, :4], gt[:, 4].astype(np.int32), (224, 224)))


def _level_slices() -> dict[str, slice]:
    start, slices = 0, {}
    for level in LEVELS:
        n = len(REF[f"{level}__locations"])
        slices[level] = slice(start, start + n)
        start += n
    return slices


def test_fixture_setup() -> None:
    np.testing.assert_array_equal(REF["image_size_hw"], [224, 224])
    np.testing.assert_array_equal(REF["strides"], STRIDES)


def test_locations_match_reference() -> None:
    locations = fcos_locations((224, 224), STRIDES)
    want = np.concatenate([REF[f"{level}__locations"] for level in LEVELS])
    assert locations.dtype == np.float32
    np.testing.assert_array_equal(locations, want)
    assert fcos_level_shapes((224, 224)) == [(28, 28), (14, 14), (7, 7)]
    np.testing.assert_array_equal(
        fcos_location_strides((224, 224)), np.repeat([8.0, 16.0, 32.0], [784, 196, 49])
    )


def test_size_ranges() -> None:
    assert fcos_size_ranges(STRIDES) == [(0.0, 64.0), (64.0, 128.0), (128.0, math.inf)]


@pytest.mark.parametrize("level", LEVELS)
def test_targets_match_reference(ref_out: dict[str, np.ndarray], level: str) -> None:
    sl = _level_slices()[level]
    matched = REF[f"{level}__matched_gt"]
    fg = REF[f"{level}__fg_mask"]
    np.testing.assert_array_equal(ref_out["classes"][sl] >= 0, fg)
    np.testing.assert_array_equal(ref_out["classes"][sl], matched[:, 4].astype(np.int32))
    np.testing.assert_array_equal(ref_out["boxes"][sl], matched[:, :4])
    np.testing.assert_allclose(ref_out["deltas"][sl], REF[f"{level}__deltas"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(
        ref_out["centerness"][sl], REF[f"{level}__centerness_paper_bg_neg1"], rtol=0, atol=1e-6
    )


def test_output_dtypes_and_foreground_counts(ref_out: dict[str, np.ndarray]) -> None:
    assert ref_out["classes"].dtype == np.int32
    assert {ref_out[k].dtype for k in ("boxes", "deltas", "centerness")} == {np.dtype("float32")}
    counts = [int((ref_out["classes"][sl] >= 0).sum()) for sl in _level_slices().values()]
    assert counts == [50, 99, 48]
    centre_p5 = _level_slices()["p5"].start + 3 * 7 + 3
    assert ref_out["classes"][centre_p5] == -1  # the write-up's documented background


def numpy_oracle(boxes, classes, image_hw, strides, radius=None) -> dict[str, np.ndarray]:
    """Location by location, box by box: the matching rules written out as loops."""
    out = {"classes": [], "boxes": [], "deltas": [], "centerness": []}
    n_levels = len(strides)
    for i, s in enumerate(strides):
        h, w = math.ceil(image_hw[0] / s), math.ceil(image_hw[1] / s)
        lo = 0.0 if i == 0 else 4.0 * s
        hi = math.inf if i == n_levels - 1 else 8.0 * s
        for row in range(h):
            for col in range(w):
                x, y = s * (col + 0.5), s * (row + 0.5)
                best = None
                for k, (box, cls) in enumerate(zip(boxes, classes, strict=True)):
                    if cls < 0 or np.all(box == -1):
                        continue
                    ltrb = np.array([x - box[0], y - box[1], box[2] - x, box[3] - y])
                    if not (ltrb.min() > 0 and lo < ltrb.max() < hi):
                        continue
                    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
                    if radius is not None and max(abs(x - cx), abs(y - cy)) >= radius * s:
                        continue
                    area = (box[2] - box[0]) * (box[3] - box[1])
                    if best is None or area < best[0]:
                        best = (area, k, ltrb)
                if best is None:
                    out["classes"].append(-1)
                    out["boxes"].append([-1.0] * 4)
                    out["deltas"].append([-1.0] * 4)
                    out["centerness"].append(-1.0)
                    continue
                _, k, ltrb = best
                left, top, right, bottom = ltrb
                out["classes"].append(classes[k])
                out["boxes"].append(boxes[k])
                out["deltas"].append(ltrb / s)
                out["centerness"].append(
                    math.sqrt(
                        min(left, right) / max(left, right) * min(top, bottom) / max(top, bottom)
                    )
                )
    return {k: np.asarray(v, np.int32 if k == "classes" else np.float32) for k, v in out.items()}


def random_boxes(rng: np.random.Generator, n: int, hw: tuple[int, int]) -> np.ndarray:
    """Boxes of 4–150 px, some reaching past the image border."""
    size = rng.uniform(4, 150, size=(n, 2))
    centre = rng.uniform(0, 1, size=(n, 2)) * np.array([hw[1], hw[0]])
    return np.concatenate([centre - size / 2, centre + size / 2], axis=1).astype(np.float32)


@pytest.mark.parametrize("radius", [None, 1.5])
def test_non_square_matches_loop_oracle(rng: np.random.Generator, radius) -> None:
    hw = (96, 160)
    boxes = random_boxes(rng, 12, hw)
    classes = rng.integers(0, 5, size=12).astype(np.int32)
    classes[3] = -1  # ignored row
    boxes[5] = -1.0  # padding row
    out = _np(encode_fcos_targets(boxes, classes, hw, center_sampling_radius=radius))
    want = numpy_oracle(boxes, classes, hw, STRIDES, radius)
    assert out["classes"].shape == (12 * 20 + 6 * 10 + 3 * 5,)
    np.testing.assert_array_equal(out["classes"], want["classes"])
    np.testing.assert_array_equal(out["boxes"], want["boxes"])
    np.testing.assert_allclose(out["deltas"], want["deltas"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(out["centerness"], want["centerness"], rtol=0, atol=1e-6)
    assert (out["classes"] >= 0).sum() > 20  # the case is not trivially empty


def test_center_sampling_by_hand() -> None:
    # A 48 px box at the corner of a 64² image: its max(l,t,r,b) < 64 → P3 only. P3 locations
    # x, y ∈ {4, 12, …, 44} lie inside it (36). With radius 1.5 (12 px at stride 8) only
    # |x − 24| < 12 and |y − 24| < 12 remain: x, y ∈ {20, 28} → 4 locations.
    boxes = np.array([[0, 0, 48, 48]], np.float32)
    classes = np.array([2], np.int32)
    plain = _np(encode_fcos_targets(boxes, classes, (64, 64)))
    sampled = _np(encode_fcos_targets(boxes, classes, (64, 64), center_sampling_radius=1.5))
    locations = fcos_locations((64, 64))
    assert (plain["classes"] == 2).sum() == 36 and (plain["classes"][64:] == -1).all()
    fg = sampled["classes"] == 2
    np.testing.assert_array_equal(
        locations[fg], [[20.0, 20.0], [28.0, 20.0], [20.0, 28.0], [28.0, 28.0]]
    )
    np.testing.assert_allclose(sampled["deltas"][fg][0], np.array([20, 20, 28, 28]) / 8.0)


def test_smallest_area_then_first_row_wins() -> None:
    boxes = np.array(
        [[0, 0, 40, 40], [8, 8, 24, 24], [8, 8, 24, 24], [0, 0, 40, 40]], np.float32
    )  # a big box, two identical small boxes inside it, the big one again
    out = _np(encode_fcos_targets(boxes, np.array([0, 1, 2, 3], np.int32), (64, 64)))
    p3 = fcos_locations((64, 64))[:64]  # all of both boxes' max(l, t, r, b) < 64
    inside_small = np.all((p3 > 8) & (p3 < 24), axis=1)
    inside_big = np.all(p3 < 40, axis=1) & ~inside_small
    assert inside_small.sum() == 4 and inside_big.sum() == 21
    np.testing.assert_array_equal(out["classes"][:64][inside_small], 1)
    np.testing.assert_array_equal(out["classes"][:64][inside_big], 0)
    assert (out["classes"][64:] == -1).all()


def test_no_boxes_and_padding_only_give_background() -> None:
    for boxes, classes in (
        (np.zeros((0, 4), np.float32), np.zeros((0,), np.int32)),
        (np.full((3, 4), -1.0, np.float32), np.full((3,), -1, np.int32)),
        (np.array([[10, 10, 50, 50]], np.float32), np.array([-1], np.int32)),
    ):
        out = _np(encode_fcos_targets(boxes, classes, (64, 96)))
        assert out["classes"].shape == (8 * 12 + 4 * 6 + 2 * 3,)
        for key in out:
            np.testing.assert_array_equal(out[key], -1, err_msg=key)


def test_runs_in_tf_data_with_dynamic_box_count(rng: np.random.Generator) -> None:
    hw = (96, 160)
    samples = [random_boxes(rng, n, hw) for n in (0, 3, 7)]
    labels = [np.arange(len(b), dtype=np.int32) % 4 for b in samples]
    ds = tf.data.Dataset.from_generator(
        lambda: zip(samples, labels, strict=True),
        output_signature=(
            tf.TensorSpec([None, 4], tf.float32),
            tf.TensorSpec([None], tf.int32),
        ),
    ).map(lambda b, c: encode_fcos_targets(b, c, hw))
    for got, boxes, classes in zip(ds.as_numpy_iterator(), samples, labels, strict=True):
        want = _np(encode_fcos_targets(boxes, classes, hw))
        for key in want:
            np.testing.assert_array_equal(got[key], want[key], err_msg=key)
