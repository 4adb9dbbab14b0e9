"""Detectors: the ``Detector`` base, the models built on it and the registry that names them.

``registry`` is light (no Keras): ``--help`` lists ``detector_names()`` from it. The classes and
builders below load Keras and are imported on first use; ``import centernet_keras`` imports
every built-in detector (``registry.import_builtin_detectors``), registering their Keras objects.
"""

import importlib
from typing import Any

from centernet_keras.models.registry import (
    BUILTIN_DETECTORS,
    build_detector,
    detector_class,
    detector_names,
    register_detector,
    untrained_detector,
)

#: public name → its module in this package (imported on first use of the name).
_HOMES = {
    "Detector": "detector",
    "CenterNet": "centernet",
    "build_centernet": "centernet",
    "CenterNetPose": "pose",
    "build_centernet_pose": "pose",
    "FCOS": "fcos",
    "build_fcos": "fcos",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:  # lazy: `--help` imports the registry without Keras
        return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BUILTIN_DETECTORS",
    "FCOS",
    "CenterNet",
    "CenterNetPose",
    "Detector",
    "build_centernet",
    "build_centernet_pose",
    "build_detector",
    "build_fcos",
    "detector_class",
    "detector_names",
    "register_detector",
    "untrained_detector",
]
