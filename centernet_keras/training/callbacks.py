"""Training callbacks: one commit point per epoch (checkpoints, state, log row), skip report
(the pictures, ``loss.png`` among them: ``training.artefacts``).

After every epoch ``EpochCommit`` writes, in this order:

1. the model (with its optimizer state) to ``.last.e<E>.keras`` and, when the epoch is the best
   so far (``BestEpoch``), a copy to ``.best.e<E>.keras`` (``E`` = epochs done);
2. **the commit**: ``train_state.json`` (atomic rename) naming epoch ``E`` and holding the
   epoch's ``log.csv`` row;
3. the roll forward: the pending files renamed over ``last.keras`` / ``best.keras``, the row
   appended to ``log.csv``.

A kill before step 2 leaves the previous epoch committed (its files untouched; the pending
files are removed on resume); a kill after it is completed by ``recover`` on resume. So
``--resume`` always continues exactly one epoch after the last committed one, and ``log.csv``
has each epoch once.

``best.keras`` is the epoch of the highest validation metric among the evaluated epochs (a pose
model's keypoint AP, ``val_keypoint_ap``, else box mAP, ``val_map``; equal metrics: the lower
validation loss). An epoch without a metric (``--eval-every`` > 1, or none at all) is judged by
its validation loss (training loss without a validation set), and only while no epoch was
evaluated: once one was, only a better metric replaces it. ``train_state.json`` names it
(``best_epoch``, ``best_metric``, ``best_value``), so ``--resume`` keeps it.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import shutil
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import keras

from centernet_keras.data.image_io import SkipLog
from centernet_keras.io import atomic_path, atomic_write_text

log = logging.getLogger("centernet_keras.training")

LAST, BEST, STATE, LOG = "last.keras", "best.keras", "train_state.json", "log.csv"
#: Environment variable of the crash tests: ``"<point>:<epoch>"`` SIGKILLs the process there.
CRASH_ENV = "CENTERNET_KERAS_CRASH_AT"


def crash_point(point: str, epoch: int) -> None:
    """Fault injection for the kill tests: die (SIGKILL, no cleanup) if ``CRASH_ENV`` says so."""
    if os.environ.get(CRASH_ENV) == f"{point}:{epoch}":
        os.kill(os.getpid(), signal.SIGKILL)


def atomic_save_model(model: keras.Model, path: str | Path) -> None:
    """``model.save`` to a temporary file in the same folder, then rename over ``path``."""
    with atomic_path(path) as tmp:
        model.save(tmp)


def read_state(save_dir: str | Path) -> dict | None:
    """The committed training state (written after each epoch), or ``None``."""
    path = Path(save_dir) / STATE
    return json.loads(path.read_text()) if path.exists() else None


def _pending(save_dir: Path, kind: str, epoch: int) -> Path:
    return save_dir / f".{kind}.e{epoch}.keras"


def _read_log(path: Path) -> tuple[list[str], list[dict]]:
    if not path.exists():
        return [], []
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def _write_log(path: Path, columns: list[str], rows: list[dict]) -> None:
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, extrasaction="ignore", restval="")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, out.getvalue())


def _one_based(rows: list[dict]) -> list[dict]:
    """``log.csv`` rows with 1-based epochs: those of an earlier version (0-based, its first row
    epoch ``0``) shifted by one; others as they are."""
    if not rows or rows[0].get("epoch") != "0":
        return rows
    shifted = []
    for row in rows:
        epoch = row.get("epoch", "")
        shifted.append({**row, "epoch": str(int(epoch) + 1)} if epoch.isdigit() else row)
    return shifted


def append_log_row(save_dir: str | Path, row: dict) -> None:
    """Append one epoch's row to ``log.csv`` (new columns widen the file; missing = empty)."""
    path = Path(save_dir) / LOG
    columns, rows = _read_log(path)
    if not columns or any(key not in columns for key in row):
        columns = columns + [key for key in row if key not in columns]
        _write_log(path, columns, [*rows, row])
        return
    with path.open("a", newline="") as f:
        csv.DictWriter(f, columns, extrasaction="ignore", restval="").writerow(row)


