"""The pictures of a training run, for people: ``results.png``, ``val_predictions.jpg``,
``confusion_matrix.png`` (and ``confusion_matrix.csv``), next to ``loss.png``.

- ``results.png`` (``plot_results``): a panel per loss term (train and ``val_``), the
  validation mAP (``val_map`` of ``MapCallback``; a pose run's keypoint AP too) and the LR per
  epoch; redrawn from ``log.csv`` after every epoch, so a resumed run's figure holds all its
  epochs. ``loss.png`` (``loss_figure``): the loss and validation loss alone.
- ``val_predictions.jpg``: the first ``GRID_IMAGES`` validation images with their detections
  at ``SCORE_THRESHOLD`` (boxes, a pose model's skeletons), every ``--eval-every`` epochs and
  after the last one; it reuses the mAP pass of that epoch (``MapCallback.latest``).
- ``confusion_matrix.png`` / ``.csv``: after the last epoch (or when a callback stops training
  early), detections at ``SCORE_THRESHOLD`` on the validation set matched to its ground truth
  (``evaluation.confusion``).

``writer_callbacks`` assembles every callback that writes these files (and ``loss.png``), the
one place to leave them out, e.g. on the non-chief workers of a multi-worker run.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import keras
import numpy as np

from centernet_keras.data.annotations import ImageRecord
from centernet_keras.evaluation.confusion import confusion_csv, confusion_matrix
from centernet_keras.evaluation.plots import plot_confusion_matrix
from centernet_keras.io import atomic_path, atomic_write_text
from centernet_keras.training.callbacks import LOG, _read_log
from centernet_keras.training.map_callback import MapCallback, ValidationRun, run_validation
from centernet_keras.visualize import drawer, prediction_grid

if TYPE_CHECKING:
    from matplotlib.figure import Figure

log = logging.getLogger("centernet_keras.training")

LOSS_PNG = "loss.png"
RESULTS_PNG = "results.png"
GRID_JPG = "val_predictions.jpg"
CONFUSION_PNG = "confusion_matrix.png"
CONFUSION_CSV = "confusion_matrix.csv"
#: Every picture a run may write (a new run in the folder removes the earlier run's).
PICTURES = (LOSS_PNG, RESULTS_PNG, GRID_JPG, CONFUSION_PNG, CONFUSION_CSV)
#: Score threshold of the drawn detections and of the confusion matrix (``predict.py``'s).
SCORE_THRESHOLD = 0.3
#: Validation images in ``val_predictions.jpg`` (4 × 4 tiles of ``GRID_TILE`` pixels).
GRID_IMAGES, GRID_COLUMNS, GRID_TILE = 16, 4, 256


def _values(rows: list[dict], key: str) -> tuple[list[int], list[float]]:
    """``(epochs, values)`` of the rows where ``key`` holds a finite number (``log.csv``'s
    epochs count from 1)."""
    epochs, values = [], []
    for row in rows:
        try:
            value = float(row.get(key) or "nan")
        except ValueError:
            continue
        if math.isfinite(value):
            epochs.append(int(row["epoch"]))
            values.append(value)
    return epochs, values


#: The validation metrics' panels: log.csv column → title (``MapCallback`` logs them).
METRIC_PANELS = {
    "val_map": "val mAP@0.5 (VOC07)",
    "val_keypoint_ap": "val keypoint AP (OKS AP@[.5:.95])",
}


def _no_metric(eval_every: int | None, validation: bool, last_epoch: int | None) -> str:
    """What a metric panel without a value says: why there is none (yet)."""
    if not validation:
        return "none measured:\nno validation set"
    if eval_every == 0:
        return "none measured\n(--eval-every 0)"
    if eval_every is None:
        return "none measured yet"
    first = min(eval_every, last_epoch) if last_epoch else eval_every
    return f"first measured after epoch {first}\n(--eval-every {eval_every})"


def _epoch_axes(fig: Figure, rows: list[dict]) -> None:
    """Every panel's x axis: the log's epochs, integer ticks (one epoch: that tick alone)."""
    from matplotlib.ticker import MaxNLocator

    epochs = [int(row["epoch"]) for row in rows]
    first, last = min(epochs), max(epochs)
    pad = max(0.5, 0.03 * (last - first))
    for ax in fig.axes:
        ax.set_xlim(first - pad, last + pad)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        ax.set_xlabel("epoch")


def _curves(ax, rows: list[dict], keys: Sequence[str]) -> None:
    """``keys``' values per epoch (train solid, ``val_`` dashed), a marker on every point under
    30 of them (so a single epoch shows); a log scale when they span a factor of 10 or more."""
    drawn = []
    for key, style in zip(keys, ("-", "--"), strict=False):
        epochs, values = _values(rows, key)
        if values:
            ax.plot(epochs, values, style, marker="o" if len(values) < 30 else None,
                    markersize=4, label=key)  # fmt: skip
            drawn += values
    if drawn and min(drawn) > 0.0 and max(drawn) >= 10.0 * min(drawn):
        ax.set_yscale("log")
    if len(keys) > 1 and drawn:
        ax.legend(fontsize=8)


def results_figure(
    columns: Sequence[str],
    rows: list[dict],
    eval_every: int | None = None,
    validation: bool = True,
    last_epoch: int | None = None,
) -> tuple[Figure, list[str]] | None:
    """The ``results.png`` figure of ``log.csv``'s columns and rows (see ``plot_results``).

    Args:
        columns: the log's columns.
        rows: its rows (``{column: text}``, epochs from 1).
        eval_every: the run's ``--eval-every`` (what an empty metric panel says); ``None``:
            unknown.
        validation: whether the run has a validation set.
        last_epoch: the run's epochs (the last is evaluated too).

    Returns:
        ``(figure, panels)``, or ``None`` when the log has no rows.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not rows:
        return None
    terms = dict.fromkeys(c.removeprefix("val_") for c in columns if c.endswith("loss"))
    losses = sorted(terms, key=lambda c: c != "loss")  # the total first, then column order
    metrics = ["val_map", *(m for m in METRIC_PANELS if m != "val_map" and m in columns)]
    panels = [*losses, *metrics, "lr"]
    cols = min(4, len(panels))
    nrows = math.ceil(len(panels) / cols)
    fig = Figure(figsize=(4.0 * cols, 3.0 * nrows), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    for i, name in enumerate(panels):
        ax = fig.add_subplot(nrows, cols, i + 1)
        ax.set_title(METRIC_PANELS.get(name, name))
        ax.grid(True, alpha=0.3)
        if name in METRIC_PANELS:
            epochs, values = _values(rows, name)
            ax.set_ylim(-0.03, 1.03)
            if values:
                ax.plot(epochs, values, "o-", color="tab:green", label=name)
            else:
                ax.text(0.5, 0.5, _no_metric(eval_every, validation, last_epoch),
                        ha="center", va="center", transform=ax.transAxes)  # fmt: skip
            continue
        _curves(ax, rows, [name] if name == "lr" else [name, f"val_{name}"])
    _epoch_axes(fig, rows)
    return fig, panels


def plot_results(
    csv_path: str | os.PathLike,
    png_path: str | os.PathLike,
    eval_every: int | None = None,
    validation: bool = True,
    last_epoch: int | None = None,
) -> list[str]:
    """Draw ``log.csv`` as one figure (``results_figure``): a panel per loss term, the
    validation metrics (box mAP; a pose run's keypoint AP when logged), LR.

    Loss panels (``loss``, then each ``*_loss`` term in column order) hold the training curve
    and its ``val_`` curve when logged, on a log scale when they span a factor of 10. The
    metric panels show the evaluated epochs, or say why none is there (no validation set,
    ``--eval-every 0``, or the first evaluated epoch to come). Epoch ticks are integers; the
    constrained layout keeps every label inside the figure.

    Returns:
        The panels drawn (``["loss", <terms>, "val_map", ("val_keypoint_ap",) "lr"]``), or
        ``[]`` when the log has no rows yet (nothing is written).
    """
    columns, rows = _read_log(Path(csv_path))
    built = results_figure(columns, rows, eval_every, validation, last_epoch)
    if built is None:
        return []
    fig, panels = built
    with atomic_path(png_path) as tmp:
        fig.savefig(tmp)
    return panels


def loss_figure(rows: list[dict]) -> Figure | None:
    """The ``loss.png`` figure: ``loss`` and ``val_loss`` per epoch (a marker on each point
    under 30, so one epoch shows). ``None`` when no row holds a loss."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not any(_values(rows, "loss")[1]):
        return None
    fig = Figure(figsize=(7, 4), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    _curves(ax, rows, ["loss", "val_loss"])
    ax.set_ylabel("loss")
    ax.grid(True, alpha=0.3)
    _epoch_axes(fig, rows)
    return fig


class LossPlotCallback(keras.callbacks.Callback):
    """Redraw ``loss.png`` from the CSV log after every epoch (``loss_figure``)."""

    def __init__(self, csv_path: str | os.PathLike, png_path: str | os.PathLike):
        super().__init__()
        self.csv_path, self.png_path = Path(csv_path), Path(png_path)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        fig = loss_figure(_read_log(self.csv_path)[1])
        if fig is not None:
            with atomic_path(self.png_path) as tmp:
                fig.savefig(tmp)


class ResultsPlotCallback(keras.callbacks.Callback):
    """Redraw ``results.png`` from the CSV log after every epoch (``plot_results``; the
    arguments after the paths are its own)."""

    def __init__(
        self,
        csv_path: str | os.PathLike,
        png_path: str | os.PathLike,
        eval_every: int | None = None,
        validation: bool = True,
        last_epoch: int | None = None,
    ):
        super().__init__()
        self.csv_path, self.png_path = Path(csv_path), Path(png_path)
        self.settings = (eval_every, validation, last_epoch)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        plot_results(self.csv_path, self.png_path, *self.settings)


def write_prediction_grid(run: ValidationRun, model: keras.Model, path: str | os.PathLike) -> bool:
    """``val_predictions.jpg`` of a validation pass: its samples' detections at
    ``SCORE_THRESHOLD`` (skeletons for a pose model), ``GRID_COLUMNS`` tiles a row.

    Returns:
        ``True`` if written (``False``: no readable validation image).
    """
    if not run.samples:
        return False
    samples = [(rgb, found.above(SCORE_THRESHOLD)) for rgb, found in run.samples]
    grid = prediction_grid(
        samples, drawer(keypoint_spec=model.keypoint_spec), GRID_TILE, GRID_COLUMNS
    )
    with atomic_path(path) as tmp:
        grid.save(tmp, quality=90)
    return True


def write_confusion_matrix(
    run: ValidationRun, class_names: Sequence[str], png_path: str | os.PathLike,
    csv_path: str | os.PathLike,
) -> np.ndarray:  # fmt: skip
    """The confusion matrix of a validation pass at ``SCORE_THRESHOLD`` (IoU 0.5): counts to
    ``csv_path``, the picture to ``png_path``.

    Returns:
        The ``[C + 1, C + 1]`` counts (``evaluation.confusion.confusion_matrix``).
    """
    matrix = confusion_matrix(run.ground_truth, run.detections, len(class_names), SCORE_THRESHOLD)
    atomic_write_text(csv_path, confusion_csv(matrix, class_names))
    title = f"epoch {run.epoch + 1}, score >= {SCORE_THRESHOLD}, IoU > 0.5"
    plot_confusion_matrix(matrix, class_names, png_path, title)
    return matrix


class ValidationArtefacts(keras.callbacks.Callback):
    """``val_predictions.jpg`` every ``every`` epochs and after the last; the confusion matrix
    after the last epoch, or at the end of a run a callback stopped early (finite loss).

    Args:
        records: the validation images.
        save_dir: output folder.
        every: ``--eval-every`` (0: the grid after the last epoch only).
        last_epoch: the run's epochs.
        source: the run's ``MapCallback``, whose pass of the same epoch is reused.
    """

    def __init__(
        self,
        records: Sequence[ImageRecord],
        save_dir: str | os.PathLike,
        every: int,
        last_epoch: int,
        source: MapCallback | None = None,
    ):
        super().__init__()
        self.records, self.save_dir = list(records), Path(save_dir)
        self.every, self.last_epoch, self.source = int(every), int(last_epoch), source
        self._epoch: int | None = None
        self._loss = math.nan
        self._run: ValidationRun | None = None
        self.final_written = False

    def _pass(self, epoch: int) -> ValidationRun:
        for run in (self.source and self.source.latest, self._run):
            if run and run.epoch == epoch and run.score_threshold <= SCORE_THRESHOLD:
                return run
        self._run = run_validation(self.model, self.records, SCORE_THRESHOLD, GRID_IMAGES, epoch)
        return self._run

    def _write(self, epoch: int, final: bool) -> None:
        run = self._pass(epoch)
        write_prediction_grid(run, self.model, self.save_dir / GRID_JPG)
        if final:
            names = run.ground_truth["classes"]
            write_confusion_matrix(
                run, names, self.save_dir / CONFUSION_PNG, self.save_dir / CONFUSION_CSV
            )
            self.final_written = True
            log.info("wrote %s and %s (validation set)", CONFUSION_PNG, GRID_JPG)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch, self._loss = epoch, float((logs or {}).get("loss", math.nan))
        final = epoch + 1 == self.last_epoch
        if final or (self.every and (epoch + 1) % self.every == 0):
            self._write(epoch, final)

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.final_written or not self.model.stop_training or self._epoch is None:
            return
        if not math.isfinite(self._loss):
            log.warning("no %s: training stopped on a non-finite loss", CONFUSION_PNG)
            return
        self._write(self._epoch, final=True)


def writer_callbacks(
    save_dir: str | os.PathLike,
    val_records: Sequence[ImageRecord] | None,
    every: int,
    last_epoch: int,
    map_callback: MapCallback | None = None,
) -> list[keras.callbacks.Callback]:
    """The callbacks that draw the run's pictures (see the module doc), in their order: after
    ``EpochCommit`` (they read ``log.csv``) and after ``map_callback`` (they reuse its pass).

    Without validation records there is no grid or confusion matrix (logged once here).
    """
    save_dir = Path(save_dir)
    writers: list[keras.callbacks.Callback] = [
        LossPlotCallback(save_dir / LOG, save_dir / LOSS_PNG),
        ResultsPlotCallback(
            save_dir / LOG, save_dir / RESULTS_PNG, every, bool(val_records), last_epoch
        ),
    ]
    if val_records:
        writers.append(ValidationArtefacts(val_records, save_dir, every, last_epoch, map_callback))
    else:
        log.info("no validation set: no %s or %s", GRID_JPG, CONFUSION_PNG)
    return writers
