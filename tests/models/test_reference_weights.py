"""``load_reference_weights``: reference checkpoints' keys → Keras weights, layouts, head rules.

State dicts are synthetic: the key names and shapes the reference code produces
(``dla34_dcn_state_dicts.json``: CenterNet ``pose_dla_dcn`` ctdet / multi_pose / ImageNet DLA-34;
``architectures.json``: ``dlav0`` DLASeg; ``torchvision_resnet18_state_dict.json``), filled with
the formula weights of README section 14 (every entry distinct). Layout conversions are checked
numerically, layer by layer, against ``torch.nn.functional`` on the torch-layout arrays.
"""

import functools
import types
import warnings

import keras
import numpy as np
import pytest
from reference_data import formula_state_dict, load_json

from centernet_keras.backbones import build_backbone
from centernet_keras.layers import deform_conv2d
from centernet_keras.models import build_centernet, build_centernet_pose
from centernet_keras.models.reference_weights import (
    checkpoint_state_dict,
    dla_up_modules,
    load_reference_weights,
)

DCN = load_json("dla34_dcn_state_dicts.json")
PLAIN = load_json("architectures.json")["dlav0_dlaseg_dla34"]["state_dict_shapes"]
RESNET18 = load_json("torchvision_resnet18_state_dict.json")["resnet18"]["state_dict"]
COUNTER = "num_batches_tracked"


def synthetic(entries) -> dict[str, np.ndarray]:
    """Formula arrays for ``[key, shape]`` entries; BN counters as the int64 scalars torch has."""
    entries = [(k, s) for k, s in entries]
    state = formula_state_dict([(k, s) for k, s in entries if not k.endswith(COUNTER)])
    return {k: state.get(k, np.array(7, np.int64)) for k, _ in entries}


@functools.cache
def reference(name: str) -> dict[str, np.ndarray]:
    """The synthetic state dict of a ``dla34_dcn_state_dicts.json`` entry (built once)."""
    return synthetic(DCN[name]["state_dict"])


@pytest.fixture(scope="module")
def box():
    """ctdet DLA-34 + DCN in the reference layout (80 classes, heads 256 with bias)."""
    return build_centernet(80, "dla34", (64, 64, 3), head_batchnorm=False)


@pytest.fixture(scope="module")
def pose():
    return build_centernet_pose(17, "dla34", (64, 64, 3), head_batchnorm=False)


@pytest.fixture(scope="module")
def plain():
    """dlav0 DLASeg as architectures.json has it (20 classes)."""
    return build_centernet(20, "dla34_plain", (64, 64, 3), head_batchnorm=False)


@pytest.fixture(scope="module")
def resnet18():
    return build_backbone("resnet18", (64, 64, 3))


def _sums(array) -> np.ndarray:
    """Independent of the layout (a transpose keeps them): size, sum and sum of squares."""
    flat = np.asarray(array, np.float64).ravel()
    return np.array([flat.size, flat.sum(), np.square(flat).sum()])


def _assert_bijection(model: keras.Model, state: dict, loaded) -> None:
    """Every loaded key sits in exactly one Keras weight of the same size, every weight holds
    one key (matched by value, so a key loaded twice or a weight set twice shows)."""
    keys = list(loaded)
    table = np.stack([_sums(state[k]) for k in keys])  # [K, 3]
    homes = {}
    for weight in model.weights:
        found = np.flatnonzero(np.all(np.isclose(table, _sums(weight.numpy()), rtol=1e-7), axis=1))
        assert len(found) == 1, f"{weight.path} holds {[keys[i] for i in found]}, not one entry"
        key = keys[found[0]]
        assert sorted(weight.shape) == sorted(np.shape(state[key])), (key, weight.path)
        assert key not in homes, (key, homes.get(key), weight.path)
        homes[key] = weight.path
    assert sorted(homes) == sorted(keys)