def recover(save_dir: str | Path) -> dict | None:
    """Bring ``save_dir`` to its last committed epoch after a kill at any moment.

    Completes a committed epoch's roll forward (pending checkpoints renamed, its log row
    present exactly once), removes what an uncommitted epoch left (pending checkpoints, log
    rows past the commit, temporary files). A ``log.csv`` of an earlier version, whose epochs
    count from 0, is rewritten counting from 1.

    Returns:
        The committed state, or ``None`` when no epoch was committed.
    """
    save_dir = Path(save_dir)
    state = read_state(save_dir)
    epoch = state["epoch"] if state else 0
    for kind in ("last", "best"):
        pending = _pending(save_dir, kind, epoch)
        if state and pending.exists():
            os.replace(pending, save_dir / f"{kind}.keras")
    for leftover in [*save_dir.glob(".*.e*.keras"), *save_dir.glob(".*.tmp*")]:
        leftover.unlink(missing_ok=True)
    columns, rows = _read_log(save_dir / LOG)
    kept = [r for r in _one_based(rows) if r.get("epoch", "").isdigit() and int(r["epoch"]) < epoch]
    row = (state or {}).get("log_row")
    if row is not None:
        if int(row["epoch"]) == epoch - 1:  # an earlier version's 0-based row
            row = {**row, "epoch": epoch}
        kept = [r for r in kept if int(r["epoch"]) != int(row["epoch"])] + [row]
        columns = columns + [key for key in row if key not in columns]
    if kept != rows:
        if kept:
            _write_log(save_dir / LOG, columns, kept)
        else:
            (save_dir / LOG).unlink(missing_ok=True)
    return state


def start_fresh(save_dir: str | Path, outputs: Sequence[str] = ()) -> list[Path]:
    """Remove a previous run's files before a new (not resumed) run: its state, log, pending
    files and ``outputs``, so that none is taken for the new run's.

    Its checkpoints stay until the new run's first epoch replaces them (a run that fails
    before, e.g. on a mistyped data flag, leaves them).

    Args:
        save_dir: the run's folder.
        outputs: the other files a run writes there, that a new run may not replace (pictures
            of a validation set it does not have; TensorBoard event files, which add up): names
            or glob patterns relative to ``save_dir``.

    Returns:
        The files removed (not the pending and temporary ones).
    """
    save_dir = Path(save_dir)
    if (save_dir / STATE).exists():
        log.warning(
            "%s holds an earlier run: starting a new one over it; its log and pictures are "
            "removed, its checkpoints replaced after the first epoch (use --resume to "
            "continue that run instead)",
            save_dir,
        )
    removed = []
    for pattern in (STATE, LOG, *outputs):
        for path in sorted(save_dir.glob(pattern)):
            if path.is_file():
                path.unlink()
                removed.append(path)
    for leftover in [*save_dir.glob(".*.e*.keras"), *save_dir.glob(".*.tmp*")]:
        leftover.unlink(missing_ok=True)
    return removed


#: Validation metrics that pick ``best.keras`` (higher is better), the preferred first: a pose
#: model's keypoint AP (OKS AP@[.5:.95]), then box mAP (VOC07 AP@0.5); see ``MapCallback``.
BEST_METRICS = ("val_keypoint_ap", "val_map")


def _finite(value: object) -> float | None:
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


@dataclass(frozen=True)
class BestEpoch:
    """The epoch ``best.keras`` holds, and the value that chose it (module doc: the rule).

    Attributes:
        epoch: 1-based (0: unknown, a run committed by an earlier version).
        metric: ``val_keypoint_ap`` or ``val_map``, or the loss (``val_loss`` / ``loss``) of an
            epoch without a metric.
        value: its value.
        loss: the epoch's loss that ``EpochCommit`` monitors (ties of the metric), or ``None``.
    """

    epoch: int
    metric: str
    value: float
    loss: float | None = None

    @classmethod
    def of_epoch(cls, epoch: int, logs: dict, monitor: str) -> BestEpoch | None:
        """The candidate of an epoch's logs: its preferred metric, else its ``monitor`` loss
        (``None`` if neither is a finite number)."""
        loss = _finite(logs.get(monitor))
        for name in BEST_METRICS:
            value = _finite(logs.get(name))
            if value is not None:
                return cls(epoch, name, value, loss)
        return cls(epoch, monitor, loss, loss) if loss is not None else None

    def rank(self) -> tuple[int, float, float]:
        """Sort key, larger = better: metric kind (keypoint AP > mAP > loss), then the value
        (higher metric, lower loss), then the lower loss."""
        loss = -self.loss if self.loss is not None else -math.inf
        if self.metric in BEST_METRICS:
            return (len(BEST_METRICS) - BEST_METRICS.index(self.metric), self.value, loss)
        return (0, -self.value, loss)

    def beats(self, other: BestEpoch | None) -> bool:
        """Whether this epoch replaces ``other`` as ``best.keras``."""
        return other is None or self.rank() > other.rank()

    def describe(self, epochs: int | None = None) -> str:
        """e.g. ``epoch 3, val_map 0.4120``; ``epoch 3 of 4, …`` with ``epochs``."""
        epoch = f"epoch {self.epoch}" if self.epoch else "an earlier epoch"
        epoch += f" of {epochs}" if epochs and self.epoch else ""
        why = "" if self.metric in BEST_METRICS else " (no validation metric measured)"
        return f"{epoch}, {self.metric} {self.value:.4f}{why}"

    def to_state(self) -> dict:
        """The ``train_state.json`` fields."""
        return {
            "best_epoch": self.epoch,
            "best_metric": self.metric,
            "best_value": self.value,
            "best_loss": self.loss,
        }

    @classmethod
    def from_state(cls, state: dict | None) -> BestEpoch | None:
        """The best epoch a committed state names (``None``: none yet). A state of an earlier
        version holds only the lowest loss (``monitor``, ``best``)."""
        if not state:
            return None
        if state.get("best_metric") is not None:
            return cls(
                int(state["best_epoch"]), state["best_metric"], float(state["best_value"]),
                _finite(state.get("best_loss")),
            )  # fmt: skip
        if state.get("best") is not None:
            return cls(0, state.get("monitor", "val_loss"), float(state["best"]), state["best"])
        return None


