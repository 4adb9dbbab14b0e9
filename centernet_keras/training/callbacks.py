"""Training callbacks: atomic checkpoints with resumable state, loss curve, skip report."""

from __future__ import annotations

import csv
import json
import logging
import math
import os
from pathlib import Path

import keras

from centernet_keras.data.image_io import SkipLog
from centernet_keras.io import atomic_write_text

log = logging.getLogger("centernet_keras.training")

LAST, BEST, STATE = "last.keras", "best.keras", "train_state.json"


def atomic_save_model(model: keras.Model, path: str | Path) -> None:
    """``model.save`` to a temporary file in the same folder, then rename over ``path``."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp.keras")
    model.save(tmp)
    os.replace(tmp, path)


def read_state(save_dir: str | Path) -> dict | None:
    """The resumable training state written after each epoch, or ``None``."""
    path = Path(save_dir) / STATE
    return json.loads(path.read_text()) if path.exists() else None


class CheckpointCallback(keras.callbacks.Callback):
    """After every epoch: ``last.keras`` (with optimizer state), ``best.keras`` when the
    monitored value improves, then ``train_state.json`` — each written atomically, in that
    order, so a kill at any moment leaves a loadable checkpoint and a state that points to it.

    Args:
        save_dir: output folder.
        phase: ``"freeze"`` or ``"unfreeze"`` (saved in the state for ``--resume``).
        monitor: logged value to minimise (``val_loss`` when validating, else ``loss``).
        best: best value so far (restored on resume).
    """

    def __init__(self, save_dir: str | Path, phase: str, monitor: str, best: float = math.inf):
        super().__init__()
        self.save_dir, self.phase, self.monitor, self.best = Path(save_dir), phase, monitor, best

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        atomic_save_model(self.model, self.save_dir / LAST)
        value = logs.get(self.monitor)
        improved = value is not None and math.isfinite(value) and value < self.best
        if improved:
            self.best = float(value)
            atomic_save_model(self.model, self.save_dir / BEST)
        state = {
            "epoch": epoch + 1,
            "phase": self.phase,
            "optimizer_iterations": int(self.model.optimizer.iterations.numpy()),
            "monitor": self.monitor,
            "best": self.best if math.isfinite(self.best) else None,
        }
        atomic_write_text(self.save_dir / STATE, json.dumps(state, indent=2) + "\n")


class LossPlotCallback(keras.callbacks.Callback):
    """Redraw ``loss.png`` from the CSV log after every epoch (loss and val_loss curves)."""

    def __init__(self, csv_path: str | Path, png_path: str | Path):
        super().__init__()
        self.csv_path, self.png_path = Path(csv_path), Path(png_path)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if not self.csv_path.exists():
            return
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        with self.csv_path.open() as f:
            rows = list(csv.DictReader(f))
        if not rows:
            return
        epochs = [int(r["epoch"]) + 1 for r in rows]
        fig, ax = plt.subplots(figsize=(7, 4))
        for key in ("loss", "val_loss"):
            values = [float(r[key]) for r in rows if r.get(key) not in (None, "", "NA")]
            if len(values) == len(rows):
                ax.plot(epochs, values, label=key)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
        ax.legend()
        tmp = self.png_path.with_name(f".{self.png_path.stem}.tmp.png")
        fig.savefig(tmp, dpi=100, bbox_inches="tight")
        plt.close(fig)
        os.replace(tmp, self.png_path)


class SkipReportCallback(keras.callbacks.Callback):
    """Log, at the end of each epoch, images the pipeline could not read (and add the count
    to the logs as ``skipped_images``)."""

    def __init__(self, skips: SkipLog):
        super().__init__()
        self.skips, self._reported = skips, 0

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is not None:
            logs["skipped_images"] = float(len(self.skips.paths))
        if len(self.skips.paths) > self._reported:
            self._reported = len(self.skips.paths)
            log.warning(
                "%d unreadable image(s) skipped so far, e.g. %s",
                self._reported,
                "; ".join(list(self.skips.messages)[-3:]),
            )
