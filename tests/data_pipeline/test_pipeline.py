"""tf.data pipeline: boxes follow the pixels, skips are counted, seeds reproduce, formats."""

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest
import tensorflow as tf
from helpers import centernet_encoder

from centernet_keras.boxes import boxes_to_input
from centernet_keras.data.annotations import ImageRecord
from centernet_keras.data.augment import AugmentConfig
from centernet_keras.data.image_io import SkipLog, read_image_rgb
from centernet_keras.data.pipeline import PipelineConfig, make_dataset, transform_example

GRAY, OBJECT = 90, (250, 20, 20)
ENCODE = centernet_encoder(num_classes=1)
NO_COLOUR = {"hue": 0.0, "sat": 1.0, "val": 1.0}


def _scene(h=150, w=230, box=(40, 30, 131, 101)):
    image = np.full((h, w, 3), GRAY, np.uint8)
    x1, y1, x2, y2 = box
    image[y1:y2, x1:x2] = OBJECT  # pixels [x1, x2) × [y1, y2): the box x1,y1,x2,y2
    return image, np.array([box], np.float32)


def _object_extent(image):
    """Bounds of the pixels that are clearly the object colour (red ≫ green)."""
    mask = (image[..., 0] - image[..., 1]) > 115
    ys, xs = np.nonzero(mask)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float32)


@pytest.mark.parametrize("seed", range(12))
def test_augmentation_keeps_boxes_on_their_objects(seed):
    image, boxes = _scene()
    config = PipelineConfig((128, 160), augment=AugmentConfig(**NO_COLOUR, scale_range=(0.5, 2.0)))
    out, targets = transform_example(
        tf.constant(image), tf.constant(boxes), tf.constant([0]), config,
        tf.constant([seed, 7], tf.int64), ENCODE,
    )  # fmt: skip
    out = out.numpy()
    if targets["mask"].numpy()[0] == 0:  # object left the canvas (or became tiny)
        assert ((out[..., 0] - out[..., 1]) > 115).sum() < 4
        return
    x1, y1 = targets["indices"].numpy()[0] % 40, targets["indices"].numpy()[0] // 40
    centre = (np.array([x1, y1]) + targets["offset"].numpy()[0]) * 4
    size = targets["size"].numpy()[0] * 4
    box = np.concatenate([centre - size / 2, centre + size / 2])
    extent = _object_extent(out)
    # Targets live on the stride-4 map, clipped to its edges (not to W/4 − 1 as the reference:
    # an object cut by the right edge keeps its last 4 px): allow a pixel of blur.
    np.testing.assert_allclose(box, extent, atol=1.5)


def test_hsv_jitter_keeps_geometry_and_changes_colour():
    image, boxes = _scene()
    plain = PipelineConfig((128, 160), augment=AugmentConfig(**NO_COLOUR))
    jittered = PipelineConfig((128, 160))
    seed = tf.constant([3, 1], tf.int64)
    a, ta = transform_example(image, boxes, [0], plain, seed, ENCODE)
    b, tb = transform_example(image, boxes, [0], jittered, seed, ENCODE)
    for key in ("indices", "size", "offset"):
        np.testing.assert_array_equal(ta[key].numpy(), tb[key].numpy())
    assert np.abs(a.numpy() - b.numpy()).max() > 10


@pytest.mark.parametrize("mode", ["letterbox", "resize"])
def test_validation_geometry_matches_boxes_to_input(mode):
    image, boxes = _scene(h=170, w=90, box=(10, 40, 71, 121))
    config = PipelineConfig((96, 128), image_resize=mode)
    out, _ = transform_example(tf.constant(image), boxes, [0], config)
    expected = boxes_to_input(boxes, (170, 90), (96, 128), letterbox=mode == "letterbox")[0]
    np.testing.assert_allclose(_object_extent(out.numpy()), expected, atol=1.0)
    if mode == "letterbox":  # gray padding at the sides, image centred
        assert np.all(out.numpy()[:, :5] == 128.0) and np.all(out.numpy()[:, -5:] == 128.0)


def _write_dataset(tmp_path, n=6):
    records = []
    for i in range(n):
        image, boxes = _scene()
        path = tmp_path / f"img{i}.jpg"
        cv2.imwrite(str(path), image[..., ::-1])
        records.append(ImageRecord(str(path), boxes, [0]))
    return records


