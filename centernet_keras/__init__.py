"""centernet-keras: anchor-free object detection (CenterNet, FCOS) for Keras 3 / TensorFlow.

Conventions: tensors are NHWC; boxes are ``[x1, y1, x2, y2]`` in absolute pixels of the image
they belong to; class ids are 0-based; detections are padded with -1.

Importing the package registers its Keras objects, so ``keras.saving.load_model(path)`` works
on saved CenterNet and FCOS models (``safe_mode=True``). The target encoders use TensorFlow ops
and are imported on first use, so the models, losses and decoders also run on the JAX / torch
backends without loading TensorFlow.

Importing the package loads Keras with TensorFlow's C++ start-up log noise filtered and
``TF_CPP_MIN_LOG_LEVEL`` defaulting to 2 (see ``centernet_keras.startup``; set it to 0 to see
everything).
"""

# ruff: noqa: E402  (the start-up filter must run before the imports that load Keras)

from typing import Any

from centernet_keras.startup import quiet_tensorflow_startup

quiet_tensorflow_startup()  # before anything imports Keras or TensorFlow

from centernet_keras.boxes import boxes_to_input, boxes_to_original, letterbox_params
from centernet_keras.decoding import (
    CenterNetDecoder,
    FCOSDecoder,
    PoseDecoder,
    decode_centernet,
    decode_fcos,
    decode_pose,
)
from centernet_keras.keypoints import KeypointSpec
from centernet_keras.locations import fcos_locations
from centernet_keras.losses import centernet_loss, fcos_loss, pose_loss
from centernet_keras.models import (
    FCOS,
    CenterNet,
    CenterNetPose,
    Detector,
    build_centernet,
    build_centernet_pose,
    build_fcos,
)

# Registers the LR schedule and TorchAdam, so checkpoints saved with their optimizer load after
# import.
from centernet_keras.training import optimizers as _optimizers  # noqa: F401
from centernet_keras.training import schedules as _schedules  # noqa: F401

__version__ = "0.1.0"

_LAZY = {
    "encode_targets",
    "encode_pose_targets",
    "encode_fcos_targets",
    "gaussian_radius",
    "draw_gaussian",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from centernet_keras import targets

        return getattr(targets, name)
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
