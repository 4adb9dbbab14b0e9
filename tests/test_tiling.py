"""Tiled inference (issue 24 point 2): the tile grid, tile detections mapped to the image,
duplicates across tiles merged (boxes by IoU, people by OKS), the Predictor's ``tile`` and the
``--tile`` / ``--tile-overlap`` flags."""

import contextlib
import io
import itertools
import json

import numpy as np
import pytest
from detector_cases import tiny_centernet, tiny_fcos, tiny_pose
from helpers import save_tiny_centernet
from PIL import Image

from centernet_keras.console import main
from centernet_keras.data.synthetic_tiles import render_large_image
from centernet_keras.detections import Detections
from centernet_keras.inference import Predictor
from centernet_keras.keypoints import KeypointSpec
from centernet_keras.preprocess import ImageTransform
from centernet_keras.tiling import Tiler, inner_edge_mask, merge, tile_grid


@pytest.mark.parametrize(
    "hw, tile, overlap",
    [((300, 400), 100, 0.2), ((1536, 2048), 256, 0.25), ((90, 500), 64, 0.0), ((65, 64), 64, 0.5)],
)
def test_grid_covers_the_image_with_the_overlap(hw, tile, overlap):
    windows = tile_grid(hw, tile, overlap)
    h, w = hw
    covered = np.zeros(hw, bool)
    for x1, y1, x2, y2 in windows:
        assert 0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h
        assert (y2 - y1, x2 - x1) == (min(tile, h), min(tile, w))
        covered[y1:y2, x1:x2] = True
    assert covered.all()
    for axis, side in ((0, w), (1, h)):  # x starts, y starts
        starts = sorted(set(windows[:, axis].tolist()))
        assert starts[0] == 0 and starts[-1] == max(side - tile, 0)  # last aligned to the edge
        for a, b in itertools.pairwise(starts):
            assert tile - (b - a) >= round(overlap * tile)  # neighbours overlap by F * SIZE


def test_image_no_larger_than_a_tile_gets_no_tiles():
    assert tile_grid((64, 50), 64, 0.2).shape == (0, 4)


def _fixed_box_engine(batch: np.ndarray) -> dict:
    """A fake engine: in every input the box (10, 20, 30, 40), class 0, score 0.9."""
    b = len(batch)
    return {
        "boxes": np.tile(np.float32([[[10, 20, 30, 40]]]), (b, 1, 1)),
        "scores": np.full((b, 1), 0.9, np.float32),
        "classes": np.zeros((b, 1), np.int32),
        "num_detections": np.ones(b, np.int32),
    }


def test_tile_detections_map_to_the_image_pixels():
    """A 128-px tile fitted to a 64-px input (scale 2): the input box (10, 20, 30, 40) is
    (x1 + 20, y1 + 40, x1 + 60, y1 + 80) in the image. A dynamic-input model: a 100-px tile
    runs at 128 (scale 100 / 128)."""
    shapes = []

    def engine(batch):
        shapes.append(batch.shape)
        return _fixed_box_engine(batch)

    for model_hw, tile, input_side in (((64, 64), 128, 64), ((None, None), 100, 128)):
        tiler = Tiler(ImageTransform(model_hw, True), engine, ["a"], tile, 0.25,
                      batch_size=3, drop_cut=False)  # fmt: skip
        parts, windows, stages = tiler.views(np.zeros((200, 300, 3), np.uint8))
        assert len(parts) == 1 + len(windows) and set(stages) >= {"detect"}
        assert shapes[-1][1:3] == (input_side, input_side) and shapes[-1][0] <= 3
        scale = tile / input_side
        for found, (x1, y1, _, _) in zip(parts[1:], windows, strict=True):
            want = [[x1 + 10 * scale, y1 + 20 * scale, x1 + 30 * scale, y1 + 40 * scale]]
            np.testing.assert_allclose(found.boxes, want, rtol=1e-6)
            assert found.image_size == (200, 300)
    cut = inner_edge_mask([[0, 0, 5, 5], [50, 50, 60, 60]], (0, 0, 60, 60), (200, 300), 1)
    assert cut.tolist() == [False, True]  # the image's border is no inner edge


def _people(joints: list, boxes: list, view: int) -> Detections:
    n = len(boxes)
    return Detections(
        np.float32(boxes), np.linspace(0.9, 0.5, n, dtype=np.float32) - 0.01 * view,
        np.zeros(n, np.int32), ["person"] * n, (400, 400), np.float32(joints),
        np.ones((n, len(joints[0])), np.float32),
    )  # fmt: skip


