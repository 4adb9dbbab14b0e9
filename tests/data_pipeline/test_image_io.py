"""One image reader for training and inference: EXIF orientation, 16-bit, size in the
displayed frame (converter, pipeline and Predictor agree)."""

import types

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from centernet_keras.data.image_io import read_image_rgb
from centernet_keras.data.problems import read_image_size
from centernet_keras.data.voc import parse_voc_xml
from centernet_keras.decoding import CenterNetDecoder
from centernet_keras.inference import Predictor, fit_to_input, load_image

STORED_W, STORED_H = 80, 40  # the pixels as stored in the file
DISPLAYED = {1: (80, 40), 3: (80, 40), 6: (40, 80), 8: (40, 80)}  # orientation → (w, h)


class _StubModel:
    """Just what ``Predictor`` reads at construction (preprocessing needs no network)."""

    num_classes, class_names, image_resize = 1, ("thing",), "letterbox"
    input_shape = (None, 64, 96, 3)
    backbone = types.SimpleNamespace(name="stub")
    decoder = CenterNetDecoder()


def _save_with_orientation(path, pixels, orientation, **kwargs):
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(pixels).save(path, exif=exif, **kwargs)


@pytest.mark.parametrize("orientation", sorted(DISPLAYED))
def test_size_is_read_in_the_displayed_frame(tmp_path, rng, orientation):
    """``read_image_size`` = what the pipeline's and the Predictor's decoders return."""
    path = tmp_path / f"o{orientation}.jpg"
    stored = rng.integers(0, 256, (STORED_H, STORED_W, 3)).astype(np.uint8)
    _save_with_orientation(path, stored, orientation, quality=95)
    w, h = DISPLAYED[orientation]
    assert read_image_size(path) == (w, h)
    assert read_image_rgb(str(path)).shape == (h, w, 3)  # the training pipeline's reader
    assert load_image(path).shape == (h, w, 3)  # the Predictor's
    _, image_hw = Predictor(_StubModel()).preprocess(path)
    assert tuple(image_hw) == (h, w)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_applied_as_pil_exif_transpose(tmp_path, rng, orientation):
    """Pixels (lossless PNG): the reader rotates/flips exactly as PIL's ``exif_transpose``."""
    path = tmp_path / f"o{orientation}.png"
    stored = rng.integers(0, 256, (STORED_H, STORED_W, 3)).astype(np.uint8)
    _save_with_orientation(path, stored, orientation)
    with Image.open(path) as im:
        expected = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    np.testing.assert_array_equal(read_image_rgb(str(path)), expected)
    np.testing.assert_array_equal(load_image(path), expected)
    with Image.open(path) as im:
        np.testing.assert_array_equal(load_image(im), expected)
    assert read_image_size(path) == (expected.shape[1], expected.shape[0])


@pytest.mark.parametrize("orientation", [6, 8])
def test_converter_accepts_size_annotated_in_the_displayed_frame(tmp_path, rng, orientation):
    """A phone photo annotated as displayed (labelImg, CVAT): no false size mismatch, boxes
    kept as written (not clipped to the stored frame)."""
    voc = tmp_path / "VOC"
    (voc / "Annotations").mkdir(parents=True)
    (voc / "JPEGImages").mkdir()
    stored = rng.integers(0, 256, (STORED_H, STORED_W, 3)).astype(np.uint8)
    _save_with_orientation(voc / "JPEGImages" / "a.jpg", stored, orientation)
    (voc / "Annotations" / "a.xml").write_text(
        "<annotation><filename>a.jpg</filename>"
        "<size><width>40</width><height>80</height><depth>3</depth></size>"
        "<object><name>cat</name><bndbox><xmin>5</xmin><ymin>50</ymin><xmax>35</xmax>"
        "<ymax>75</ymax></bndbox></object></annotation>"
    )
    record, problems = parse_voc_xml(voc / "Annotations" / "a.xml", ["cat"])
    assert problems == []
    assert (record.width, record.height) == (40, 80)
    np.testing.assert_array_equal(record.boxes, [[5, 50, 35, 75]])


# ---- 16-bit images: one rule (the high byte, ``>> 8``) everywhere -----------------------------


@pytest.mark.parametrize("peak", [255, 65535])  # a dark 16-bit image, and a full-range one
@pytest.mark.parametrize("channels", [1, 3])
def test_16bit_same_pixels_in_training_and_inference(tmp_path, rng, peak, channels):
    shape = (30, 50) if channels == 1 else (30, 50, 3)
    pixels = rng.integers(0, peak + 1, shape).astype(np.uint16)
    path = tmp_path / "x16.png"
    cv2.imwrite(str(path), pixels if channels == 1 else pixels[..., ::-1])  # cv2 writes BGR
    high = (pixels >> 8).astype(np.uint8)
    expected = np.dstack([high] * 3) if channels == 1 else high

    training = read_image_rgb(str(path))
    np.testing.assert_array_equal(training, expected)
    np.testing.assert_array_equal(load_image(path), expected)  # a path
    np.testing.assert_array_equal(load_image(pixels), expected)  # a 16-bit array
    with Image.open(path) as im:
        np.testing.assert_array_equal(load_image(im), expected)  # a PIL image

    predictor = Predictor(_StubModel())
    network_input, _ = predictor.preprocess(path)
    np.testing.assert_array_equal(network_input[0], fit_to_input(training, (64, 96), True))
    np.testing.assert_array_equal(predictor.preprocess(pixels)[0], network_input)
