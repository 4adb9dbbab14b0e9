"""CenterNet model: shapes, parameter counts vs the reference, weights, saving, predict."""

import json

import keras
import numpy as np
import pytest
from reference_data import load_json

from centernet_keras.backbones import WeightsUnavailableError, build_backbone
from centernet_keras.heads.centernet import HEATMAP_BIAS
from centernet_keras.models import CenterNet, build_centernet


@pytest.fixture(scope="module")
def tiny_model() -> CenterNet:
    return build_centernet(
        3,
        backbone="resnet18",
        input_shape=(None, None, 3),
        neck_filters=(32, 32, 32),
        head_channels=16,
        class_names=["cat", "dog", "car"],
        image_resize="resize",
    )


def _bn_stats(model: keras.Model) -> int:
    return sum(
        int(np.prod(w.shape))
        for layer in model._flatten_layers()
        if isinstance(layer, keras.layers.BatchNormalization)
        for w in (layer.moving_mean, layer.moving_variance)
    )


def _conv_bias_params(model: keras.Model) -> int:
    return sum(
        int(np.prod(layer.bias.shape))
        for layer in model._flatten_layers()
        if isinstance(layer, keras.layers.Conv2D) and layer.use_bias
    )


@pytest.mark.parametrize("hw", [(64, 64), (64, 96), (96, 64), (128, 32)])
def test_outputs_are_stride_4_for_any_multiple_of_32(tiny_model, hw):
    images = np.random.default_rng(0).uniform(0, 255, (2, *hw, 3)).astype("float32")
    out = tiny_model(images)
    h, w = hw[0] // 4, hw[1] // 4
    assert out["heatmap"].shape == (2, h, w, 3)
    assert out["size"].shape == (2, h, w, 2)
    assert out["offset"].shape == (2, h, w, 2)


def test_stride_4_backbone_without_neck_and_stride_errors():
    inputs = keras.Input((None, None, 3))
    stride4 = keras.Model(inputs, keras.layers.Conv2D(8, 3, strides=4, padding="same")(inputs))
    model = build_centernet(2, stride4, (None, None, 3), neck_filters=())
    assert model(np.zeros((1, 64, 96, 3)))["heatmap"].shape == (1, 16, 24, 2)
    with pytest.raises(ValueError, match="output stride 4"):
        build_centernet(2, stride4, (None, None, 3))


def test_class_names_and_resize_mode_are_checked():
    with pytest.raises(ValueError, match="2 class names given for a model of 3"):
        build_centernet(3, "resnet18", (64, 64, 3), class_names=["a", "b"])
    with pytest.raises(ValueError, match="image_resize"):
        build_centernet(3, "resnet18", (64, 64, 3), image_resize="crop")


@pytest.mark.parametrize("name", ["resnet18", "mobilenetv3_small", "resnet50"])
def test_every_batchnorm_uses_momentum_0_9(name):
    # keras.applications defaults (0.99 / 0.999) leave moving statistics untrained after a
    # short training run, which breaks inference-mode outputs.
    backbone = build_backbone(name, (64, 64, 3))
    momenta = {
        layer.momentum
        for layer in backbone._flatten_layers()
        if isinstance(layer, keras.layers.BatchNormalization)
    }
    assert momenta == {0.9}