@pytest.mark.parametrize(
    ("fixture", "entries", "architecture", "classifier"),
    [
        ("box", "ctdet_dla34", "dlaseg_dcn", "base.fc."),
        ("pose", "multi_pose_dla34", "dlaseg_dcn", "base.fc."),
        ("plain", PLAIN.items(), "dlaseg_plain", "base.fc."),
        ("resnet18", RESNET18, "resnet18", "fc."),
    ],
)
def test_every_reference_key_maps_to_one_keras_weight(
    request, fixture, entries, architecture, classifier
):
    model = request.getfixturevalue(fixture)
    state = reference(entries) if isinstance(entries, str) else synthetic(entries)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the reference layout loads without any head rule
        report = load_reference_weights(model, state)
    assert report.architecture == architecture
    assert report.skipped == {} and report.kept == ()
    ignored = {k for k in state if k.endswith(COUNTER) or k.startswith(classifier)}
    assert set(report.ignored) == ignored and len(ignored) > 2  # BN counters + classifier
    assert len(report.loaded) + len(report.ignored) == len(state)
    _assert_bijection(model, state, report.loaded)
    assert model.count_params() == sum(np.size(state[k]) for k in report.loaded)
    preprocess = [x.mode for x in model._flatten_layers() if x.name == "preprocess"]
    assert preprocess == ["torch" if fixture == "resnet18" else "centernet"]


def test_imagenet_dla34_into_the_backbone(box):
    state = reference("dla34_imagenet")
    report = load_reference_weights(box.backbone, state)
    assert report.architecture == "dla34" and set(report.ignored) >= {"fc.weight", "fc.bias"}
    _assert_bijection(box.backbone, state, report.loaded)
    assert box.backbone.pretrained_layers == ("dla34_base",)
    assert box.backbone.get_layer("dla34_base").get_layer("preprocess").mode == "torch"
    # the detector reads the same layers: the backbone part of box now holds ImageNet weights
    ref = state["level5.root.conv.weight"]
    kernel = box.backbone.get_layer("dla34_base").get_layer("level5_root_conv").kernel
    np.testing.assert_array_equal(kernel.numpy(), ref.transpose(2, 3, 1, 0))


def test_module_lists_follow_the_reference_state_dicts():
    modules = list(dict.fromkeys(k.rsplit(".", 1)[0] for k in PLAIN if k.startswith("dla_up.")))
    assert dla_up_modules(dcn=False) == modules
    dcn = [k for k, _ in DCN["ctdet_dla34"]["state_dict"] if k.startswith(("dla_up.", "ida_up."))]
    dcn_modules = list(
        dict.fromkeys(k.replace(".conv_offset_mask", "").rsplit(".", 1)[0] for k in dcn)
    )
    ours = dla_up_modules(dcn=True)
    assert len(ours) == len(set(ours)) == len(dcn_modules) and set(ours) == set(dcn_modules)


# --- layouts, numerically (torch.nn.functional on the torch arrays) ---------------------------


@pytest.fixture(scope="module")
def loaded_box(box):
    state = reference("ctdet_dla34")
    load_reference_weights(box, state)
    return box, state


def _nchw(x):
    import torch

    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


def _nhwc(t) -> np.ndarray:
    return t.detach().numpy().transpose(0, 2, 3, 1)


def _input(c: int, seed: int = 0, size=(6, 7)) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 1, (2, *size, c)).astype(np.float32)


def _layer(model, name):
    base = model.backbone.get_layer("dla34_base")
    return (
        base.get_layer(name) if name in {la.name for la in base.layers} else model.get_layer(name)
    )


