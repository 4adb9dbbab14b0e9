"""Learning-rate schedules (per optimizer step, ``keras.ops``) and batch-size LR scaling."""

from __future__ import annotations

import math

import keras
from keras import ops

NOMINAL_BATCH = 64
# LR limits of the Keras CenterNet ports, per optimizer: (max, min) for the initial LR.
LR_LIMITS = {"adam": (5e-4, 2.5e-4), "adam_torch": (5e-4, 2.5e-4), "sgd": (5e-2, 5e-4)}


def scale_lr(lr: float, min_lr: float, batch_size: int, optimizer: str) -> tuple[float, float]:
    """Scale the LR linearly with the batch size (nominal 64), within the ports' limits.

    ``lr · batch / 64`` clamped to ``LR_LIMITS[optimizer]`` (Adam [2.5e-4, 5e-4], SGD
    [5e-4, 5e-2]); ``min_lr`` likewise, clamped to 1/100 of those limits.

    Returns:
        ``(lr, min_lr)`` for this batch size.
    """
    high, low = LR_LIMITS[optimizer]
    fit = min(max(batch_size / NOMINAL_BATCH * lr, low), high)
    fit_min = min(max(batch_size / NOMINAL_BATCH * min_lr, low * 1e-2), high * 1e-2)
    return fit, fit_min


@keras.saving.register_keras_serializable(package="centernet_keras")
class EpochSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """LR as a function of the (fractional) training epoch, evaluated per step.

    ``epoch = epoch_offset + step / steps_per_epoch`` so that a second training phase (a new
    optimizer whose step counter restarts at 0) continues the same curve.

    Kinds:
        ``"cos"``: linear warmup from ``0.1·lr`` over ``warmup_epochs``, then cosine to
        ``min_lr`` at ``total_epochs``.
        ``"step"``: ``lr`` multiplied by a constant factor ``num_steps − 1`` times, evenly
        spread, ending at ``min_lr``.
    """

    def __init__(
        self,
        lr: float,
        min_lr: float,
        total_epochs: float,
        steps_per_epoch: int,
        kind: str = "cos",
        warmup_epochs: float = 0.0,
        epoch_offset: float = 0.0,
        num_steps: int = 10,
    ):
        if kind not in ("cos", "step"):
            raise ValueError(f"kind must be 'cos' or 'step', got {kind!r}")
        self.lr, self.min_lr = float(lr), float(min_lr)
        self.total_epochs, self.steps_per_epoch = float(total_epochs), int(steps_per_epoch)
        self.kind, self.warmup_epochs = kind, float(warmup_epochs)
        self.epoch_offset, self.num_steps = float(epoch_offset), int(num_steps)

    def __call__(self, step):
        epoch = self.epoch_offset + ops.cast(step, "float32") / max(self.steps_per_epoch, 1)
        if self.kind == "step":
            rate = (self.min_lr / self.lr) ** (1.0 / max(self.num_steps - 1, 1))
            size = self.total_epochs / self.num_steps
            return self.lr * ops.power(
                rate, ops.minimum(ops.floor(epoch / size), self.num_steps - 1)
            )
        warm = max(self.warmup_epochs, 1e-8)
        warmup = 0.1 * self.lr + (self.lr - 0.1 * self.lr) * epoch / warm
        span = max(self.total_epochs - self.warmup_epochs, 1e-8)
        progress = ops.clip((epoch - self.warmup_epochs) / span, 0.0, 1.0)
        cosine = self.min_lr + 0.5 * (self.lr - self.min_lr) * (1.0 + ops.cos(math.pi * progress))
        return ops.where(epoch < self.warmup_epochs, warmup, cosine)

    def get_config(self) -> dict:
        return {
            "lr": self.lr, "min_lr": self.min_lr, "total_epochs": self.total_epochs,
            "steps_per_epoch": self.steps_per_epoch, "kind": self.kind,
            "warmup_epochs": self.warmup_epochs, "epoch_offset": self.epoch_offset,
            "num_steps": self.num_steps,
        }  # fmt: skip
