"""The optimizer of a training phase: the LR scaled to the batch, the configured schedule,
Adam / TorchAdam / SGD, and a resumed phase's schedule rebuilt for changed settings."""

from __future__ import annotations

import logging
import math

import keras

from centernet_keras.models.detector import Detector
from centernet_keras.training.config import TrainConfig
from centernet_keras.training.optimizers import TorchAdam
from centernet_keras.training.schedules import LR_LIMITS, NOMINAL_BATCH, EpochSchedule, scale_lr

log = logging.getLogger("centernet_keras.training")


def effective_lr(config: TrainConfig, batch_size: int, warn: bool = True) -> tuple[float, float]:
    """``(lr, min_lr)`` the optimizer uses at this batch size (scaled if ``scale_lr``).

    With ``warn``, a warning when the scaling's limits changed the requested rate.
    """
    lr, min_lr = config.lr, config.resolved_min_lr
    if not config.scale_lr:
        return lr, min_lr
    fit_lr, fit_min = scale_lr(lr, min_lr, batch_size, config.optimizer)
    linear = batch_size / NOMINAL_BATCH
    clamped = not math.isclose(fit_lr, lr * linear) or not math.isclose(fit_min, min_lr * linear)
    if warn and clamped:
        high, low = LR_LIMITS[config.optimizer]
        log.warning(
            "--scale-lr: lr %.3g x batch %d/%d = %.3g is outside the %s limits [%.3g, %.3g] "
            "and was clamped to %.3g (min_lr %.3g); use --no-scale-lr to train at --lr as given",
            lr, batch_size, NOMINAL_BATCH, lr * linear, config.optimizer, low, high,
            fit_lr, fit_min,
        )  # fmt: skip
    return fit_lr, fit_min


def make_schedule(
    config: TrainConfig, batch_size: int, steps: int, epoch_offset: float
) -> EpochSchedule:
    """The configured LR schedule at ``steps`` per epoch, epoch ``epoch_offset`` at step 0."""
    lr, min_lr = effective_lr(config, batch_size, warn=False)
    return EpochSchedule(
        lr, min_lr, config.epochs, steps, config.lr_schedule, config.warmup_epochs, epoch_offset
    )


def resumed_offset(epoch: int, iterations: int, steps: int) -> float:
    """The ``epoch_offset`` of a schedule at ``steps`` per epoch that is at ``epoch`` after the
    optimizer's ``iterations`` steps (a resumed phase whose steps per epoch changed: the LR then
    follows the run's epochs, not its step count). ``epoch`` when ``iterations`` is 0."""
    return epoch - iterations / steps


def make_optimizer(config: TrainConfig, batch_size: int, steps: int, epoch_offset: int):
    """Adam (Keras' or torch's update, ``TorchAdam``) or SGD with the configured LR schedule,
    continuing at ``epoch_offset``."""
    schedule = make_schedule(config, batch_size, steps, epoch_offset)
    wd = config.weight_decay or None
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(
            schedule, momentum=config.momentum, nesterov=True, weight_decay=wd
        )
    if config.optimizer == "adam_torch":
        return TorchAdam(schedule, weight_decay=wd)
    return keras.optimizers.Adam(schedule, weight_decay=wd)


def rebuild_schedule(model: Detector, config: TrainConfig, start: int, batch: int, steps: int):
    """The LR schedule of a resumed phase, rebuilt for settings that changed its steps per
    epoch (or, with ``--scale-lr``, its LR): at epoch ``start`` now, ``steps`` steps per epoch
    on, so the LR follows the run's epochs. With the steps and LR unchanged it is the saved
    schedule."""
    iterations = int(model.optimizer.iterations.numpy())
    offset = resumed_offset(start, iterations, steps)
    model.optimizer.learning_rate = make_schedule(config, batch, steps, offset)
    log.info(
        "LR schedule of the resumed phase set up again for its settings: %d steps per epoch "
        "from epoch %d on",
        steps, start + 1,
    )  # fmt: skip
