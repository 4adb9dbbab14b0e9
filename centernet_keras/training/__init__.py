"""Training: configuration, LR schedules, callbacks and the two-phase fit loop.

``TrainConfig`` (with its ``ModelConfig`` section), ``train`` and ``TrainResult`` are imported
on first use, so importing ``centernet_keras.training.schedules`` (done by
``import centernet_keras`` to register the LR schedule that saved checkpoints refer to) stays
light.
"""

import importlib
from typing import Any

__all__ = ["ModelConfig", "TrainConfig", "TrainResult", "train"]

#: public name → its module in this package (imported on first use of the name).
_HOMES = {
    "ModelConfig": "config",
    "TrainConfig": "config",
    "TrainResult": "trainer",
    "train": "trainer",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:  # lazy: the trainer loads TensorFlow; `train --help` imports the config
        return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'centernet_keras.training' has no attribute {name!r}")
