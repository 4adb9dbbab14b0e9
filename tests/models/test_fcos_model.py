"""FCOS model: build over the backbones with C3–C5, decoder input size (fixed and dynamic),
settings, errors. The framework contract (fit, predict, save, export, flip, torch) is
``tests/test_detector_contract.py``'s FCOS case."""

import keras
import numpy as np
import pytest
from detector_cases import tiny_fcos

from centernet_keras.decoding import CenterNetDecoder, FCOSDecoder
from centernet_keras.export import serving_function
from centernet_keras.inference import Predictor
from centernet_keras.losses.fcos import FCOS_LOSS_TERMS
from centernet_keras.models import FCOS, build_fcos
from centernet_keras.models.fcos import DEFAULT_PRE_NMS_TOP_K

L64 = 8 * 8 + 4 * 4 + 2 * 2  # locations of a 64x64 input at strides 8, 16, 32
TINY = {"fpn_channels": 16, "stem_channels": (16,)}


@pytest.mark.parametrize(
    "backbone",
    ["resnet18", "resnet50", "mobilenetv3_small", "mobilenetv3_large", "dla34", "regnetx_400mf"],
)
def test_every_pyramid_backbone_builds_and_runs(backbone):
    """Each backbone's P3–P5 feed the FPN (about 1 s each at 64 px)."""
    model = build_fcos(2, backbone, (64, 64, 3), **TINY)
    out = model(np.zeros((1, 64, 64, 3), "float32"))
    assert out["classes"].shape == (1, L64, 2)
    assert out["deltas"].shape == (1, L64, 4) and out["centerness"].shape == (1, L64)
    assert all(np.all(np.isfinite(v)) for v in out.values())


def test_defaults():
    model = build_fcos(20, input_shape=(64, 64, 3))
    assert isinstance(model, FCOS) and model.detector_name == "fcos"
    assert model.backbone.name == "regnetx_400mf"
    assert (model.neck, model.fpn_channels, model.stem_channels) == ("fpn", 64, (64, 64))
    assert model.group_norm and model.loss_terms == FCOS_LOSS_TERMS
    decoder = model.decoder
    assert isinstance(decoder, FCOSDecoder) and decoder.image_size == (64, 64)
    assert decoder.pre_nms_top_k == DEFAULT_PRE_NMS_TOP_K == 300
    assert (decoder.score_threshold, decoder.iou_threshold) == (0.05, 0.6)
    assert model.get_layer("fpn_output3").output.shape == (None, 8, 8, 64)
    assert model.output["classes"].shape == (None, L64, 20)
    # RegNetX-400MF C3–C5 widths 64, 160, 400: FPN laterals + three 3x3 outputs, 64 wide
    fpn = (64 + 160 + 400) * 64 + 3 * 64 + 3 * (9 * 64 * 64 + 64)
    stems = 2 * 2 * (9 * 64 * 64 + 64 + 2 * 64)  # two stems of two conv + GroupNorm blocks
    predictors = (9 * 64 * 20 + 20) + (9 * 64 * 4 + 4) + (9 * 64 + 1)
    assert model.get_layer("fcos_head").count_params() == stems + predictors == 162_649
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == 5_094_976 + fpn + stems + predictors == 5_408_537


def test_activate_targets_and_loss(rng):
    model = tiny_fcos()
    raw = model(rng.uniform(0, 255, (1, 64, 64, 3)).astype("float32"))
    maps = model.activate(raw)
    np.testing.assert_allclose(maps["classes"], keras.ops.sigmoid(raw["classes"]), atol=1e-7)
    np.testing.assert_allclose(maps["centerness"], keras.ops.sigmoid(raw["centerness"]))
    np.testing.assert_array_equal(maps["deltas"], raw["deltas"])
    boxes = np.array([[4.0, 6.0, 40.0, 30.0]], "float32")
    targets = model.target_encoder(100)(boxes, np.array([1], "int32"), (64, 64))
    assert targets["classes"].shape == (L64,) and set(np.asarray(targets["classes"])) == {-1, 1}
    batch = {k: np.asarray(v)[None] for k, v in targets.items()}
    losses = model.detector_losses(batch, raw)
    assert set(losses) == {"loss", *FCOS_LOSS_TERMS}
    sampled = model.replace(center_sampling_radius=1.5).target_encoder(100)
    fewer = np.asarray(sampled(boxes, np.array([1], "int32"), (64, 64))["classes"])
    assert 0 < (fewer >= 0).sum() < (np.asarray(targets["classes"]) >= 0).sum()


