"""The freeze phase freezes exactly the layers loaded from pretrained weights (issue 8, #1)."""

import csv
import json
import logging

import keras
import numpy as np
import pytest
from conftest import config_dict

from centernet_keras import build_centernet
from centernet_keras.backbones.dla import dla34_backbone
from centernet_keras.backbones.resnet import resnet18_backbone
from centernet_keras.training import TrainConfig, train
from centernet_keras.training.trainer import set_frozen

SHAPE = (64, 64, 3)
FILL = 2.0**-6  # every pretrained value: exact in float32, a stable net, not a default init


def _applications(ctor, **kwargs):
    return lambda: ctor(input_shape=SHAPE, include_top=False, weights=None, **kwargs)


MOBILE = {"include_preprocessing": True}
# backbone name → the part a weights file fills (built alone)
SOURCES = {
    "resnet50": _applications(keras.applications.ResNet50),
    "resnet18": lambda: resnet18_backbone(SHAPE),
    "resnet18_fpn": lambda: resnet18_backbone(SHAPE),
    "mobilenetv3_large": _applications(keras.applications.MobileNetV3Large, **MOBILE),
    "mobilenetv3_small": _applications(keras.applications.MobileNetV3Small, **MOBILE),
    "mobilenetv3_small_fpn": _applications(keras.applications.MobileNetV3Small, **MOBILE),
    "mobilenetv3_large_fpn": _applications(keras.applications.MobileNetV3Large, **MOBILE),
    "dla34": lambda: dla34_backbone(SHAPE),
    "dla34_plain": lambda: dla34_backbone(SHAPE),
}


def _pretrained_file(name: str, folder) -> tuple[str, int]:
    source = SOURCES[name]()
    for variable in source.weights:
        variable.assign(np.full(variable.shape, FILL, variable.dtype))
    path = str(folder / f"{name}.weights.h5")
    source.save_weights(path)
    return path, len(source.weights)


def _is_loaded(variable) -> bool:
    return bool(np.all(keras.ops.convert_to_numpy(variable) == FILL))


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SOURCES))
def test_phase_1_trains_all_variables_but_the_pretrained_ones(name, tmp_path):
    path, num_loaded = _pretrained_file(name, tmp_path)
    model = build_centernet(3, backbone=name, input_shape=SHAPE, weights=path)
    loaded = {id(v) for v in model.weights if _is_loaded(v)}
    assert len(loaded) == num_loaded  # the file filled exactly the pretrained part
    set_frozen(model, False)
    everything = {id(v) for v in model.trainable_weights}
    assert set_frozen(model, True) > 0
    assert {id(v) for v in model.trainable_weights} == everything - loaded
    set_frozen(model, False)  # phase 2
    assert {id(v) for v in model.trainable_weights} == everything
    # the record survives saving (what --resume reloads)
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    assert again.pretrained_layers == model.pretrained_layers


def test_random_backbone_weights_freeze_nothing():
    model = build_centernet(3, backbone="resnet18_fpn", input_shape=SHAPE, weights=None)
    everything = len(model.trainable_weights)
    assert model.pretrained_layers == () and set_frozen(model, True) == 0
    assert len(model.trainable_weights) == everything


def _weights_by_layer(model) -> dict:
    """Backbone layers and the detector's own (neck, heads), by name."""
    layers = [*model.backbone.layers, *(x for x in model.layers if x is not model.backbone)]
    return {
        layer.name: [keras.ops.convert_to_numpy(w).copy() for w in layer.weights]
        for layer in layers
        if layer.weights
    }


class _Snapshot(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.start = _weights_by_layer(self.model)


@pytest.mark.slow
@pytest.mark.parametrize("pretrained", [True, False])
def test_freeze_phase_of_train_updates_the_new_neck(tiny_voc, tmp_path, caplog, pretrained):
    """Through ``train``: a freeze-only run moves the skip neck (the detector's layers, beside
    the backbone) and keeps the loaded layers; with random weights it trains everything, with
    a warning."""
    weights = _pretrained_file("resnet18_fpn", tmp_path)[0] if pretrained else None
    settings = config_dict(
        tiny_voc, tmp_path / "run", backbone="resnet18_fpn", weights=weights, neck_filters=None,
        freeze_epochs=1, epochs=1, steps_per_epoch=3, val_annotations=None,
    )  # fmt: skip
    snapshot = _Snapshot()
    with caplog.at_level(logging.WARNING, logger="centernet_keras.training"):
        result = train(TrainConfig.from_dict(settings), verbose=0, extra_callbacks=[snapshot])
    end = _weights_by_layer(result.model)
    frozen = set(result.model.pretrained_layers)
    assert bool(frozen) == pretrained
    assert any(name.startswith("neck") for name in end)  # the neck is among them
    for layer, values in end.items():
        start = snapshot.start[layer]
        moved = any(not np.array_equal(a, b) for a, b in zip(start, values, strict=True))
        if layer in frozen:
            assert not moved and all(np.all(v == FILL) for v in values), layer
        else:
            assert moved, f"{layer} did not train in the freeze phase"
    assert ("no pretrained weights" in caplog.text) == (not pretrained)
    state = json.loads((tmp_path / "run" / "train_state.json").read_text())
    assert state["phase"] == "freeze" and state["optimizer_iterations"] == 3
    with open(tmp_path / "run" / "log.csv") as f:
        assert len(list(csv.DictReader(f))) == 1