def current_lr(model: keras.Model) -> float:
    """The optimizer's learning rate at its current step (schedules evaluated)."""
    return float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))


class EpochCommit(keras.callbacks.Callback):
    """After every epoch: checkpoints, state and ``log.csv`` row, committed together.

    See the module docstring for the order. The log row holds ``epoch`` (1-based, as the
    console counts), every measured value of the epoch's logs and the ``columns`` (empty when
    not measured: the columns of ``log.csv`` are fixed by its first row), in name order, then
    ``lr`` (the learning rate at the end of the epoch) and ``skipped_images`` (unreadable images
    met so far).

    Args:
        save_dir: output folder.
        phase: ``"freeze"`` or ``"unfreeze"`` (saved in the state for ``--resume``).
        monitor: the loss that judges an epoch without a validation metric (``val_loss``
            when validating, else ``loss``; ``BestEpoch``).
        best: the best epoch so far (restored on resume), or ``None``.
        skips: the pipeline's skip log (for ``skipped_images``).
        run: settings that a resume must not change (saved in the state), e.g. epochs.
        columns: values some epochs do not measure (``val_map`` between evaluations) that
            every row holds.
    """

    def __init__(
        self,
        save_dir: str | Path,
        phase: str,
        monitor: str,
        best: BestEpoch | None = None,
        skips: SkipLog | None = None,
        run: dict | None = None,
        columns: Sequence[str] = (),
    ):
        super().__init__()
        self.save_dir, self.phase, self.monitor, self.best = Path(save_dir), phase, monitor, best
        self.skips, self.run, self.columns = skips, dict(run or {}), tuple(columns)
        self._epoch = 0

    def on_train_begin(self, logs: dict | None = None) -> None:
        crash_point("train_begin", 0)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        crash_point(f"batch{batch}", self._epoch)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch + 1

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        done = epoch + 1
        measured = {key: float(v) for key, v in logs.items() if _finite(v) is not None}
        row: dict = {"epoch": done}
        for key in sorted({*measured, *self.columns}):
            row[key] = measured.get(key, "")
        row["lr"] = current_lr(self.model)
        row["skipped_images"] = len(self.skips.paths) if self.skips is not None else 0
        last = _pending(self.save_dir, "last", done)
        self.model.save(last)
        crash_point("last_written", done)
        candidate = BestEpoch.of_epoch(done, logs, self.monitor)
        improved = candidate is not None and candidate.beats(self.best)
        if improved:
            self.best = candidate
            best = _pending(self.save_dir, "best", done)
            shutil.copyfile(last, best)
            crash_point("best_written", done)
        state = {
            "epoch": done,
            "phase": self.phase,
            "optimizer_iterations": int(self.model.optimizer.iterations.numpy()),
            "monitor": self.monitor,
            **(self.best.to_state() if self.best is not None else {}),
            **self.run,
            "log_row": row,
        }
        atomic_write_text(self.save_dir / STATE, json.dumps(state, indent=2) + "\n")  # commit
        crash_point("committed", done)
        os.replace(last, self.save_dir / LAST)
        if improved:
            os.replace(_pending(self.save_dir, "best", done), self.save_dir / BEST)
        crash_point("renamed", done)
        append_log_row(self.save_dir, row)
        if improved:
            log.info("%s is now %s", BEST, self.best.describe())


#: The former name (one callback wrote the checkpoints and the state).
CheckpointCallback = EpochCommit


class SkipReportCallback(keras.callbacks.Callback):
    """Log, at the end of each epoch, images the pipeline could not read (when there are new
    ones; the count goes to ``log.csv`` as ``skipped_images``)."""

    def __init__(self, skips: SkipLog):
        super().__init__()
        self.skips, self._reported = skips, 0

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if len(self.skips.paths) > self._reported:
            self._reported = len(self.skips.paths)
            log.warning(
                "%d unreadable image(s) skipped so far, e.g. %s",
                self._reported,
                "; ".join(list(self.skips.messages)[-3:]),
            )