@pytest.mark.parametrize("name", ["mobilenetv3_small_fpn", "mobilenetv3_large_fpn"])
def test_fpn_backbones_output_stride_4_and_use_their_skips(name):
    model = build_centernet(2, name, (96, 160, 3), head_channels=16)
    assert (model.backbone.name, model.neck) == (name.removesuffix("_fpn"), "skip")
    assert model.neck_filters == (96, 64, 64)
    assert model(np.zeros((1, 96, 160, 3)))["heatmap"].shape == (1, 24, 40, 2)
    dynamic = build_centernet(2, name, (None, None, 3), head_channels=16)
    assert dynamic(np.zeros((1, 64, 128, 3)))["heatmap"].shape == (1, 16, 32, 2)
    skips = [layer for layer in model.layers if layer.name.startswith("neck_skip")]
    assert not [layer for layer in model.backbone.layers if layer.name.startswith("neck")]
    # one 1x1 projection (+ BN) per stride 16, 8, 4, each reading a backbone feature map
    assert len([s for s in skips if not s.name.endswith("_bn")]) == 3
    strides = sorted(96 // s.input.shape[1] for s in skips if not s.name.endswith("_bn"))
    assert strides == [4, 8, 16]


def test_heatmap_bias_is_minus_2_19(tiny_model):
    bias = tiny_model.get_layer("heatmap").bias.numpy()
    np.testing.assert_allclose(bias, np.full(3, HEATMAP_BIAS, np.float32))


def test_input_must_be_multiple_of_32():
    with pytest.raises(ValueError, match="multiples of 32"):
        build_centernet(2, backbone="resnet18", input_shape=(100, 128, 3))
    with pytest.raises(ValueError, match="Unknown backbone"):
        build_centernet(2, backbone="vgg", input_shape=(64, 64, 3))


def test_resnet18_backbone_matches_torchvision_count():
    # torchvision resnet18 without fc: 11,689,512 − 513,000 parameters; Keras adds BN stats.
    backbone = build_backbone("resnet18", (64, 64, 3))
    assert backbone.count_params() - _bn_stats(backbone) == 11_689_512 - 513_000
    assert _conv_bias_params(backbone) == 0


@pytest.mark.slow
def test_resnet50_parameter_counts_against_reference():
    ref = load_json("architectures.json")["msra_resnet_res50"]
    # Reference layout: deconvs 256/256/256, heads conv3x3 with bias + ReLU, 20 classes.
    ref_layout = build_centernet(
        20,
        backbone="resnet50",
        input_shape=(64, 64, 3),
        neck_filters=(256, 256, 256),
        head_batchnorm=False,
    )
    backbone_biases = _conv_bias_params(ref_layout.backbone)  # keras.applications convs have bias
    assert backbone_biases == 26_560
    assert (
        ref_layout.count_params() - backbone_biases
        == ref["keras_count_params_expected_if_identical"]
    )
    n_transpose = [
        layer
        for layer in ref_layout._flatten_layers()
        if isinstance(layer, keras.layers.Conv2DTranspose)
    ]
    assert [(t.filters, t.kernel_size, t.strides, t.use_bias) for t in n_transpose] == [
        (256, (4, 4), (2, 2), False)
    ] * 3

    ours = build_centernet(20, backbone="resnet50", input_shape=(64, 64, 3))
    neck = 16 * (2048 * 256 + 256 * 128 + 128 * 64) + 4 * (256 + 128 + 64)
    heads = sum(9 * 64 * 64 + 4 * 64 + 64 * n + n for n in (20, 2, 2))
    assert ours.count_params() == ours.backbone.count_params() + neck + heads
    assert ours.backbone.count_params() == 23_587_712


def test_local_weights_file_is_loaded(tmp_path):
    source = build_backbone("resnet18", (64, 64, 3))
    path = tmp_path / "r18.weights.h5"
    source.save_weights(path)
    model = build_centernet(2, backbone="resnet18", input_shape=(64, 64, 3), weights=str(path))
    for a, b in zip(source.weights, model.backbone.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    with pytest.raises(FileNotFoundError):
        build_centernet(2, backbone="resnet18", input_shape=(64, 64, 3), weights="nope.h5")


def test_imagenet_offline_fails_fast_with_instructions(monkeypatch):
    def offline(*args, **kwargs):
        raise Exception("URL fetch failure on https://example/x.h5: None -- Name not known")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    monkeypatch.setattr("keras.src.utils.file_utils.get_file", offline)
    with pytest.raises(WeightsUnavailableError, match="weights='/path/to/"):
        build_backbone("mobilenetv3_small", (64, 64, 3), weights="imagenet")
    with pytest.raises(ValueError, match="no ImageNet ResNet-18"):
        build_backbone("resnet18", (64, 64, 3), weights="imagenet")


def test_keras_round_trip_safe_mode(tiny_model, tmp_path):
    images = np.random.default_rng(1).uniform(0, 255, (1, 64, 96, 3)).astype("float32")
    path = tmp_path / "tiny.keras"
    tiny_model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(loaded, CenterNet)
    assert loaded.class_names == ("cat", "dog", "car") and loaded.image_resize == "resize"
    for key, value in tiny_model(images).items():
        np.testing.assert_array_equal(np.asarray(loaded(images)[key]), np.asarray(value))
    config = tiny_model.get_config()
    json.dumps(config)  # plain JSON
    clone = CenterNet.from_config(config)
    assert clone.count_params() == tiny_model.count_params()
    assert clone.get_config() == config


def test_predict_returns_padded_detections(tiny_model):
    images = np.random.default_rng(2).uniform(0, 255, (3, 64, 64, 3)).astype("float32")
    assert tiny_model.decoder.score_threshold == 0.0
    every_peak = tiny_model.predict(images, verbose=0)["num_detections"]
    # random weights: heatmap probabilities sit near sigmoid(-2.19) ≈ 0.1
    strict = tiny_model.replace(decoder=tiny_model.decoder.replace(score_threshold=0.2))
    out = strict.predict(images, verbose=0)
    assert out["boxes"].shape == (3, 100, 4)
    assert out["scores"].shape == (3, 100)
    assert out["classes"].shape == (3, 100)
    for b in range(3):
        n = int(out["num_detections"][b])
        assert np.all(out["scores"][b, n:] == -1) and np.all(out["classes"][b, n:] == -1)
        assert np.all(out["scores"][b, :n] >= 0.2)
    assert np.all(out["num_detections"] < every_peak)
