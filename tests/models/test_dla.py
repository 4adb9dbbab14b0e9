"""DLA-34 base and DLASeg backbones: exact architecture vs the reference, shapes, saving, fit.

Reference figures: tests/data/reference/architectures.json (``dlav0_dla34_base``,
``dlav0_dlaseg_dla34``). Torch ``parameters()`` hold BN gamma/beta only; Keras also holds the BN
moving statistics (non-trainable). So trainable Keras weights are compared with torch parameters,
and ``count_params()`` with torch parameters + BN running statistics.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from reference_data import load_json

from centernet_keras.backbones import build_backbone, dla34_base
from centernet_keras.layers import DeformConv2D, DepthwiseConv2DTranspose
from centernet_keras.models import build_centernet
from centernet_keras.models.features import feature_model
from centernet_keras.targets import encode_targets

ARCH = load_json("architectures.json")
FC = 513_000  # base.fc: 1000-way 1×1 conv with bias; the classifier is not part of a backbone
# The reference Tree(levels=2) owns a `project` whose output its forward discards (tree1
# recomputes its own); level3 and level4 hold one each. We do not build them (see dla.py).
DEAD_MODULES = ("level3.project.", "level4.project.")
TORCH_PERM = {"conv": (2, 3, 1, 0), "up": (2, 3, 0, 1)}
BN_NAMES = {
    "weight": "gamma",
    "bias": "beta",
    "running_mean": "moving_mean",
    "running_var": "moving_variance",
}


def _size(shapes: dict, keys) -> int:
    return sum(int(np.prod(shapes[k])) for k in keys)


def _dead(shapes: dict) -> tuple[int, int]:
    """(parameters, BN running-stat elements) of the reference's never-used projections."""
    keys = [
        k
        for k in shapes
        if k.removeprefix("base.").startswith(DEAD_MODULES) and "num_batches" not in k
    ]
    stats = [k for k in keys if "running" in k]
    return _size(shapes, set(keys) - set(stats)), _size(shapes, stats)


