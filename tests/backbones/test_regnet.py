"""RegNetX-400MF vs torchvision ``regnet_x_400mf`` (tests/data/reference/regnet_x_400mf.npz).

The fixture stores no weights: every ``state_dict`` entry is a formula of its index and shape
(README section 14), rebuilt here, loaded with ``load_torchvision_weights`` and run on the
fixture's image. The classifier (global average pool + fc) is not part of the backbone: the
logits are computed here in NumPy from the formula ``fc.*`` weights, which the loader skips.
"""

import keras
import numpy as np
import pytest
from reference_data import formula_state_dict, load_npz, meta

from centernet_keras.backbones import BACKBONES, build_backbone, load_torchvision_weights
from centernet_keras.backbones.regnet import (
    IMAGENET_HELP,
    TORCHVISION_URLS,
    layer_name,
    regnetx_400mf,
    torchvision_modules,
)
from centernet_keras.models import build_centernet
from centernet_keras.training.trainer import set_frozen

REF = load_npz("regnet_x_400mf.npz")
META = meta(REF)
STAGES = ("stem", "stage1", "stage2", "stage3", "stage4")


STATE = formula_state_dict(META["state_dict"])


@pytest.fixture(scope="module")
def loaded() -> keras.Model:
    """The backbone (dynamic input size) with the fixture's weights."""
    return load_torchvision_weights(regnetx_400mf(), STATE)


@pytest.fixture(scope="module")
def outputs(loaded) -> dict[str, np.ndarray]:
    """Stem and stage outputs on the fixture's image, in eval mode."""
    probe = keras.Model(loaded.input, [loaded.get_layer("stem_2").output, loaded.output])
    stem, pyramid = probe(REF["image"], training=False)
    named = {"stem": stem, **{f"stage{i}": pyramid[f"P{i + 1}"] for i in range(1, 5)}}
    return {k: np.asarray(v) for k, v in named.items()}


