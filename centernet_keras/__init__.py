"""centernet-keras: anchor-free object detection (CenterNet, FCOS) for Keras 3 / TensorFlow.

Conventions: tensors are NHWC; boxes are ``[x1, y1, x2, y2]`` in absolute pixels of the image
they belong to; class ids are 0-based; detections are padded with -1.

Importing the package registers its Keras objects, so ``keras.saving.load_model(path)`` works
on saved CenterNet and FCOS models (``safe_mode=True``). The target encoders use TensorFlow ops
and are imported on first use, so the models, losses and decoders also run on the JAX / torch
backends without loading TensorFlow.

Importing the package loads Keras with TensorFlow's C++ start-up log noise filtered and
``TF_CPP_MIN_LOG_LEVEL`` defaulting to 2 (see ``centernet_keras.startup``; set it to 0 to see
everything). Except in a process whose command line asks for ``-h`` / ``--help``
(``startup.help_requested``): there the import is light, so every CLI prints its usage without
loading TensorFlow, and Keras loads (with the objects registered) on first use of a name of the
package.
"""

import importlib
from typing import Any

from centernet_keras.startup import help_requested, quiet_tensorflow_startup


def _load() -> None:
    """Load Keras (its start-up log filtered) and the public names; registers the Keras objects
    (custom layers, losses, every built-in detector, and the LR schedule and TorchAdam that
    training checkpoints refer to: ``keras.saving.load_model`` of a ``last.keras`` needs them).
    """
    quiet_tensorflow_startup()  # before anything imports Keras or TensorFlow
    # lazy, both: a --help process never calls this, so it prints before Keras loads
    from centernet_keras import boxes, decoding, keypoints, locations, losses, models  # lazy
    from centernet_keras.training import optimizers, schedules  # noqa: F401  lazy; registrations

    models.registry.import_builtin_detectors()
    for module in (boxes, decoding, keypoints, locations, losses, models):
        globals().update({name: getattr(module, name) for name in __all__ if hasattr(module, name)})


__version__ = "0.1.0"

_LAZY = {
    "encode_targets",
    "encode_pose_targets",
    "encode_fcos_targets",
    "gaussian_radius",
    "draw_gaussian",
}


def __getattr__(name: str) -> Any:
    if name in __all__ and name not in _LAZY:  # not loaded yet: a --help process
        _load()
        return globals()[name]
    if name in _LAZY:  # TF ops, imported on first use: the models run on JAX / torch too
        return getattr(importlib.import_module("centernet_keras.targets"), name)
    raise AttributeError(f"module 'centernet_keras' has no attribute {name!r}")


__all__ = [
    "FCOS",
    "CenterNet",
    "CenterNetDecoder",
    "CenterNetPose",
    "Detector",
    "FCOSDecoder",
    "KeypointSpec",
    "PoseDecoder",
    "boxes_to_input",
    "boxes_to_original",
    "build_centernet",
    "build_centernet_pose",
    "build_fcos",
    "centernet_loss",
    "decode_centernet",
    "decode_fcos",
    "decode_pose",
    "draw_gaussian",
    "encode_fcos_targets",
    "encode_pose_targets",
    "encode_targets",
    "fcos_locations",
    "fcos_loss",
    "gaussian_radius",
    "letterbox_params",
    "pose_loss",
]

if not help_requested():
    _load()