def test_corrupt_and_missing_images_are_skipped_and_counted(tmp_path, caplog):
    records = _write_dataset(tmp_path)
    (tmp_path / "corrupt.jpg").write_bytes((tmp_path / "img0.jpg").read_bytes()[:300])
    records.insert(2, ImageRecord(str(tmp_path / "corrupt.jpg"), [[1, 1, 9, 9]], [0]))
    records.insert(4, ImageRecord(str(tmp_path / "missing.jpg"), [[1, 1, 9, 9]], [0]))
    skips = SkipLog()
    config = PipelineConfig((64, 96), batch_size=2)
    with caplog.at_level(logging.WARNING, logger="centernet_keras.data"):
        for _ in range(2):  # two epochs
            data = make_dataset(records, config, True, skips, encoder=ENCODE)
            seen = sum(int(x.shape[0]) for x, _ in data)
            assert seen == 6  # every good image, 3 full batches
    assert skips.paths == {str(tmp_path / "corrupt.jpg"), str(tmp_path / "missing.jpg")}
    assert skips.count == 4  # met once per epoch
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "corrupt.jpg" in logged and "missing.jpg" in logged
    val = make_dataset(records, config, False, SkipLog(), encoder=ENCODE)
    assert sum(int(x.shape[0]) for x, _ in val) == 6  # validation keeps the partial batch


def test_an_endless_stream_with_one_readable_image_keeps_going(tmp_path):
    """The stop of a stream with no decodable image (``make_dataset(repeat=True)``; the stop
    itself: tests/training/test_unreadable_images.py, in a subprocess) leaves a stream with a
    single readable image running, batch after batch, each failing image met again."""
    good = _write_dataset(tmp_path)[0]
    records = [good]
    for i in range(5):
        path = tmp_path / f"cut{i}.jpg"
        path.write_bytes(Path(good.path).read_bytes()[:300])
        records.append(ImageRecord(str(path), [[1, 1, 9, 9]], [0]))
    skips = SkipLog()
    config = PipelineConfig((64, 96), batch_size=2)
    stream = iter(make_dataset(records, config, True, skips, repeat=True, encoder=ENCODE))
    batches = [next(stream)[0] for _ in range(6)]  # 12 readings of the one good image
    assert all(b.shape[0] == 2 for b in batches) and len(skips.paths) == 5
    assert skips.nothing_readable is None


def test_same_seed_same_batches_and_epochs_differ(tmp_path):
    records = _write_dataset(tmp_path)
    config = PipelineConfig((64, 96), batch_size=3, seed=5)
    first = [x.numpy() for x, _ in make_dataset(records, config, True, encoder=ENCODE)]
    again = [x.numpy() for x, _ in make_dataset(records, config, True, encoder=ENCODE)]
    np.testing.assert_array_equal(first[0], again[0])
    stream = iter(make_dataset(records, config, True, repeat=True, encoder=ENCODE))
    epoch1 = [next(stream)[0].numpy() for _ in range(2)]
    epoch2 = [next(stream)[0].numpy() for _ in range(2)]
    assert not np.array_equal(epoch1[0], epoch2[0])


def test_a_stream_started_at_k_equals_the_unbroken_stream_from_k(tmp_path):
    """--resume at epoch k draws the batches the unbroken run drew (order and augmentation)."""
    records = _write_dataset(tmp_path)  # 6 images, batch 4: passes and batches interleave
    config = PipelineConfig((64, 96), batch_size=4, seed=7)
    unbroken = iter(make_dataset(records, config, True, repeat=True, encoder=ENCODE))
    batches = [next(unbroken) for _ in range(7)]
    for k in (1, 3, 5):  # a resume after k batches (4k examples), mid-pass and at pass ends
        resumed = make_dataset(records, config, True, repeat=True, start=4 * k, encoder=ENCODE)
        resumed = next(iter(resumed))
        np.testing.assert_allclose(resumed[0].numpy(), batches[k][0].numpy(), atol=1e-3)
        np.testing.assert_array_equal(resumed[1]["indices"], batches[k][1]["indices"])
    # and the batches really differ from each other (the check above could not pass by luck)
    assert not np.allclose(batches[1][0].numpy(), batches[3][0].numpy(), atol=1.0)


