"""Training: configuration, LR schedules, callbacks and the two-phase fit loop."""

from centernet_keras.training.config import TrainConfig
from centernet_keras.training.trainer import TrainResult, train

__all__ = ["TrainConfig", "TrainResult", "train"]