def _trainable(model: keras.Model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def test_dead_projections_are_what_the_module_docstring_says():
    assert _dead(ARCH["dlav0_dla34_base"]["state_dict_shapes"]) == (41_728, 768)


def test_base_parameter_count_is_the_reference_exactly():
    ref = ARCH["dlav0_dla34_base"]
    dead, dead_stats = _dead(ref["state_dict_shapes"])
    base = dla34_base((64, 96, 3))
    assert ref["num_parameters_without_fc"] == 15_270_832
    assert (dead, dead_stats) == (41_728, 768)  # kept: the reference computes and discards them
    assert _trainable(base) == ref["num_parameters_without_fc"] == 15_270_832
    bn_stats = ref["bn_running_stats_elements"]
    assert base.count_params() == ref["keras_count_params_expected_if_identical"] - FC
    assert base.count_params() == _trainable(base) + bn_stats


def test_base_levels_strides_and_channels():
    base = dla34_base((None, None, 3))
    levels = base(np.random.default_rng(0).uniform(0, 255, (1, 64, 96, 3)).astype("float32"))
    assert [tuple(x.shape) for x in levels] == [
        (1, 64 // s, 96 // s, c)
        for s, c in zip((1, 2, 4, 8, 16, 32), (16, 32, 64, 128, 256, 512), strict=True)
    ]


def _keras_weight(model: keras.Model, key: str):
    """The Keras variable that holds reference ``state_dict`` entry ``key``, and its torch perm."""
    module, param = key.rsplit(".", 1)
    top, path = module.split(".", 1)
    owner = model.get_layer("dla34_base") if top == "base" else model
    layer = owner.get_layer((path if top == "base" else module).replace(".", "_"))
    if isinstance(layer, keras.layers.BatchNormalization):
        return getattr(layer, BN_NAMES[param]), None
    if isinstance(layer, DepthwiseConv2DTranspose):
        return layer.kernel, TORCH_PERM["up"]
    assert isinstance(layer, keras.layers.Conv2D), key
    return (layer.kernel, TORCH_PERM["conv"]) if param == "weight" else (layer.bias, None)


def test_every_reference_tensor_has_one_keras_home_of_the_same_shape():
    """Plain DLASeg vs ``dlav0_dlaseg_dla34.state_dict_shapes``: a bijection, shapes equal."""
    shapes = ARCH["dlav0_dlaseg_dla34"]["state_dict_shapes"]
    seg = feature_model("dla34_plain", input_shape=(64, 64, 3))
    claimed = {}
    for key, shape in shapes.items():
        skip = ("base.fc.", "hm.", "wh.", "reg.")
        if key.endswith("num_batches_tracked") or key.startswith(skip):
            continue
        weight, perm = _keras_weight(seg, key)
        want = tuple(shape) if perm is None else tuple(shape[p] for p in perm)
        assert tuple(weight.shape) == want, key
        assert id(weight) not in claimed, (key, claimed.get(id(weight)))
        claimed[id(weight)] = key
    assert len(claimed) == len(seg.weights)


def test_dlaseg_plain_count_is_the_reference_exactly():
    ref = ARCH["dlav0_dlaseg_dla34"]
    # Reference heads: conv3x3(64→256, bias) + ReLU + conv1x1 — head_batchnorm=False is that.
    model = build_centernet(20, "dla34_plain", (64, 64, 3), head_batchnorm=False)
    assert model.neck_filters == () and model.head_channels == 256
    assert _trainable(model) == ref["num_parameters_torch"] - FC == 17_946_056
    assert model.count_params() == ref["keras_count_params_expected_if_identical"] - FC
    assert _trainable(model.backbone) == _trainable(dla34_base())  # the neck is the model's
    modules = ref["params_per_top_level_module"]
    assert _trainable(model) - _trainable(model.backbone) == sum(
        modules[m] for m in ("dla_up", "hm", "wh", "reg")
    )
    ups = [
        layer for layer in model._flatten_layers() if isinstance(layer, DepthwiseConv2DTranspose)
    ]
    assert sorted((u.name, u.factor) for u in ups) == sorted(
        (t["module"].replace(".", "_"), t["stride"][0]) for t in ref["conv_transpose2d"]
    )
    # This project's default heads put BN where the reference has a conv bias: +256 γβ − 256
    # bias + 512 moving statistics per head.
    ours = build_centernet(20, "dla34_plain", (64, 64, 3))
    assert _trainable(ours) == _trainable(model) + 3 * 256
    assert ours.count_params() == model.count_params() + 3 * (256 + 512)


def _dcn(c_in: int, c_out: int) -> int:
    """pose_dla_dcn DeformConv: DCN 3×3 (weight, bias, conv_offset_mask 27 ch + bias) + BN γβ."""
    return 9 * c_in * c_out + c_out + 27 * 9 * c_in + 27 + 2 * c_out


def test_dlaseg_dcn_matches_centernet_dla34_layout():
    """CenterNet's default ``dla_34`` (pose_dla_dcn): DLAUp of DeformConvs + final IDAUp."""
    seg = feature_model("dla34", input_shape=(64, 64, 3))
    ups = {
        "dla_up_ida_0": [(512, 256, 2)],
        "dla_up_ida_1": [(256, 128, 2)] * 2,
        "dla_up_ida_2": [(128, 64, 2)] * 3,
        "ida_up": [(128, 64, 2), (256, 64, 4)],
    }
    neck, dcn_names, up_names = 0, set(), {}
    for prefix, entries in ups.items():
        for k, (c_in, c_out, factor) in enumerate(entries, start=1):
            neck += _dcn(c_in, c_out) + _dcn(c_out, c_out) + c_out * (2 * factor) ** 2
            dcn_names |= {f"{prefix}_proj_{k}_conv", f"{prefix}_node_{k}_conv"}
            up_names[f"{prefix}_up_{k}"] = factor
    assert _trainable(seg) == 15_270_832 + neck == 19_211_168
    layers = list(seg._flatten_layers())
    assert {la.name for la in layers if isinstance(la, DeformConv2D)} == dcn_names
    assert {la.name: la.factor for la in layers if isinstance(la, DepthwiseConv2DTranspose)} == (
        up_names
    )


@pytest.mark.parametrize("name", ["dla34_plain", "dla34"])
def test_output_is_stride_4_64_channels_for_non_square_inputs(name):
    dynamic = feature_model(name, input_shape=(None, None, 3))
    rng = np.random.default_rng(0)
    for h, w in [(64, 96), (96, 32)]:
        out = dynamic(rng.uniform(0, 255, (2, h, w, 3)).astype("float32"))
        assert out.shape == (2, h // 4, w // 4, 64)
    assert feature_model(name, input_shape=(64, 96, 3)).output.shape == (None, 16, 24, 64)


def test_build_centernet_defaults_and_errors():
    model = build_centernet(2, "dla34_plain", (64, 64, 3), head_channels=32)
    assert model.neck_filters == () and model.head_channels == 32
    assert model(np.zeros((1, 64, 64, 3)))["heatmap"].shape == (1, 16, 16, 2)
    with pytest.raises(ValueError, match="no Keras ImageNet weights"):
        build_backbone("dla34", (64, 64, 3), weights="imagenet")


def _randomise_offsets(model: keras.Model, rng) -> None:
    """Non-zero offset convs, so the deformable sampling really moves (init is zero)."""
    for layer in model._flatten_layers():
        if isinstance(layer, DeformConv2D):
            layer.offset_kernel.assign(rng.normal(0, 0.05, layer.offset_kernel.shape))
            layer.offset_bias.assign(rng.normal(0, 1.0, layer.offset_bias.shape))


@pytest.mark.parametrize("name", ["dla34_plain", "dla34"])
def test_keras_round_trip_safe_mode(name, tmp_path):
    rng = np.random.default_rng(0)
    model = build_centernet(2, name, (None, None, 3), head_channels=32)
    _randomise_offsets(model, rng)
    images = rng.uniform(0, 255, (1, 64, 96, 3)).astype("float32")
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    for key, value in model(images).items():
        np.testing.assert_array_equal(np.asarray(loaded(images)[key]), np.asarray(value))


def _synthetic(n: int, size: int = 64, num_classes: int = 2, max_objects: int = 3):
    """Coloured rectangles (class = colour channel) on dark noise, with CenterNet targets."""
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 60, (n, size, size, 3)).astype("float32")
    boxes = np.zeros((n, max_objects, 4), np.float32)
    classes = np.full((n, max_objects), -1, np.int32)
    for i in range(n):
        for j in range(rng.integers(1, max_objects + 1)):
            w, h = rng.integers(12, 28, 2)
            x1, y1 = rng.integers(0, size - w), rng.integers(0, size - h)
            c = rng.integers(0, num_classes)
            images[i, y1 : y1 + h, x1 : x1 + w, c] = 255.0
            boxes[i, j], classes[i, j] = (x1, y1, x1 + w, y1 + h), c

    def to_targets(image, b, c):
        return image, encode_targets(b, c, (size, size), num_classes, max_objects=max_objects)

    return tf.data.Dataset.from_tensor_slices((images, boxes, classes)).map(to_targets)


@pytest.mark.slow
def test_fit_reduces_loss_plain():
    keras.utils.set_random_seed(0)
    model = build_centernet(2, "dla34_plain", (64, 64, 3))
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = model.fit(_synthetic(16).batch(8), epochs=8, verbose=0).history
    assert np.all(np.isfinite(history["loss"]))
    assert history["loss"][-1] < 0.5 * history["loss"][0], history["loss"]
    assert history["heatmap_loss"][-1] < history["heatmap_loss"][0]


@pytest.mark.kernels
@pytest.mark.slow
def test_one_step_reduces_loss_dcn():
    keras.utils.set_random_seed(0)
    model = build_centernet(2, "dla34", (64, 64, 3))
    # Adam moves every offset-conv weight by ~lr; an offset sums 9·C_in positive (post-ReLU)
    # inputs, so lr 1e-3 would jump the sampling points by ~1 px in one step. The reference
    # trains DCN at 1.25e-4 (batch 32).
    model.compile(optimizer=keras.optimizers.Adam(1e-4))
    # One batch: epoch 1 logs the loss before the first update, epoch 2 after it.
    history = model.fit(_synthetic(8).batch(8), epochs=2, verbose=0).history
    assert np.all(np.isfinite(history["loss"]))
    assert history["loss"][1] < history["loss"][0], history["loss"]
    moved = [
        layer.offset_kernel.numpy()
        for layer in model._flatten_layers()
        if isinstance(layer, DeformConv2D)
    ]
    assert all(np.abs(k).max() > 0 for k in moved)  # the offset convs learn