@pytest.mark.parametrize(
    ("layer", "key", "padding"),
    [
        ("base_layer_0", "base.base_layer.0", 3),  # 7x7 stem
        ("level2_tree1_conv2", "base.level2.tree1.conv2", 1),
        ("level3_tree2_root_conv", "base.level3.tree2.root.conv", 0),  # 1x1 over the concat
        ("heatmap_conv", "hm.0", 1),  # head 3x3 with bias
        ("heatmap", "hm.2", 0),
    ],
)
@pytest.mark.kernels
def test_conv_layout_matches_torch_conv2d(loaded_box, layer, key, padding):
    torch = pytest.importorskip("torch")
    model, state = loaded_box
    conv = _layer(model, layer)
    x = _input(conv.kernel.shape[2])
    weight = torch.from_numpy(state[f"{key}.weight"])
    bias = state.get(f"{key}.bias")
    ref = torch.nn.functional.conv2d(
        _nchw(x), weight, None if bias is None else torch.from_numpy(bias), padding=padding
    )
    np.testing.assert_allclose(np.asarray(conv(x)), _nhwc(ref), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("layer", "key"),
    [("base_layer_1", "base.base_layer.1"), ("ida_up_node_2_actf_0", "ida_up.node_2.actf.0")],
)
@pytest.mark.kernels
def test_batchnorm_layout_matches_torch_batch_norm(loaded_box, layer, key):
    torch = pytest.importorskip("torch")
    model, state = loaded_box
    bn = _layer(model, layer)
    x = _input(bn.gamma.shape[0])
    args = [
        torch.from_numpy(state[f"{key}.{p}"])
        for p in ("running_mean", "running_var", "weight", "bias")
    ]
    ref = torch.nn.functional.batch_norm(_nchw(x), *args, training=False, eps=1e-5)
    np.testing.assert_allclose(np.asarray(bn(x, training=False)), _nhwc(ref), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("layer", "key", "factor"),
    [("dla_up_ida_2_up_3", "dla_up.ida_2.up_3", 2), ("ida_up_up_2", "ida_up.up_2", 4)],
)
@pytest.mark.kernels
def test_depthwise_upsampling_matches_torch_conv_transpose2d(loaded_box, layer, key, factor):
    torch = pytest.importorskip("torch")
    model, state = loaded_box
    up = _layer(model, layer)
    weight = state[f"{key}.weight"]  # [C, 1, 2f, 2f], groups = C
    x = _input(weight.shape[0])
    ref = torch.nn.functional.conv_transpose2d(
        _nchw(x),
        torch.from_numpy(weight),
        stride=factor,
        padding=factor // 2,
        groups=weight.shape[0],
    )
    np.testing.assert_allclose(np.asarray(up(x)), _nhwc(ref), rtol=1e-5, atol=1e-5)


@pytest.mark.kernels
def test_deformable_conv_layout_matches_torch(loaded_box):
    """DCN: the offset/mask conv and the main kernel (zero offsets, mask 1 = a plain conv)."""
    torch = pytest.importorskip("torch")
    model, state = loaded_box
    dcn = _layer(model, "dla_up_ida_1_proj_2_conv")
    key = "dla_up.ida_1.proj_2.conv"
    x = _input(dcn.kernel.shape[2])
    offsets, mask = dcn.offsets_and_mask(x)
    raw = torch.nn.functional.conv2d(
        _nchw(x),
        torch.from_numpy(state[f"{key}.conv_offset_mask.weight"]),
        torch.from_numpy(state[f"{key}.conv_offset_mask.bias"]),
        padding=1,
    )
    raw = _nhwc(raw)
    np.testing.assert_allclose(np.asarray(offsets), raw[..., :18], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        np.asarray(mask), 1 / (1 + np.exp(-raw[..., 18:])), rtol=1e-5, atol=1e-6
    )
    zero = np.zeros((*x.shape[:3], 18), np.float32)
    plain = deform_conv2d(x, zero, np.ones((*x.shape[:3], 9), np.float32), dcn.kernel, dcn.bias)
    ref = torch.nn.functional.conv2d(
        _nchw(x),
        torch.from_numpy(state[f"{key}.weight"]),
        torch.from_numpy(state[f"{key}.bias"]),
        padding=1,
    )
    np.testing.assert_allclose(np.asarray(plain), _nhwc(ref), rtol=1e-4, atol=1e-4)


# --- head rules (fine-tuning) -----------------------------------------------------------------


def test_other_class_count_keeps_the_last_heatmap_conv(plain):
    entries = [(k, [80, *s[1:]] if k.startswith("hm.2.") else s) for k, s in PLAIN.items()]
    state = synthetic(entries)  # a COCO (80-class) dlav0 checkpoint into the 20-class model
    before = plain.get_layer("heatmap").kernel.numpy().copy()
    with pytest.warns(UserWarning, match="80 outputs in the checkpoint, 20 in the model"):
        report = load_reference_weights(plain, state)
    assert set(report.skipped) == {"hm.2.weight", "hm.2.bias"} and report.kept == ("heatmap",)
    np.testing.assert_array_equal(plain.get_layer("heatmap").kernel.numpy(), before)
    conv = plain.get_layer("heatmap_conv").kernel.numpy()
    np.testing.assert_array_equal(conv, state["hm.0.weight"].transpose(2, 3, 1, 0))