def test_fewer_images_than_a_batch_still_give_full_batches(tmp_path):
    records = _write_dataset(tmp_path, n=3)
    config = PipelineConfig((64, 96), batch_size=8)
    stream = iter(make_dataset(records, config, True, repeat=True, encoder=ENCODE))
    for _ in range(2):
        images, targets = next(stream)
        assert images.shape[0] == 8 and targets["mask"].numpy().sum() == 8  # 1 box per image


def test_grayscale_rgba_png_become_rgb(tmp_path):
    gray = np.tile(np.arange(40, dtype=np.uint8)[None], (30, 1))
    cv2.imwrite(str(tmp_path / "g.png"), gray)
    rgba = np.dstack([np.full((30, 40, 3), 200, np.uint8), np.full((30, 40), 7, np.uint8)])
    cv2.imwrite(str(tmp_path / "a.png"), rgba)
    g, a = read_image_rgb(str(tmp_path / "g.png")), read_image_rgb(str(tmp_path / "a.png"))
    assert g.shape == a.shape == (30, 40, 3)
    np.testing.assert_array_equal(g[..., 0], gray)
    assert np.all(a == 200)


def test_overfull_images_are_reported(tmp_path, caplog):
    records = _write_dataset(tmp_path, n=2)
    records[1] = ImageRecord(records[1].path, np.tile([[1, 1, 20, 20]], (7, 1)), [0] * 7)
    with caplog.at_level(logging.WARNING, logger="centernet_keras.data"):
        make_dataset(records, PipelineConfig((64, 96), max_objects=5), True, encoder=ENCODE)
    assert "more than max_objects=5" in caplog.text


def test_training_without_augment_uses_the_validation_geometry(tmp_path):
    records = _write_dataset(tmp_path)  # 6 images
    config = PipelineConfig((64, 96), batch_size=3, augment=AugmentConfig(enabled=False))
    train = [x.numpy() for x, _ in make_dataset(records, config, True, encoder=ENCODE)]
    val = [x.numpy() for x, _ in make_dataset(records, config, False, encoder=ENCODE)]
    # shuffled, but the same letterboxed images (no random geometry or colour)
    np.testing.assert_allclose(
        np.sort(np.concatenate(train).reshape(6, -1).sum(1)),
        np.sort(np.concatenate(val).reshape(6, -1).sum(1)),
        rtol=1e-6,
    )


def test_the_targets_are_the_encoders(tmp_path):
    """make_dataset maps the encoder it is given (the detector's): the pipeline itself knows no
    detector's targets; the encoder sees the moved boxes, the classes and the input size."""
    records = _write_dataset(tmp_path, n=4)

    def encode(boxes, classes, image_hw):
        return {
            "valid": tf.reduce_sum(tf.cast(classes >= 0, tf.int32)),
            "first_box": boxes[0],
            "input_hw": tf.constant(image_hw, tf.int32),
        }

    config = PipelineConfig((64, 96), batch_size=4)
    (_, targets), *rest = list(make_dataset(records, config, False, encoder=encode))
    assert rest == [] and sorted(targets) == ["first_box", "input_hw", "valid"]
    np.testing.assert_array_equal(targets["valid"], [1, 1, 1, 1])
    np.testing.assert_array_equal(targets["input_hw"], [[64, 96]] * 4)
    expected = boxes_to_input(records[0].boxes, (150, 230), (64, 96))[0]
    np.testing.assert_allclose(targets["first_box"].numpy(), [expected] * 4, atol=1e-4)
    # without an encoder, one example gives the moved boxes and classes themselves
    image, boxes = _scene()
    _, moved = transform_example(tf.constant(image), boxes, tf.constant([0]), config)
    np.testing.assert_allclose(moved["boxes"].numpy(), [expected], atol=1e-4)
    np.testing.assert_array_equal(moved["classes"], [0])


def test_the_pipeline_imports_no_detector_targets():
    import ast

    from centernet_keras.data import pipeline

    tree = ast.parse(Path(pipeline.__file__).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not [name for name in imported if name.startswith("centernet_keras.targets")]
    assert "centernet_keras.data.augment" in imported  # the check does see the imports
