"""The model side of a training run: build the detector (the registry's, or from a
``--model-path``), freeze per phase, the float policy, and how its weights are described."""

from __future__ import annotations

import logging

import keras
import tensorflow as tf

from centernet_keras.backbones.preprocessing import ImagePreprocessing
from centernet_keras.keypoints import KeypointSpec
from centernet_keras.models.detector import Detector
from centernet_keras.models.registry import build_detector
from centernet_keras.training.config import TrainConfig

log = logging.getLogger("centernet_keras.training")


def build_model(
    config: TrainConfig, class_names: list[str], keypoint_spec: KeypointSpec | None = None
) -> Detector:
    """A new detector per ``config.model`` (initialised from its ``model_path`` if set: its
    weights, and its heads' layout, e.g. the bias-only heads of a converted reference model).

    The detector is the registry's ``config.model.detector`` (``models.registry``);
    ``keypoint_spec`` is the data's joints (``None`` for box data; box detectors ignore it).
    """
    settings = config.model
    extra = {}
    source = None
    if settings.model_path:
        source = keras.saving.load_model(settings.model_path, compile=False)
        layout = source.get_config().get("head_batchnorm")  # e.g. converted reference heads
        if layout is not None:
            extra["head_batchnorm"] = layout
    model = build_detector(
        settings.detector,
        len(class_names),
        keypoint_spec=keypoint_spec,
        backbone=settings.backbone,
        input_shape=(*settings.input_size, 3),
        weights=None if source is not None else settings.weights,  # model_path's win
        class_names=class_names,
        image_resize=settings.image_resize,
        **extra,
        **settings.options(),
    )
    if source is not None:
        model.set_weights(source.get_weights())
        # and the inputs its weights expect (a converted reference model's "centernet" mode)
        for ours, theirs in zip(_preprocessing(model), _preprocessing(source), strict=False):
            ours.mode = theirs.mode
        # the whole backbone now holds trained weights: the freeze phase freezes all of it
        model.pretrained_layers = tuple(x.name for x in model.backbone.layers if x.weights)
    return model


def _preprocessing(model: keras.Model) -> list[ImagePreprocessing]:
    """The model's ``ImagePreprocessing`` layers, in graph order."""
    return [x for x in model._flatten_layers() if isinstance(x, ImagePreprocessing)]


def set_frozen(model: Detector, frozen: bool) -> int:
    """Freeze (or unfreeze) exactly the backbone layers that hold pretrained weights.

    Everything built new — necks, heads, a backbone without pretrained weights — stays
    trainable. Frozen BatchNorm layers run in inference mode (Keras 3).

    Returns:
        The number of layers frozen.
    """
    model.backbone.trainable = True
    names = set(model.pretrained_layers) if frozen else set()
    for layer in model.backbone.layers:
        layer.trainable = layer.name not in names
    return len(names)


def describe_weights(model: keras.Model) -> str:
    """How many of the model's weights train: e.g. ``84 weights trainable, 0 frozen, 52
    BatchNorm statistics (moving averages, not trained)``.

    ``frozen`` counts the weights of frozen layers (the freeze phase); the BatchNorm moving
    means and variances are never trained by the optimizer, whatever the phase.
    """
    statistics = {
        id(v)
        for layer in model._flatten_layers()
        if isinstance(layer, keras.layers.BatchNormalization)
        for v in (layer.moving_mean, layer.moving_variance)
    }
    others = [v for v in model.non_trainable_weights if id(v) not in statistics]
    return (
        f"{len(model.trainable_weights)} weights trainable, {len(others)} frozen, "
        f"{len(statistics)} BatchNorm statistics (moving averages, not trained)"
    )


def set_precision(enabled: bool) -> None:
    """Keras's float policy: float32, or mixed float16 on a GPU (bfloat16 on the CPU)."""
    if not enabled:
        keras.mixed_precision.set_global_policy("float32")
        return
    gpu = bool(tf.config.list_physical_devices("GPU"))
    keras.mixed_precision.set_global_policy("mixed_float16" if gpu else "mixed_bfloat16")


def prepare_phase(model: Detector, phase: str, first: int, last: int, batch: int, n: int):
    """Freeze per phase; log the phase's settings. Warn where defaults change the outcome."""
    if phase == "freeze":
        frozen = set_frozen(model, True)
        if not frozen:
            log.warning(
                "the backbone has no pretrained weights (--weights none): freezing random "
                "weights would train the heads on random features, so the freeze phase "
                "(epochs %d-%d) trains all layers",
                first + 1, last,
            )  # fmt: skip
    else:
        set_frozen(model, False)
    if n < batch:
        log.warning(
            "the training set has %d image(s), fewer than the batch size %d: every batch "
            "repeats images (an epoch is one batch)",
            n, batch,
        )  # fmt: skip
