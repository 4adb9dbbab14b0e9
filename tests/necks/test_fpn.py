"""The FPN neck: P3–P5 at strides 8/16/32, nearest top-down merge by addition, registered as a
pyramid neck; one-map detectors refuse it clearly."""

import keras
import numpy as np
import pytest

from centernet_keras.models import build_centernet
from centernet_keras.necks import NECKS, PYRAMID_NECKS, build_neck, fpn_neck

WIDTHS = {"P2": 4, "P3": 6, "P4": 10, "P5": 12}


def _pyramid_inputs() -> dict:
    return {level: keras.Input((None, None, c), name=level) for level, c in WIDTHS.items()}


def test_levels_strides_and_width():
    inputs = _pyramid_inputs()
    model = keras.Model(inputs, build_neck("fpn", inputs, channels=16))
    sizes = {level: (128 // 2 ** int(level[1]), 96 // 2 ** int(level[1])) for level in WIDTHS}
    out = model({k: np.zeros((2, *sizes[k], c), "float32") for k, c in WIDTHS.items()})
    assert list(out) == ["P3", "P4", "P5"]
    assert out["P3"].shape == (2, 16, 12, 16)
    assert out["P4"].shape == (2, 8, 6, 16)
    assert out["P5"].shape == (2, 4, 3, 16)
    assert NECKS["fpn"] is fpn_neck and set(PYRAMID_NECKS) == {"fpn"}
    # default width 64 (DESIGN.md); 1x1 laterals + 3x3 outputs, with biases, no BN
    default = keras.Model(inputs, fpn_neck(inputs))
    assert default.output["P3"].shape[-1] == 64
    laterals = sum(c * 64 + 64 for level, c in WIDTHS.items() if level != "P2")
    assert default.count_params() == laterals + 3 * (9 * 64 * 64 + 64)


def test_top_down_merge_is_nearest_upsampling_added_to_the_lateral():
    """With identity laterals and identity output convs, P3 = C3 + up2(C4 + up2(C5))."""
    c = 3
    inputs = {level: keras.Input((None, None, c), name=level) for level in ("P3", "P4", "P5")}
    model = keras.Model(inputs, fpn_neck(inputs, channels=c))
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            k = layer.kernel.shape[0]
            kernel = np.zeros(layer.kernel.shape, "float32")
            kernel[k // 2, k // 2] = np.eye(c)
            layer.kernel.assign(kernel)
            layer.bias.assign(np.zeros(c, "float32"))
    rng = np.random.default_rng(0)
    c5 = rng.normal(size=(1, 2, 3, c)).astype("float32")
    c4 = rng.normal(size=(1, 4, 6, c)).astype("float32")
    c3 = rng.normal(size=(1, 8, 12, c)).astype("float32")
    out = model({"P3": c3, "P4": c4, "P5": c5})

    def up(x):
        return x.repeat(2, axis=1).repeat(2, axis=2)

    np.testing.assert_allclose(np.asarray(out["P5"]), c5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(out["P4"]), c4 + up(c5), atol=1e-6)
    np.testing.assert_allclose(np.asarray(out["P3"]), c3 + up(c4 + up(c5)), atol=1e-6)


def test_missing_level_and_width_are_errors():
    inputs = {"P5": keras.Input((None, None, 8))}
    with pytest.raises(ValueError, match="no \\['P3', 'P4'\\]"):
        fpn_neck(inputs)
    with pytest.raises(ValueError, match="channels >= 1"):
        fpn_neck(_pyramid_inputs(), channels=0)


def test_a_one_map_detector_refuses_the_fpn():
    with pytest.raises(ValueError, match="gives a pyramid \\['P3', 'P4', 'P5'\\]"):
        build_centernet(2, "resnet18", (64, 64, 3), neck="fpn", neck_filters=())
