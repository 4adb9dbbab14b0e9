"""The detector registry: ``--detector`` name → ``Detector`` subclass (mmdetection's ``MODELS``
registry and keras-hub's task classes are the models).

A detector declares everything the rest of the package asks of it on its class (see
``models.detector.Detector``): ``detector_name`` (the ``--detector`` word), ``from_settings``
(the builder ``train`` and ``benchmark`` call), ``target_encoder``, ``decoder_class`` and the
capabilities ``keypoint_spec`` and ``decode_needs_input_size``. ``@register_detector`` on the
class enters it here.

This module imports neither Keras nor TensorFlow: ``centernet train --help`` lists
``detector_names()`` before either loads. The built-in detectors are named with the module that
defines (and so registers) them, ``BUILTIN_DETECTORS``, and imported on first lookup; adding a
built-in detector is one line there. A detector defined elsewhere (a user's module, a test)
registers itself when its module is imported.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the classes import Keras; this module must not
    from centernet_keras.models.detector import Detector

#: The package's detectors: ``--detector`` name → the module whose ``@register_detector`` class
#: it is. ``import centernet_keras`` imports them all (saved models refer to their classes).
BUILTIN_DETECTORS: dict[str, str] = {
    "centernet": "centernet_keras.models.centernet",
    "fcos": "centernet_keras.models.fcos",
    "pose": "centernet_keras.models.pose",
}

_REGISTERED: dict[str, type[Detector]] = {}


def register_detector(cls: type[Detector]) -> type[Detector]:
    """Class decorator: enter a ``Detector`` subclass under its ``detector_name``.

    Raises:
        ValueError: no ``detector_name``, or another class has the name.
    """
    name = cls.__dict__.get("detector_name", "")
    if not name:
        raise ValueError(f"{cls.__name__} needs a detector_name (its --detector word)")
    known = _REGISTERED.get(name)
    if known is not None and known.__qualname__ != cls.__qualname__:
        raise ValueError(f"detector name {name!r} is taken by {known.__module__}.{known.__name__}")
    _REGISTERED[name] = cls  # the same class again (a reloaded module) replaces its entry
    return cls


def detector_names() -> list[str]:
    """Every detector name, sorted: the built-in ones and those registered so far."""
    return sorted({*BUILTIN_DETECTORS, *_REGISTERED})


def detector_class(name: str) -> type[Detector]:
    """The ``Detector`` subclass registered as ``name`` (a built-in one is imported first).

    Raises:
        ValueError: no detector of that name.
    """
    if name not in _REGISTERED and name in BUILTIN_DETECTORS:
        import_builtin_detectors()
    if name not in _REGISTERED:
        raise ValueError(f"no detector {name!r}: the detectors are {detector_names()}")
    return _REGISTERED[name]


def import_builtin_detectors() -> None:
    """Import the built-in detectors' modules, registering their classes here and with Keras."""
    for module in BUILTIN_DETECTORS.values():
        importlib.import_module(module)  # lazy on purpose: --help lists names without Keras


def build_detector(name: str, num_classes: int, **settings: Any) -> Detector:
    """A new detector ``name``: ``detector_class(name).from_settings(num_classes, **settings)``.

    Args:
        name: a ``detector_names()`` entry.
        num_classes: the number of object classes.
        **settings: ``from_settings``'s (``backbone``, ``input_shape``, ``weights``,
            ``class_names``, ``image_resize``, ``keypoint_spec``, neck and head widths...).
    """
    return detector_class(name).from_settings(num_classes, **settings)


def untrained_detector(name: str, num_classes: int, **settings: Any) -> Detector:
    """A detector with random weights for timing it (``benchmark``, ``bench/``): a keypoint
    detector gets its class's default joints (``keypoint_spec``) and one class, the others
    ``num_classes`` (named ``class0``, ...); no pretrained weights."""
    cls = detector_class(name)
    if cls.keypoint_spec is not None:
        num_classes = 1
        settings.setdefault("keypoint_spec", cls.keypoint_spec)
    settings.setdefault("class_names", [f"class{i}" for i in range(num_classes)])
    settings.setdefault("weights", None)
    return cls.from_settings(num_classes, **settings)