def test_batchnorm_heads_are_left_as_initialised():
    model = build_centernet(3, "dla34_plain", (64, 64, 3))  # this project's heads: conv + BN
    state = synthetic(PLAIN.items())
    with pytest.warns(UserWarning, match="head_batchnorm=False, head_channels=256"):
        report = load_reference_weights(model, state)
    assert len(report.skipped) == 12 and "heatmap_bn" in report.kept
    np.testing.assert_array_equal(model.get_layer("heatmap_bn").gamma.numpy(), 1.0)
    assert model.pretrained_layers == tuple(x.name for x in model.backbone.layers if x.weights)


def test_pose_checkpoint_into_a_box_model_and_heads_false(box):
    state = reference("multi_pose_dla34")
    with pytest.warns(UserWarning, match="1 outputs in the checkpoint, 80 in the model"):
        report = load_reference_weights(box, state)
    assert {k.split(".")[0] for k in report.skipped} == {"hm", "hps", "hm_hp", "hp_offset"}
    assert report.skipped["hps.0.weight"] == "the model has no such head"
    ctdet = reference("ctdet_dla34")
    report = load_reference_weights(box, ctdet, heads=False)
    assert len(report.skipped) == 12 and len(report.kept) == 6
    assert all(reason == "heads=False" for reason in report.skipped.values())


# --- errors: one line naming the key, nothing assigned ------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda s: s.pop("layer3.1.bn2.running_var"),
            r"missing 1 key\(s\): \['layer3.1.bn2.running_var'\]",
        ),
        (
            lambda s: s.update({"layer3.1.bn3.weight": s["layer3.1.bn2.weight"]}),
            r"unexpected key\(s\): \['layer3.1.bn3.weight'\]",
        ),
        (
            lambda s: s.update({"conv1.weight": s["conv1.weight"][:, :2]}),
            r"state_dict\['conv1.weight'\] has shape \(64, 2, 7, 7\)",
        ),
    ],
)
def test_bad_state_dict_is_one_line_naming_the_key(resnet18, change, message):
    state = synthetic(RESNET18)
    before = [w.numpy().copy() for w in resnet18.weights[:3]]
    change(state)
    with pytest.raises(ValueError, match=message) as err:
        load_reference_weights(resnet18, state)
    assert "\n" not in str(err.value)
    for old, weight in zip(before, resnet18.weights[:3], strict=True):
        np.testing.assert_array_equal(weight.numpy(), old)


def test_head_key_of_an_unknown_part_and_models_without_a_reference(plain):
    state = synthetic(PLAIN.items())
    state["hm.1.weight"] = state["hm.0.bias"]
    with pytest.raises(ValueError, match=r"'hm\.1\.weight' is not a reference head parameter"):
        load_reference_weights(plain, state)
    other = types.SimpleNamespace(  # a detector's attributes, without building one
        name="centernet", backbone=types.SimpleNamespace(name="mobilenetv3_small"), neck="skip"
    )
    with pytest.raises(ValueError, match="backbone 'mobilenetv3_small' and neck 'skip'"):
        load_reference_weights(other, {})
    with pytest.raises(ValueError, match="model 'regnetx_400mf' has no reference checkpoint"):
        load_reference_weights(types.SimpleNamespace(name="regnetx_400mf"), {})


def test_checkpoint_state_dict_unwraps_the_zoo_files():
    weight = np.zeros((2, 3))
    assert checkpoint_state_dict({"epoch": 140, "state_dict": {"module.hm.0.weight": weight}}) == {
        "hm.0.weight": weight
    }
    assert checkpoint_state_dict({"fc.bias": weight}) == {"fc.bias": weight}
    with pytest.raises(ValueError, match="'epoch' is a int"):
        checkpoint_state_dict({"epoch": 140, "fc.bias": weight})
