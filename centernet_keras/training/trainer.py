"""The training loop glue: data → model → two ``model.fit`` phases (frozen, then unfrozen).

Resumable: after every epoch the model (with its optimizer state) and a small state file
are written atomically; ``train(config, resume=True)`` reloads them and continues at the next
epoch, in the right phase, with the optimizer's step counter (and so the LR) where it was.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from pathlib import Path

import keras
import tensorflow as tf

from centernet_keras.backbones.preprocessing import ImagePreprocessing
from centernet_keras.data.image_io import SkipLog
from centernet_keras.data.pipeline import (
    PipelineConfig,
    make_dataset,
    nothing_readable_as_error,
)
from centernet_keras.keypoints import KeypointSpec
from centernet_keras.models import Detector
from centernet_keras.training.artefacts import PICTURES, writer_callbacks
from centernet_keras.training.callbacks import (
    BEST,
    LAST,
    BestEpoch,
    EpochCommit,
    SkipReportCallback,
    current_lr,
    read_state,
    recover,
    start_fresh,
)
from centernet_keras.training.config import DETECTORS, KEYPOINT_DETECTORS, TrainConfig
from centernet_keras.training.data import load_training_data
from centernet_keras.training.distribute import (
    barrier,
    check_global_batch,
    distribute_training_data,
    is_chief,
    make_strategy,
)
from centernet_keras.training.map_callback import MapCallback
from centernet_keras.training.optimizers import TorchAdam
from centernet_keras.training.resume import Change, check_resume, run_config
from centernet_keras.training.resume import warning as resume_warning
from centernet_keras.training.schedules import (
    LR_LIMITS,
    NOMINAL_BATCH,
    EpochSchedule,
    scale_lr,
)

log = logging.getLogger("centernet_keras.training")
CONFIG_FILE = "config.json"
TENSORBOARD = "tensorboard"
#: What a run writes besides its checkpoints, state and log (a new run removes them first).
RUN_OUTPUTS = (*PICTURES, f"{TENSORBOARD}/**/events.out.tfevents.*")


@dataclass
class TrainResult:
    """What a finished ``train`` call leaves behind.

    ``skipped_images`` counts every image skipped with a warning: ``skipped_reading`` of them
    while the data was read (``TrainingData.skipped_images``), the rest by the pipeline
    (distinct files that failed to decode, training or validation).
    """

    model: Detector
    save_dir: Path
    history: dict
    skipped_images: int
    dropped_boxes: int
    chief: bool = True  # False: another worker of a multi-worker run wrote save_dir
    best: BestEpoch | None = None  # the epoch best.keras holds (callbacks.BestEpoch)
    skipped_reading: int = 0

    def describe_skipped(self) -> str:
        """e.g. ``12 images skipped: 10 when the data was read, 2 in training``."""
        text = f"{self.skipped_images} images skipped"
        decoded = self.skipped_images - self.skipped_reading
        if self.skipped_reading and decoded:
            text += f": {self.skipped_reading} when the data was read, {decoded} in training"
        return text


def build_model(
    config: TrainConfig, class_names: list[str], keypoint_spec: KeypointSpec | None = None
) -> Detector:
    """A new detector per ``config.model`` (initialised from its ``model_path`` if set: its
    weights, and its heads' layout, e.g. the bias-only heads of a converted reference model).

    ``keypoint_spec`` (the data's joints) goes to the detectors that train on keypoints.
    """
    settings = config.model
    extra = {"keypoint_spec": keypoint_spec} if settings.detector in KEYPOINT_DETECTORS else {}
    source = None
    if settings.model_path:
        source = keras.saving.load_model(settings.model_path, compile=False)
        if getattr(source, "head_batchnorm", None) is not None:  # e.g. converted reference heads
            extra["head_batchnorm"] = source.head_batchnorm
    model = DETECTORS[settings.detector](
        len(class_names),
        backbone=settings.backbone,
        input_shape=(*settings.input_size, 3),
        weights=None if source is not None else settings.weights,  # model_path's win
        class_names=class_names,
        image_resize=settings.image_resize,
        **extra,
        **settings.options(),
    )
    if source is not None:
        model.set_weights(source.get_weights())
        # and the inputs its weights expect (a converted reference model's "centernet" mode)
        for ours, theirs in zip(_preprocessing(model), _preprocessing(source), strict=False):
            ours.mode = theirs.mode
        # the whole backbone now holds trained weights: the freeze phase freezes all of it
        model.pretrained_layers = tuple(x.name for x in model.backbone.layers if x.weights)
    return model


def _preprocessing(model: keras.Model) -> list[ImagePreprocessing]:
    """The model's ``ImagePreprocessing`` layers, in graph order."""
    return [x for x in model._flatten_layers() if isinstance(x, ImagePreprocessing)]


def set_frozen(model: Detector, frozen: bool) -> int:
    """Freeze (or unfreeze) exactly the backbone layers that hold pretrained weights.

    Everything built new — necks, heads, a backbone without pretrained weights — stays
    trainable. Frozen BatchNorm layers run in inference mode (Keras 3).

    Returns:
        The number of layers frozen.
    """
    model.backbone.trainable = True
    names = set(model.pretrained_layers) if frozen else set()
    for layer in model.backbone.layers:
        layer.trainable = layer.name not in names
    return len(names)


def describe_weights(model: keras.Model) -> str:
    """How many of the model's weights train: e.g. ``84 weights trainable, 0 frozen, 52
    BatchNorm statistics (moving averages, not trained)``.

    ``frozen`` counts the weights of frozen layers (the freeze phase); the BatchNorm moving
    means and variances are never trained by the optimizer, whatever the phase.
    """
    statistics = {
        id(v)
        for layer in model._flatten_layers()
        if isinstance(layer, keras.layers.BatchNormalization)
        for v in (layer.moving_mean, layer.moving_variance)
    }
    others = [v for v in model.non_trainable_weights if id(v) not in statistics]
    return (
        f"{len(model.trainable_weights)} weights trainable, {len(others)} frozen, "
        f"{len(statistics)} BatchNorm statistics (moving averages, not trained)"
    )


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


def _set_precision(enabled: bool) -> None:
    if not enabled:
        keras.mixed_precision.set_global_policy("float32")
        return
    gpu = bool(tf.config.list_physical_devices("GPU"))
    keras.mixed_precision.set_global_policy("mixed_float16" if gpu else "mixed_bfloat16")


def nothing_to_resume(save_dir: Path, chief: bool = True) -> str:
    """The ``--resume`` error for a ``save_dir`` that holds no run (or does not exist)."""
    shared = "" if chief else " (every worker resumes from the chief's --save-dir: put it "
    shared += "" if chief else "on storage that all machines share)"
    return (
        f"nothing to resume in {save_dir}: no run there (no {CONFIG_FILE}, {LAST} or "
        f"train_state.json); start the run without --resume{shared}"
    )


def _resume_state(
    config: TrainConfig, save_dir: Path, resume: bool, chief: bool = True
) -> dict | None:
    """Recover ``save_dir`` to its last committed epoch (``--resume``) or clear it (new run).

    The other workers of a multi-worker run (``chief=False``) change nothing: they read the
    state the chief recovered.

    Raises:
        FileNotFoundError: ``--resume`` with no run in ``save_dir``.
        ValueError: the run is finished, or ``epochs`` / ``freeze_epochs`` differ from the
            run's (its LR schedule and phases were set up for them).
    """
    if not resume:
        if chief:
            start_fresh(save_dir, RUN_OUTPUTS)
        return None
    state = recover(save_dir) if chief else read_state(save_dir)
    if state is None and (save_dir / CONFIG_FILE).exists():
        log.warning(
            "no completed epoch in %s to resume (killed during its first epoch): starting the "
            "run from the beginning",
            save_dir,
        )
        if chief:
            start_fresh(save_dir, RUN_OUTPUTS)
        return None
    if state is None or not (save_dir / LAST).exists():
        raise FileNotFoundError(nothing_to_resume(save_dir, chief))
    spans = {key: state[key] for key in ("epochs", "freeze_epochs") if key in state}
    if any(value != getattr(config, key) for key, value in spans.items()):
        # the LR schedule and phases span them: refused as resume.py refuses any such flag
        check_resume(config, replace(config, **spans), save_dir, state["epoch"])
    if state["epoch"] >= config.epochs:
        raise ValueError(
            f"the run in {save_dir} already finished its {config.epochs} epochs; nothing to "
            f"resume. To train longer, start a new run from its weights: --model-path "
            f"{save_dir / LAST} --epochs N --save-dir <new folder>"
        )
    return state


def _resumed_changes(config: TrainConfig, save_dir: Path, state: dict | None) -> list[Change]:
    """The settings of a resumed run other than those its last committed epoch trained with
    that ``resume.check_resume`` accepts (warned about here; refused ones raise
    ``ResumeSettingsError``). ``[]`` for a new run."""
    if not state:
        return []
    changes = check_resume(config, run_config(state, save_dir / CONFIG_FILE), save_dir,
                           state["epoch"])  # fmt: skip
    if changes:
        log.warning("%s", resume_warning(changes, save_dir))
    return changes


def _rebuild_schedule(model: Detector, config: TrainConfig, start: int, batch: int, steps: int):
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


def _prepare_phase(model: Detector, phase: str, first: int, last: int, batch: int, n: int):
    """Freeze per phase; log the phase's settings. Warn where defaults change the outcome."""
    if phase == "freeze":
        frozen = set_frozen(model, True)
        if not frozen:
            log.warning(
                "the backbone has no pretrained weights (--weights none): freezing random "
                "weights would train the heads on random features, so the freeze phase "
                "(epochs %d-%d) trains all layers",
                first + 1, last,
            )  # fmt: skip
    else:
        set_frozen(model, False)
    if n < batch:
        log.warning(
            "the training set has %d image(s), fewer than the batch size %d: every batch "
            "repeats images (an epoch is one batch)",
            n, batch,
        )  # fmt: skip


def _measured(evaluation: MapCallback | None, model: Detector) -> tuple[str, ...]:
    """The metrics ``evaluation`` logs on the epochs it evaluates (``log.csv`` has their
    columns from its first row): box mAP, and a pose model's keypoint AP."""
    if evaluation is None:
        return ()
    pose = getattr(model, "keypoint_spec", None) is not None
    return ("val_map", *(["val_keypoint_ap"] if pose else []))


def train(
    config: TrainConfig, resume: bool = False, verbose: int | str = 2, extra_callbacks=()
) -> TrainResult:
    """Train a detector as configured; see ``train.py --help`` for the options.

    Args:
        config: the settings (saved as ``<save_dir>/config.json``).
        resume: continue the run in ``config.save_dir`` from its last committed epoch.
        verbose: ``model.fit`` verbosity.
        extra_callbacks: more Keras callbacks (e.g. validation mAP).

    Returns:
        A ``TrainResult`` (the model, merged fit history, skip and drop counts).
    """
    strategy = make_strategy(config.strategy)  # first: multiworker sets up TF at start-up
    chief = is_chief(strategy)  # only the chief writes to save_dir
    save_dir = Path(config.save_dir)
    if chief:
        save_dir.mkdir(parents=True, exist_ok=True)
        state = _resume_state(config, save_dir, resume)
        changes = _resumed_changes(config, save_dir, state)
    barrier(strategy)  # the chief has recovered (or cleared) save_dir
    if not chief:
        state = _resume_state(config, save_dir, resume, chief=False)
        changes = _resumed_changes(config, save_dir, state)
    keras.utils.set_random_seed(config.seed)
    _set_precision(config.mixed_precision)
    if chief:
        config.save(save_dir / CONFIG_FILE)

    data = load_training_data(config)
    class_names, train_records, val_records = data.class_names, data.train, data.val
    log.info("training data: %s", data.source)

    with strategy.scope():
        if state:
            model = keras.saving.load_model(save_dir / LAST)
            log.info("resuming after epoch %d (%s phase)", state["epoch"], state["phase"])
        else:
            model = build_model(config, class_names, data.keypoint_spec)
    if model.num_classes != len(class_names):
        raise ValueError(
            f"model has {model.num_classes} classes, the data {len(class_names)} ({data.source})"
        )
    spec = getattr(model, "keypoint_spec", None)
    if spec is not None and spec != data.keypoint_spec:
        raise ValueError(
            f"the model's joints are not the data's ({data.source}): "
            f"{spec.difference(data.keypoint_spec)}"
        )

    skips = SkipLog()
    start = state["epoch"] if state else 0
    best = BestEpoch.from_state(state)
    resumed = [{"after_epoch": start, **c.to_dict()} for c in changes]
    run = {  # the run's settings in every committed state (resume compares them)
        "epochs": config.epochs,
        "freeze_epochs": config.freeze_epochs,
        "config": config.to_dict(),
        "resumed_with_changes": [*(state or {}).get("resumed_with_changes", []), *resumed],
    }
    history: dict[str, list] = {}
    evaluation = None
    if config.eval_every and val_records:
        evaluation = MapCallback(
            val_records, config.eval_every, config.epochs, config.eval_score_threshold
        )
    writers = writer_callbacks(save_dir, val_records, config.eval_every, config.epochs, evaluation)
    phases = [
        ("freeze", 0, config.freeze_epochs, config.freeze_batch_size),
        ("unfreeze", config.freeze_epochs, config.epochs, config.batch_size),
    ]
    for _, first, last, batch in phases:
        if last > max(first, start):
            check_global_batch(strategy, batch)  # before any phase trains
    for phase, first, last, batch in phases:
        if last <= max(first, start):
            continue  # empty phase, or finished before the resume point
        pipe = PipelineConfig(
            config.model.input_size,
            batch_size=batch,
            max_objects=model.target_slots(config.max_objects),
            image_resize=config.model.image_resize,
            augment=config.augment,
            seed=config.seed + first,
            keypoint_flip=data.keypoint_spec and data.keypoint_spec.flip_permutation(),
        )
        encoder = model.target_encoder(config.max_objects)
        # Fixed epoch length on an endless stream: a skipped image shifts the batches instead
        # of shortening the epoch, so optimizer steps (and the LR schedule) stay exact. A
        # resumed phase starts the stream where the epochs before it stopped.
        steps = config.steps_per_epoch or max(len(train_records) // batch, 1)
        consumed = (max(first, start) - first) * steps * batch

        def stream(size, shard, pipe=pipe, encoder=encoder, consumed=consumed):
            pipe = replace(pipe, batch_size=size)  # per replica
            return make_dataset(train_records, pipe, True, skips, repeat=True, start=consumed,
                                shard=shard, encoder=encoder)  # fmt: skip

        train_data = distribute_training_data(strategy, stream, batch)
        val_data, val_steps = None, None
        if val_records:
            val_data = make_dataset(val_records, pipe, False, skips, encoder=encoder).repeat()
            val_steps = math.ceil(len(val_records) / batch)
        continuing = bool(state) and state["phase"] == phase and start > first
        with strategy.scope():
            if not continuing:
                _prepare_phase(model, phase, first, last, batch, len(train_records))
                model.compile(optimizer=make_optimizer(config, batch, steps, first))
            elif changes:  # a resumed phase with other settings (resume.py)
                _rebuild_schedule(model, config, start, batch, steps)
        lr, min_lr = effective_lr(config, batch)
        log.info(
            "%s phase, epochs %d-%d: batch %d, %d steps/epoch, %s; "
            "%s, %s schedule from lr %.3g to %.3g (%s); lr now %.3g",
            phase, max(first, start) + 1, last, batch, steps, describe_weights(model),
            config.optimizer, config.lr_schedule, lr, min_lr,
            f"--lr {config.lr:.3g} scaled to batch {batch}" if config.scale_lr else "as given",
            current_lr(model),
        )  # fmt: skip
        monitor = "val_loss" if val_data else "loss"
        columns = _measured(evaluation, model)
        commit = EpochCommit(save_dir, phase, monitor, best, skips, run, columns)
        run_files = [  # the chief's only: the run's files
            keras.callbacks.TensorBoard(str(save_dir / TENSORBOARD), write_graph=False),
            commit,
            *writers,  # the pictures (artefacts.writer_callbacks)
        ]
        callbacks = [
            *extra_callbacks,
            *([evaluation] if evaluation and chief else []),
            SkipReportCallback(skips),
            keras.callbacks.TerminateOnNaN(),
            *(run_files if chief else []),
        ]
        with nothing_readable_as_error(skips):  # a stream of undecodable images stops
            fit = model.fit(
                train_data,
                validation_data=val_data,
                initial_epoch=max(first, start),
                epochs=last,
                steps_per_epoch=steps,
                validation_steps=val_steps,
                callbacks=callbacks,
                shuffle=False,  # the tf.data pipeline shuffles
                verbose=verbose,
            )
        best = commit.best
        for key, values in fit.history.items():
            history.setdefault(key, []).extend(values)
        if model.stop_training:  # TerminateOnNaN, or a callback that ended training
            losses = fit.history.get("loss", [])
            if losses and not math.isfinite(losses[-1]):
                log.error("training stopped: loss became NaN")
            else:
                log.warning(
                    "training stopped early by a callback (%d epoch(s) of this phase)", len(losses)
                )
            break
    if skips.paths:
        log.warning("%d unreadable image(s) were skipped during training", len(skips.paths))
    if chief and best is not None:
        log.info("%s is %s", BEST, best.describe(config.epochs))
    skipped = data.skipped_images + len(skips.paths)
    return TrainResult(model, save_dir, history, skipped, data.dropped_boxes, chief, best,
                       data.skipped_images)  # fmt: skip
