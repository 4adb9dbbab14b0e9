"""Training: configuration, LR schedules, callbacks and the two-phase fit loop.

``TrainConfig`` (with its ``ModelConfig`` section), ``train`` and ``TrainResult`` are imported
on first use, so importing ``centernet_keras.training.schedules`` (done by
``import centernet_keras`` to register the LR schedule that saved checkpoints refer to) stays
light.
"""

from typing import Any

__all__ = ["ModelConfig", "TrainConfig", "TrainResult", "train"]


def __getattr__(name: str) -> Any:
    if name in ("TrainConfig", "ModelConfig"):
        from centernet_keras.training import config

        return getattr(config, name)
    if name in ("train", "TrainResult"):
        from centernet_keras.training import trainer

        return getattr(trainer, name)
    raise AttributeError(f"module 'centernet_keras.training' has no attribute {name!r}")
