"""Predictor: image modes, letterbox/resize geometry, flip test, class names, tracing."""

import keras
import numpy as np
import pytest
from detector_cases import CLASSES, tiny_centernet
from PIL import Image

from centernet_keras.boxes import letterbox_params
from centernet_keras.decoding import CenterNetDecoder
from centernet_keras.inference import (
    Predictor,
    fit_to_input,
    input_size_for,
    load_image,
    resolve_class_names,
)
from centernet_keras.models import CenterNet


@pytest.fixture(scope="module")
def model():
    return tiny_centernet()


@pytest.fixture(scope="module")
def predictor(model):
    return Predictor(model, score_threshold=0.0)


@pytest.fixture(scope="module")
def checkpoint(model, tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "tiny.keras"
    model.save(path)
    return path


def _assert_inside(det, height, width):
    assert det.image_size == (height, width)
    assert len(det) > 0
    b = det.boxes
    assert np.all(b[:, 0] >= 0) and np.all(b[:, 1] >= 0)
    assert np.all(b[:, 2] <= width) and np.all(b[:, 3] <= height)
    assert np.all(b[:, 2] > b[:, 0]) and np.all(b[:, 3] > b[:, 1])
    assert np.all(np.diff(det.scores) <= 0)
    assert det.class_names == [CLASSES[c] for c in det.class_ids]


def _random_image(rng, h, w, channels=3):
    shape = (h, w) if channels == 1 else (h, w, channels)
    return rng.integers(0, 256, shape).astype(np.uint8)


@pytest.mark.parametrize(
    "shape", [(48, 150, 3), (200, 60, 3), (40, 40, 1), (90, 70, 4), (7, 19, 3), (1, 1, 3)]
)
def test_boxes_inside_original_image(predictor, rng, shape) -> None:
    h, w, c = shape
    image = _random_image(rng, h, w, c)
    _assert_inside(predictor(image), h, w)


def test_path_pil_and_array_agree(predictor, rng, tmp_path) -> None:
    image = _random_image(rng, 50, 80)
    Image.fromarray(image).save(tmp_path / "x.png")
    from_array = predictor(image)
    for source in (tmp_path / "x.png", str(tmp_path / "x.png"), Image.fromarray(image)):
        other = predictor(source)
        np.testing.assert_array_equal(other.boxes, from_array.boxes)
        np.testing.assert_array_equal(other.class_ids, from_array.class_ids)


def test_grayscale_and_rgba_files(predictor, rng, tmp_path) -> None:
    gray = _random_image(rng, 30, 45, 1)
    Image.fromarray(gray, "L").save(tmp_path / "g.png")
    assert load_image(tmp_path / "g.png").shape == (30, 45, 3)
    _assert_inside(predictor(tmp_path / "g.png"), 30, 45)
    rgba = _random_image(rng, 33, 21, 4)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    np.testing.assert_array_equal(load_image(tmp_path / "a.png"), rgba[..., :3])
    _assert_inside(predictor(tmp_path / "a.png"), 33, 21)


def test_exif_rotated_jpeg(predictor, rng, tmp_path) -> None:
    stored = _random_image(rng, 40, 80)  # stored 80 wide, 40 high
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    Image.fromarray(stored).save(tmp_path / "r.jpg", exif=exif, quality=95)
    rgb = load_image(tmp_path / "r.jpg")
    assert rgb.shape == (80, 40, 3)  # displayed: 40 wide, 80 high
    det = predictor(tmp_path / "r.jpg")
    _assert_inside(det, 80, 40)
    np.testing.assert_array_equal(predictor(rgb).boxes, det.boxes)


def test_traced_once_per_input_shape(model, rng) -> None:
    predictor = Predictor(model, score_threshold=0.2)
    for shape in [(30, 50, 3), (100, 20, 3), (64, 64, 3)]:
        predictor(_random_image(rng, *shape[:2]))
    assert predictor.engine._function("detect").experimental_get_tracing_count() == 1


# ---- geometry: a stub model whose output is one chosen detection ------------------------------


class StubModel:
    """Duck-typed CenterNet: returns maps with one peak decoding to ``box`` (input pixels);
    CenterNet's activation and decoder."""

    def __init__(self, box, input_hw, image_resize):
        self.num_classes, self.class_names = 1, ("thing",)
        self.input_shape = (None, *input_hw, 3)
        self.image_resize = image_resize
        self.decoder = CenterNetDecoder()
        h, w = input_hw[0] // 4, input_hw[1] // 4
        cx, cy = (box[0] + box[2]) / 8.0, (box[1] + box[3]) / 8.0  # centre on the map
        heat = np.full((1, h, w, 1), -10.0, np.float32)
        heat[0, int(cy), int(cx), 0] = 10.0
        size = np.zeros((1, h, w, 2), np.float32)
        size[0, int(cy), int(cx)] = [(box[2] - box[0]) / 4.0, (box[3] - box[1]) / 4.0]
        offset = np.zeros((1, h, w, 2), np.float32)
        offset[0, int(cy), int(cx)] = [cx - int(cx), cy - int(cy)]
        self.raw = {"heatmap": heat, "size": size, "offset": offset}

    def __call__(self, x, training=False):
        b = keras.ops.shape(x)[0]
        return {
            k: keras.ops.repeat(keras.ops.convert_to_tensor(v), b, 0) for k, v in self.raw.items()
        }

    def maps(self, images, flip_test=False):
        return CenterNet.activate(self, self(images))

    decode = CenterNet.decode


def _marked_image(h, w, box):
    image = np.zeros((h, w, 3), np.uint8)
    x1, y1, x2, y2 = box
    image[y1:y2, x1:x2] = 255
    return image


def _bright_bounds(canvas):
    """Pixel-edge bounds [x1, y1, x2, y2] of the pixels brighter than the mid level."""
    ys, xs = np.nonzero(canvas[..., 0] > 191)
    return [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]


@pytest.mark.parametrize("image_resize", ["letterbox", "resize"])
@pytest.mark.parametrize("hw", [(120, 300), (300, 90)])
def test_detection_maps_back_to_original_pixels(image_resize, hw) -> None:
    """The box found in the network input (where the object really is after the resize)
    comes back where the object is in the original image."""
    h, w = hw
    obj = (w // 3, h // 4, w // 3 + w // 4, h // 4 + h // 3)
    image = _marked_image(h, w, obj)
    input_hw = (128, 192)
    canvas = fit_to_input(image, input_hw, image_resize == "letterbox")
    if image_resize == "letterbox":
        _, px, py, nw, nh = letterbox_params((h, w), input_hw)
        assert np.all(canvas[:py] == 128) and np.all(canvas[py + nh :] == 128)
        assert np.all(canvas[:, :px] == 128) and np.all(canvas[:, px + nw :] == 128)
    found = _bright_bounds(canvas)
    stub = StubModel(found, input_hw, image_resize)
    det = Predictor(stub, score_threshold=0.5)(image)
    assert len(det) == 1 and det.class_names == ["thing"]
    sx = w / input_hw[1] if image_resize == "resize" else w / letterbox_params((h, w), input_hw)[3]
    sy = h / input_hw[0] if image_resize == "resize" else h / letterbox_params((h, w), input_hw)[4]
    # One input pixel of blur at each edge, in original pixels.
    np.testing.assert_allclose(det.boxes[0], obj, atol=1.01 * max(sx, sy))


def test_letterbox_flag_overrides_model(model) -> None:
    assert Predictor(model).letterbox is True  # the model's image_resize default
    assert Predictor(model, letterbox=False).letterbox is False


def test_nms_default_is_the_models_decoder_setting(model) -> None:
    assert model.decoder.iou_threshold == 0.5  # built on a ResNet backbone
    assert Predictor(model).iou_threshold == 0.5
    assert Predictor(model, iou_threshold=None).iou_threshold is None
    assert model.decoder.iou_threshold == 0.5  # the model is not changed
    stub = StubModel([0, 0, 8, 8], (32, 32), "letterbox")
    assert Predictor(stub).iou_threshold is None


def test_former_keyword_names_still_work(model) -> None:
    with pytest.warns(DeprecationWarning, match="score_threshold"):
        predictor = Predictor(model, confidence=0.25, nms_iou=0.4)
    assert (predictor.score_threshold, predictor.iou_threshold) == (0.25, 0.4)
    with pytest.raises(TypeError, match="conf"):
        Predictor(model, conf=0.1)


def test_dynamic_input_size() -> None:
    assert input_size_for((100, 300), (None, None)) == (192, 512)
    assert input_size_for((10, 10), (None, None)) == (512, 512)
    assert input_size_for((100, 300), (64, 96)) == (64, 96)
    model = tiny_centernet(input_shape=(None, None, 3))
    predictor = Predictor(model, score_threshold=0.0, input_size=90)  # rounded up to 96
    batch, _ = predictor.preprocess(np.zeros((50, 20, 3), np.uint8))
    assert batch.shape == (1, 96, 96, 3) and batch.dtype == np.uint8
    _assert_inside(predictor(np.full((50, 20, 3), 90, np.uint8)), 50, 20)


# ---- flip test -----------------------------------------------------------------------------


def test_flip_test_is_mirror_symmetric(model, rng) -> None:
    """With the flip test, heatmap and sizes of a mirrored image are the mirrored maps; the
    offset is the plain pass's."""
    flip = Predictor(model, flip_test=True, score_threshold=0.0)
    plain = Predictor(model)
    image = _random_image(rng, 64, 64)[None]  # input size: no padding to break the symmetry
    a, b = flip.forward(image), flip.forward(image[:, :, ::-1].copy())
    np.testing.assert_allclose(b["heatmap"], a["heatmap"][:, :, ::-1], rtol=0, atol=1e-6)
    np.testing.assert_allclose(b["size"], a["size"][:, :, ::-1], rtol=0, atol=1e-6)
    # Batch 2 (image + mirror) against batch 1: equal up to float reassociation, not bitwise.
    np.testing.assert_allclose(a["offset"], plain.forward(image)["offset"], rtol=0, atol=1e-6)
    assert not np.allclose(a["heatmap"], plain.forward(image)["heatmap"])
    det = flip(image[0])
    _assert_inside(det, 64, 64)


# ---- class names -----------------------------------------------------------------------------


def test_from_checkpoint_uses_saved_class_names(checkpoint) -> None:
    predictor = Predictor.from_checkpoint(checkpoint, score_threshold=0.0)
    assert predictor.class_names == CLASSES
    assert predictor.model.image_resize == "letterbox"


def test_classes_mismatch_is_an_error(checkpoint, tmp_path) -> None:
    with pytest.raises(ValueError, match=r"2 class names but the model has 3 classes"):
        Predictor.from_checkpoint(checkpoint, classes=["a", "b"])
    path = tmp_path / "classes.txt"
    path.write_text("a\nb\nc\nd\n")
    with pytest.raises(ValueError, match=r"classes\.txt.*4 class names.*3 classes"):
        Predictor.from_checkpoint(checkpoint, classes=path)
    path.write_text("x\ny\nz\n")
    assert Predictor.from_checkpoint(checkpoint, classes=path).class_names == ["x", "y", "z"]


def test_unnamed_classes() -> None:
    assert resolve_class_names(2, None, None) == ["class_0", "class_1"]


def test_benchmark_and_heatmap(predictor, rng) -> None:
    image = _random_image(rng, 40, 70)
    ms = predictor.benchmark(image, runs=2, warmup=1)
    assert set(ms) == {"preprocess_ms", "detect_ms", "postprocess_ms", "total_ms"}
    assert all(v > 0 for v in ms.values())
    heat = predictor.heatmap(image)
    assert heat.shape == (40, 70) and heat.dtype == np.float32
    assert heat.min() >= 0.0 and heat.max() <= 1.0


def test_input_size_of_a_fixed_model_cannot_change(model) -> None:
    assert Predictor(model, input_size=64).model_hw == (64, 64)
    with pytest.raises(ValueError, match="fixed at"):
        Predictor(model, input_size=128)


def test_box_model_detections_have_no_keypoints(predictor, rng) -> None:
    det = predictor(_random_image(rng, 40, 70))
    assert len(det) > 0 and det.keypoints is None and det.keypoint_scores is None
    assert all("keypoints" not in r for r in det.to_records(0))