def _trainable(model: keras.Model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def test_formula_covers_the_fixture_state_dict():
    params = sum(v.size for k, v in STATE.items() if "running" not in k)
    assert params == META["num_parameters_torch"] == 5_495_976
    assert sum(v.size for k, v in STATE.items() if "running" in k) == 37_856
    assert META["num_parameters_without_fc"] == 5_094_976


def test_parameter_counts_are_torchvision_exactly(loaded):
    assert _trainable(loaded) == 5_094_976  # torch parameters without fc (BN γβ trainable)
    non_trainable = sum(int(np.prod(w.shape)) for w in loaded.non_trainable_weights)
    assert non_trainable == META["bn_running_stats_elements"] == 37_856
    assert loaded.count_params() == 5_094_976 + 37_856


def test_layer_names_are_the_module_paths():
    modules = torchvision_modules()
    non_fc = [k for k, _ in META["state_dict"] if not k.startswith("fc.")]
    assert list(modules) == list(dict.fromkeys(k.rsplit(".", 1)[0] for k in non_fc))
    assert modules["stem.0"] == "stem_0" == layer_name("stem.0")
    block = "trunk_output.block2.block2-0.f.b.1"
    assert modules[block] == "trunk_output_block2_block2_0_f_b_1"
    assert len(set(modules.values())) == len(modules)


def test_architecture_facts(loaded):
    bns = [la for la in loaded.layers if isinstance(la, keras.layers.BatchNormalization)]
    assert {(la.epsilon, la.momentum) for la in bns} == {(1e-5, 0.9)}
    convs = [la for la in loaded.layers if isinstance(la, keras.layers.Conv2D)]
    assert not any(la.use_bias for la in convs)
    grouped = {la.name: la.groups for la in convs if la.groups > 1}
    threes = [la for la in convs if la.kernel_size == (3, 3) and la.name != "stem_0"]
    assert sorted(grouped) == sorted(la.name for la in threes)  # every block's 3x3, no other
    assert len(grouped) == sum((1, 2, 7, 12))
    assert all(la.groups == la.filters // 16 for la in threes)  # group width 16
    assert grouped["trunk_output_block1_block1_0_f_b_0"] == 2
    assert grouped["trunk_output_block4_block4_11_f_b_0"] == 25
    strided = [la for la in convs if la.strides == (2, 2)]
    assert len(strided) == 1 + 2 * 4  # stem + (3x3, projection) per stage
    assert all(la.padding == "valid" for la in strided)  # 3x3 after ZeroPadding2D(1); 1x1


@pytest.mark.kernels
@pytest.mark.parametrize("name", STAGES)
def test_stage_outputs_match_torchvision(outputs, name):
    ref = REF[name]
    got = outputs[name]
    assert got.shape == ref.shape
    atol = 1e-4 * max(1.0, float(np.abs(ref).max()))
    err = float(np.abs(got - ref).max())
    print(f"{name}: max |ref| {np.abs(ref).max():.4g}, max abs error {err:.3g} (atol {atol:.3g})")
    np.testing.assert_allclose(got, ref, atol=atol, rtol=0)


@pytest.mark.kernels
def test_logits_match_torchvision(outputs):
    pooled = outputs["stage4"].astype(np.float64).mean(axis=(1, 2))  # [2, 400]
    logits = pooled @ STATE["fc.weight"].T.astype(np.float64) + STATE["fc.bias"]  # [2, 1000]
    err = float(np.abs(logits - REF["logits"]).max())
    print(f"logits: max |ref| {np.abs(REF['logits']).max():.4g}, max abs error {err:.3g}")
    np.testing.assert_allclose(logits, REF["logits"], atol=1e-3, rtol=0)


def test_pretrained_layers_are_the_loaded_ones(loaded):
    weighted = [la.name for la in loaded.layers if la.weights]
    assert loaded.pretrained_layers == tuple(weighted)
    assert set(weighted) == set(torchvision_modules().values())
    assert regnetx_400mf((64, 64, 3)).pretrained_layers == ()


def _rejected(model: keras.Model, state: dict, match: str) -> None:
    """``state`` raises ValueError(match) and leaves every weight of ``model`` as it was."""
    before = [np.array(w) for w in model.weights]
    with pytest.raises(ValueError, match=match):
        load_torchvision_weights(model, state)
    for a, w in zip(before, model.weights, strict=True):
        np.testing.assert_array_equal(a, np.asarray(w))


def test_loader_rejects_missing_unexpected_and_misshaped_keys(loaded):
    key = "trunk_output.block3.block3-4.f.b.0.weight"
    missing = {k: v for k, v in STATE.items() if k != key}
    _rejected(loaded, missing, r"missing 1 key\(s\): \['trunk_output\.block3\.block3-4\.f\.b\.0")
    extra = {**STATE, "trunk_output.block4.block4-12.f.a.0.weight": STATE[key]}
    _rejected(loaded, extra, r"1 unexpected key\(s\): \['trunk_output\.block4\.block4-12\.f\.a")
    wrong = {**STATE, key: STATE[key].transpose(2, 3, 1, 0)}  # a Keras-layout kernel
    _rejected(loaded, wrong, r"state_dict\['trunk_output\.block3\.block3-4\.f\.b\.0\.weight'\]")
    bn = "stem.1.running_var"
    _rejected(loaded, {**STATE, bn: STATE[bn][:-1]}, r"'stem\.1\.running_var'\] has shape \(31,\)")


def test_loader_ignores_fc_and_num_batches_tracked_and_takes_any_input_size():
    model = regnetx_400mf((64, 96, 3))
    tracked = {k.rsplit(".", 1)[0] + ".num_batches_tracked": np.array(5) for k in STATE}
    load_torchvision_weights(model, {**STATE, **tracked, "fc.extra": np.zeros(3)})
    kernel = model.get_layer("trunk_output_block1_block1_0_f_b_0").kernel
    want = STATE["trunk_output.block1.block1-0.f.b.0.weight"].transpose(2, 3, 1, 0)
    np.testing.assert_array_equal(np.asarray(kernel), want)  # [3, 3, 16, 32]
    bn = model.get_layer("stem_1")
    np.testing.assert_array_equal(np.asarray(bn.moving_variance), STATE["stem.1.running_var"])
    with pytest.raises(ValueError, match="no layer 'stem_0'"):
        load_torchvision_weights(build_backbone("resnet18", (64, 64, 3)), STATE)


def test_pyramid_of_a_dynamic_non_square_input(loaded):
    assert BACKBONES["regnetx_400mf"] is regnetx_400mf
    out = loaded(np.zeros((1, 96, 64, 3), np.float32))
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "P2": (1, 24, 16, 32),
        "P3": (1, 12, 8, 64),
        "P4": (1, 6, 4, 160),
        "P5": (1, 3, 2, 400),
    }


def test_imagenet_weights_are_torchvisions():
    with pytest.raises(ValueError, match="load_torchvision_weights") as err:
        build_backbone("regnetx_400mf", (64, 64, 3), weights="imagenet")
    assert str(err.value) == IMAGENET_HELP
    assert TORCHVISION_URLS["IMAGENET1K_V1"].endswith("regnet_x_400mf-adf1edd5.pth")
    assert TORCHVISION_URLS["IMAGENET1K_V1"] in IMAGENET_HELP


@pytest.mark.kernels
def test_centernet_on_regnet_with_saved_torchvision_weights(loaded, tmp_path):
    """The README's weights path: torchvision weights → backbone → weights file → detector,
    whose freeze phase freezes exactly the loaded layers."""
    path = str(tmp_path / "regnetx_400mf.weights.h5")
    loaded.save_weights(path)
    model = build_centernet(3, backbone="regnetx_400mf", input_shape=(128, 128, 3), weights=path)
    assert (model.neck, model.neck_filters) == ("skip", (96, 64, 64))
    maps = model(np.zeros((2, 128, 128, 3), np.float32))
    assert {k: tuple(v.shape) for k, v in maps.items()} == {
        "heatmap": (2, 32, 32, 3),
        "size": (2, 32, 32, 2),
        "offset": (2, 32, 32, 2),
    }
    for a, b in zip(loaded.weights, model.backbone.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert model.pretrained_layers == loaded.pretrained_layers
    everything = {id(v) for v in model.trainable_weights}
    backbone = {id(v) for v in model.backbone.trainable_weights}
    assert set_frozen(model, True) == len(loaded.pretrained_layers)
    assert everything - {id(v) for v in model.trainable_weights} == backbone
    set_frozen(model, False)
    assert {id(v) for v in model.trainable_weights} == everything
