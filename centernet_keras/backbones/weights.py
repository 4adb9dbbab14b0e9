"""Backbone weight loading: ImageNet downloads with a clear offline error, or a local file."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Callable, Iterator

import keras


class WeightsUnavailableError(RuntimeError):
    """Raised when pretrained weights cannot be obtained (typically: no internet)."""


@contextlib.contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(old)


def build_with_imagenet(
    build: Callable[..., keras.Model], name: str, weights_file: str, timeout: float = 30.0
) -> keras.Model:
    """Call a ``keras.applications`` constructor with ``weights="imagenet"``.

    Args:
        build: a callable taking ``weights=`` and returning the model.
        name: backbone name, for the message.
        weights_file: file name Keras caches the weights under (for the message).
        timeout: socket timeout (seconds) so an unreachable server fails fast.

    Raises:
        WeightsUnavailableError: the download failed; the message says how to pass a
            local file instead.
    """
    try:
        with _socket_timeout(timeout):
            return build(weights="imagenet")
    except Exception as err:  # keras raises a bare Exception on URL failures
        if "fetch failure" not in str(err) and not isinstance(err, OSError):
            raise
        cache = os.path.join(os.path.expanduser("~"), ".keras", "models", weights_file)
        raise WeightsUnavailableError(
            f"Could not download the ImageNet weights for backbone {name!r} ({err}). "
            f"On a machine with internet access, run once with weights='imagenet' (--weights "
            f"imagenet; Keras caches the file at {cache}) and copy that file here, then pass "
            f"weights='/path/to/{weights_file}' (--weights /path/to/{weights_file}) or put it "
            f"in ~/.keras/models/. Use weights=None (--weights none) to train from scratch."
        ) from err


def load_local_weights(model: keras.Model, path: str) -> None:
    """Load a local weights file (``.h5`` / ``.weights.h5``) into ``model``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file does not fit the model (wrong backbone); the message names both.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Backbone weights file not found: {path}")
    try:
        model.load_weights(path)
    except Exception as err:
        raise ValueError(
            f"Weights file {path} does not match backbone {model.name!r}: {err}"
        ) from err


def set_batchnorm_momentum(model: keras.Model, momentum: float = 0.9) -> keras.Model:
    """Set every BatchNormalization layer's moving-average momentum (in place).

    ``keras.applications`` builds BN with momentum 0.99 (ResNet50) or 0.999 (MobileNetV3):
    fine for ImageNet-length training, but after a few hundred steps — fine-tuning a detector,
    or training from scratch — the moving statistics are still near their initial values and
    inference-mode outputs are garbage. The reference CenterNet uses torch's 0.1, i.e. Keras
    0.9. The value is part of the layer config, so it is saved with the model.
    """
    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = momentum
    return model


def mark_pretrained(model: keras.Model, source: keras.Model | None) -> keras.Model:
    """Record on ``model`` which of its top-level layers hold pretrained weights.

    ``model.pretrained_layers`` becomes the names of ``model``'s layers that are ``source``'s
    weighted layers (or ``source`` itself, when it is nested), or ``()`` when ``source`` is
    ``None`` (random initialisation). ``build_centernet`` saves the names with the detector,
    so the training's freeze phase freezes exactly these layers, also after ``--resume``.

    Args:
        model: the backbone as returned to the detector.
        source: the part whose weights were loaded (ImageNet or a local file), or ``None``.

    Returns:
        ``model``.
    """
    names: tuple[str, ...] = ()
    if source is not None:
        inner = {id(layer) for layer in source._flatten_layers(include_self=True)}
        names = tuple(layer.name for layer in model.layers if id(layer) in inner and layer.weights)
    model.pretrained_layers = names
    return model