def test_duplicates_across_views_are_merged():
    boxes = Detections(
        np.float32([[10, 10, 50, 50], [12, 11, 51, 52], [100, 100, 120, 120]]),
        np.float32([0.9, 0.8, 0.7]), np.int32([0, 0, 1]), ["a", "a", "b"], (200, 200),
    )  # fmt: skip
    other = Detections(
        np.float32([[11, 10, 50, 49], [101, 100, 121, 121]]), np.float32([0.95, 0.6]),
        np.int32([0, 0]), ["a", "a"], (200, 200),
    )  # fmt: skip
    merged = merge([boxes, other], (200, 200), 100)
    # The other view's 0.95 'a' box takes the first view's two 'a' boxes (which that view's
    # decoder kept apart); the 'b' box stays, though an 'a' box covers it.
    assert merged.scores.tolist() == pytest.approx([0.95, 0.7, 0.6])
    assert merged.class_names == ["a", "b", "a"]
    assert len(merge([boxes, other], (200, 200), 2)) == 2  # max_detections
    spec = KeypointSpec.coco17()
    person = np.stack([np.linspace(100, 140, 17), np.linspace(100, 200, 17)], 1)
    far = person + 150
    one = _people([person, far], [[95, 95, 145, 205], [245, 245, 295, 355]], 0)
    two = _people([person + 2.0], [[96, 96, 146, 206]], 1)
    people = merge([one, two], (400, 400), 100, spec.sigmas)
    assert len(people) == 2  # the same person from two views is one, the far one stays
    assert people.keypoints.shape == (2, 17, 2) and people.keypoint_scores.shape == (2, 17)
    np.testing.assert_allclose(people.keypoints[1], far)


KINDS = [pytest.param("centernet", marks=pytest.mark.slow), "pose", "fcos"]


@pytest.fixture(scope="module")
def models():
    return {"centernet": tiny_centernet(), "pose": tiny_pose(), "fcos": tiny_fcos()}


@pytest.mark.parametrize("kind", KINDS)
def test_predictor_tiles_a_large_image_and_not_a_small_one(models, kind, rng):
    """A large image: tiles merged, inside the image (pose: people merged by OKS, with their
    joints; FCOS as CenterNet); one no larger than a tile: exactly the un-tiled detections."""
    model = models[kind]
    tiled = Predictor(model, score_threshold=0.0, tile=64, tile_overlap=0.25)
    large = rng.integers(0, 256, (100, 120, 3)).astype(np.uint8)  # 2 x 2 tiles
    found = tiled(large)
    assert 0 < len(found) <= tiled.max_detections and found.image_size == (100, 120)
    assert np.all(found.boxes[:, 2:] <= [120, 100]) and np.all(np.diff(found.scores) <= 0)
    assert (found.keypoints is None) == (kind != "pose")
    assert (tiled.settings()["tile"], tiled.settings()["tile_overlap"]) == (64, 0.25)
    if kind != "centernet":
        return
    stages = set(tiled.benchmark(large, runs=2, warmup=0))
    assert stages == {"preprocess_ms", "detect_ms", "postprocess_ms", "total_ms"}
    plain = Predictor(model, score_threshold=0.0)
    small = rng.integers(0, 256, (60, 64, 3)).astype(np.uint8)
    a, b = plain(small), tiled(small)
    for key in ("boxes", "scores", "class_ids"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
    assert (plain.settings()["tile"], plain.settings()["tile_overlap"]) == (None, None)
    with pytest.raises(ValueError, match=r"tile \(--tile\) must be a side of at least 32"):
        Predictor(model, tile=16)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return save_tiny_centernet(tmp_path_factory.mktemp("ckpt") / "tiny.keras", 16, 8)


def _predict_json(checkpoint, image, out, *flags) -> list:
    argv = ["predict", "--model", str(checkpoint), "--input", str(image), "--output"]
    argv += [str(out / "drawn.png"), "--json", str(out / "found.json"), "--score-threshold"]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main([*argv, "0.05", *flags]) == 0
    return json.loads((out / "found.json").read_text())


@pytest.mark.slow
def test_predict_tile_changes_the_detections(checkpoint, tmp_path, rng):
    image = tmp_path / "large.png"
    Image.fromarray(rng.integers(0, 256, (160, 240, 3)).astype(np.uint8)).save(image)
    plain = _predict_json(checkpoint, image, tmp_path)
    tiled = _predict_json(checkpoint, image, tmp_path, "--tile", "64", "--tile-overlap", "0.3")
    assert plain and tiled and plain != tiled


@pytest.mark.parametrize("command", ["predict", "val"])
@pytest.mark.parametrize(
    "flag, value, wanted",
    [
        ("--tile", "16", "argument --tile: '16' is not a tile side of at least 32 pixels"),
        ("--tile", "big", "argument --tile: 'big' is not a tile side of at least 32 pixels"),
        ("--tile-overlap", "1", "argument --tile-overlap: '1' is not a fraction in [0, 1)"),
        ("--tile-overlap", "-0.1", "argument --tile-overlap: '-0.1' is not a fraction in [0, 1)"),
    ],
)
def test_bad_tile_values_are_usage_errors(command, flag, value, wanted, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--model", "m.keras", f"{flag}={value}"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert wanted in err and "Traceback" not in err, err


def test_large_image_set_has_small_separate_objects():
    image, record = render_large_image(np.random.default_rng([0, 0]), (256, 192), (4, 6))
    boxes = record.boxes
    assert image.shape == (192, 256, 3) and 4 <= len(boxes) <= 6
    assert np.all(boxes[:, :2] >= 0) and np.all(boxes[:, 2:] <= [256, 192])
    assert np.all((boxes[:, 2:] - boxes[:, :2]).max(1) <= 32) and not record.difficult.any()
    for i, a in enumerate(boxes):  # apart: no two boxes overlap
        for b in boxes[i + 1 :]:
            assert min(a[2], b[2]) <= max(a[0], b[0]) or min(a[3], b[3]) <= max(a[1], b[1])
