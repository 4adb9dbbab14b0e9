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

from centernet_keras.data.image_io import SkipLog
from centernet_keras.data.pipeline import (
    PipelineConfig,
    make_dataset,
    nothing_readable_as_error,
)
from centernet_keras.doctor.examine import examine
from centernet_keras.models.detector import Detector
from centernet_keras.training.artefacts import writer_callbacks
from centernet_keras.training.callbacks import (
    BEST,
    LAST,
    BestEpoch,
    EpochCommit,
    SkipReportCallback,
    current_lr,
)
from centernet_keras.training.config import TrainConfig
from centernet_keras.training.data import load_training_data
from centernet_keras.training.distribute import (
    barrier,
    check_global_batch,
    distribute_training_data,
    is_chief,
    make_strategy,
)
from centernet_keras.training.map_callback import MapCallback
from centernet_keras.training.model_setup import (
    build_model,
    describe_weights,
    prepare_phase,
    set_frozen,
    set_precision,
)
from centernet_keras.training.optimizer_setup import (
    effective_lr,
    make_optimizer,
    make_schedule,
    rebuild_schedule,
    resumed_offset,
)
from centernet_keras.training.run_state import (
    CONFIG_FILE,
    RUN_OUTPUTS,
    TENSORBOARD,
    nothing_to_resume,
    resume_state,
    resumed_changes,
)

#: Names of the modules split from this one, importable from here as before.
__all__ = [
    "CONFIG_FILE",
    "RUN_OUTPUTS",
    "TrainResult",
    "build_model",
    "describe_weights",
    "effective_lr",
    "make_optimizer",
    "make_schedule",
    "make_strategy",
    "nothing_to_resume",
    "resumed_offset",
    "set_frozen",
    "train",
]

log = logging.getLogger("centernet_keras.training")
#: The training images the start-of-training data check looks at.
CHECKED_IMAGES = 200


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


def _measured(evaluation: MapCallback | None, model: Detector) -> tuple[str, ...]:
    """The metrics ``evaluation`` logs on the epochs it evaluates (``log.csv`` has their
    columns from its first row): box mAP, and a pose model's keypoint AP."""
    if evaluation is None:
        return ()
    pose = model.keypoint_spec is not None
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
    data = load_training_data(config)  # bad data is refused before save_dir is touched
    class_names, train_records, val_records = data.class_names, data.train, data.val
    log.info("training data: %s", data.source)
    if chief:
        save_dir.mkdir(parents=True, exist_ok=True)
        state = resume_state(config, save_dir, resume)
        changes = resumed_changes(config, save_dir, state)
    barrier(strategy)  # the chief has recovered (or cleared) save_dir
    if not chief:
        state = resume_state(config, save_dir, resume, chief=False)
        changes = resumed_changes(config, save_dir, state)
    keras.utils.set_random_seed(config.seed)
    set_precision(config.mixed_precision)
    if chief:
        config.save(save_dir / CONFIG_FILE)

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
    if chief:  # the dataset doctor's summary (`centernet check`: the whole report)
        more = len(train_records) > CHECKED_IMAGES
        split = "training" + (f", first {CHECKED_IMAGES} images" if more else "")
        split_records = {split: train_records[:CHECKED_IMAGES]}
        log.info("%s", examine(model, split_records, class_names, config.max_objects).summary())
    spec = model.keypoint_spec
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
                prepare_phase(model, phase, first, last, batch, len(train_records))
                model.compile(optimizer=make_optimizer(config, batch, steps, first))
            elif changes:  # a resumed phase with other settings (resume.py)
                rebuild_schedule(model, config, start, batch, steps)
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