def test_dynamic_input_size_takes_the_size_from_the_images(rng, tmp_path):
    fixed = tiny_fcos((64, 96, 3))
    dynamic = tiny_fcos((None, None, 3))
    dynamic.set_weights(fixed.get_weights())
    assert dynamic.decoder.image_size is None and dynamic.input_hw() is None
    images = rng.uniform(0, 255, (2, 64, 96, 3)).astype("float32")
    for flip in (False, True):
        want = fixed.detect(images, flip_test=flip)
        got = dynamic.detect(images, flip_test=flip)
        for key in want:
            np.testing.assert_allclose(np.asarray(got[key]), np.asarray(want[key]), atol=1e-4)
    with pytest.raises(ValueError, match="needs image_size"):
        dynamic.decoder(dynamic.maps(images))
    with pytest.raises(ValueError, match="dynamic input size needs the image size"):
        dynamic.merge_flip(*dynamic.maps_and_mirrored(images))
    image = rng.integers(0, 256, (50, 70, 3)).astype("uint8")
    found = Predictor(dynamic, score_threshold=0.1, input_size=(64, 96))(image)
    assert len(found.boxes) > 0 and found.image_size == (50, 70)
    # the export's serving function gets the size from its input signature
    import tensorflow as tf

    spec = tf.TensorSpec([None, 64, 96, 3], tf.uint8)
    served = tf.function(serving_function(dynamic), input_signature=[spec])(images.astype("uint8"))
    want = fixed.detect(images.astype("uint8"))
    np.testing.assert_array_equal(served["num_detections"], want["num_detections"])
    np.testing.assert_allclose(served["boxes"], want["boxes"], atol=1e-4)


def test_decoder_must_be_an_fcos_decoder_of_the_input_size():
    with pytest.raises(ValueError, match="image_size \\(32, 32\\) is not the input \\(64, 64\\)"):
        build_fcos(2, "resnet18", (64, 64, 3), **TINY).replace(
            decoder=FCOSDecoder(image_size=(32, 32))
        )
    with pytest.raises(TypeError, match="FCOSDecoder"):
        tiny_fcos().replace(decoder=CenterNetDecoder())
    with pytest.raises(ValueError, match="strides"):
        tiny_fcos().replace(decoder=FCOSDecoder(strides=(4, 8, 16)))
    changed = tiny_fcos().replace(decoder=FCOSDecoder(score_threshold=0.3))
    assert changed.decoder.image_size == (64, 64) and changed.decoder.score_threshold == 0.3


def test_neck_backbone_and_size_errors():
    with pytest.raises(ValueError, match="gives one map"):
        build_fcos(2, "resnet18", (64, 64, 3), neck="deconv")
    with pytest.raises(ValueError, match="former name of backbone='resnet18'"):
        build_fcos(2, "resnet18_fpn", (64, 64, 3))
    inputs = keras.Input((64, 64, 3))
    single = keras.Model(inputs, keras.layers.Conv2D(8, 3, strides=32, padding="same")(inputs))
    with pytest.raises(ValueError, match="one output"):
        build_fcos(2, single)
    with pytest.raises(ValueError, match="multiples of 32"):
        build_fcos(2, "resnet18", (48, 64, 3))
    with pytest.raises(ValueError, match="num_classes"):
        build_fcos(0, "resnet18", (64, 64, 3))


def test_seeded_builds_are_equal_and_same_shaped_kernels_differ() -> None:
    """Each conv gets its own initializer: a seed reproduces the network (a shared initializer
    instance carries the seed drawn at import, so two processes built different FCOS-RegNetX
    networks), and same-shaped kernels are not copies of each other (they were: every block of
    a RegNetX stage, every FCOS stem conv)."""
    builds = []
    for _ in range(2):
        keras.utils.set_random_seed(5)
        builds.append(
            build_fcos(2, "regnetx_400mf", (64, 64, 3), fpn_channels=16, stem_channels=(8, 8))
        )
    first = {v.path: v.numpy() for v in builds[0].weights}
    assert all(np.array_equal(first[v.path], v.numpy()) for v in builds[1].weights)
    by_shape: dict[tuple, list[np.ndarray]] = {}
    for path, value in first.items():
        if path.endswith("kernel") and value.size > 1:
            by_shape.setdefault(value.shape, []).append(value)
    assert max(len(v) for v in by_shape.values()) > 2  # same-shaped kernels exist
    for kernels in by_shape.values():
        assert all(not np.array_equal(kernels[0], k) for k in kernels[1:])
