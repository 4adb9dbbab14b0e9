"""The FCOS head: one set of weights for every level, outputs flat in the location order,
class prior bias, non-negative deltas, centerness on the box stem, optional GroupNorm."""

import math

import keras
import numpy as np
import pytest

from centernet_keras.heads.fcos import CLASS_BIAS, fcos_head, fcos_head_outputs

F, C = 8, 3


def _levels_model(head: keras.Model) -> keras.Model:
    inputs = {level: keras.Input((None, None, F), name=level) for level in ("P3", "P4", "P5")}
    return keras.Model(inputs, fcos_head_outputs(inputs, head))


def _levels(rng, hw=(8, 12)) -> dict:
    h, w = hw
    return {
        f"P{3 + i}": rng.normal(size=(2, h // 2**i, w // 2**i, F)).astype("float32")
        for i in range(3)
    }


def test_one_head_for_every_level_flat_in_location_order(rng):
    head = fcos_head(C, F, stem_channels=(16, 16))
    model = _levels_model(head)
    # the weights exist once: the whole model holds exactly the head's parameters
    assert model.count_params() == head.count_params()
    levels = _levels(rng)
    out = model(levels)
    counts = [x.shape[1] * x.shape[2] for x in levels.values()]
    assert out["classes"].shape == (2, sum(counts), C)
    assert out["deltas"].shape == (2, sum(counts), 4)
    assert out["centerness"].shape == (2, sum(counts))
    start = 0
    for x, n in zip(levels.values(), counts, strict=True):  # each level = the head on it
        own = head(x)
        for key in ("classes", "deltas"):
            want = np.asarray(own[key]).reshape(2, n, -1)  # row-major inside the level
            np.testing.assert_allclose(np.asarray(out[key])[:, start : start + n], want, atol=1e-6)
        want = np.asarray(own["centerness"]).reshape(2, n)
        np.testing.assert_allclose(np.asarray(out["centerness"])[:, start : start + n], want)
        start += n


def test_parameters_and_class_prior():
    head = fcos_head(C, F, stem_channels=(16, 16), group_norm=False)
    stems = 2 * ((9 * F * 16 + 16) + (9 * 16 * 16 + 16))
    predictors = (9 * 16 * C + C) + (9 * 16 * 4 + 4) + (9 * 16 + 1)
    assert head.count_params() == stems + predictors
    np.testing.assert_allclose(CLASS_BIAS, -math.log(99.0))
    np.testing.assert_allclose(np.asarray(head.get_layer("classes").bias), CLASS_BIAS)
    np.testing.assert_allclose(keras.ops.sigmoid(CLASS_BIAS), 0.01, rtol=1e-6)


def test_outputs_stay_float32_under_mixed_precision(rng):
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = _levels_model(fcos_head(C, F, stem_channels=(16,)))
        out = model(_levels(rng))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert model.get_layer("fcos_head").get_layer("cls_stem0_conv").compute_dtype == "bfloat16"
    assert {keras.backend.standardize_dtype(v.dtype) for v in out.values()} == {"float32"}


def test_deltas_are_non_negative(rng):
    head = fcos_head(C, F, stem_channels=(16,))
    conv = head.get_layer("deltas_conv")
    # the conv's own output has both signs (seeded weights, not Keras' unseeded initialiser)
    conv.kernel.assign(rng.normal(scale=0.5, size=conv.kernel.shape).astype("float32"))
    conv.bias.assign(np.array([-1.0, 0.5, -0.2, 2.0], "float32"))
    raw = keras.Model(head.inputs, conv.output)
    x = rng.normal(size=(2, 6, 6, F)).astype("float32")
    before = np.asarray(raw(x))
    assert (before < 0).mean() > 0.1 and (before > 0).mean() > 0.1
    deltas = np.asarray(head(x)["deltas"])
    np.testing.assert_allclose(deltas, np.maximum(before, 0.0), atol=1e-6)


def test_centerness_reads_the_box_stem_and_stems_are_separate():
    head = fcos_head(C, F, stem_channels=(16, 16))
    last = {name: head.get_layer(name).input for name in ("classes", "deltas_conv", "centerness")}
    assert last["centerness"] is last["deltas_conv"]  # the box stem's output
    assert last["classes"] is not last["deltas_conv"]
    assert head.get_layer("box_stem1_relu").output is last["centerness"]


def test_group_norm_groups_and_no_batchnorm():
    wide = fcos_head(C, F, stem_channels=(64, 48))
    norms = [x for x in wide.layers if isinstance(x, keras.layers.GroupNormalization)]
    assert sorted(x.groups for x in norms) == [16, 16, 32, 32]  # gcd(width, 32)
    plain = fcos_head(C, F, stem_channels=(64,), group_norm=False)
    for head in (wide, plain):
        assert not any(isinstance(x, keras.layers.BatchNormalization) for x in head.layers)
    assert not any(isinstance(x, keras.layers.GroupNormalization) for x in plain.layers)
    direct = fcos_head(C, F, stem_channels=())  # predictors on the level itself
    assert direct.get_layer("classes").kernel.shape == (3, 3, F, C)


def test_bad_settings_are_errors():
    with pytest.raises(ValueError, match="num_classes"):
        fcos_head(0, F)
    with pytest.raises(ValueError, match="stem_channels"):
        fcos_head(C, F, stem_channels=(16, 0))
