"""Evaluation reports: per-class table (text), precision–recall curves (PNG), JSON summary,
confusion matrix (PNG).

Figures are drawn with ``matplotlib.figure.Figure`` and the Agg canvas directly, so importing
this module never changes the global pyplot backend and needs no display.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from centernet_keras.evaluation.coco import COCOResult
from centernet_keras.evaluation.confusion import BACKGROUND, normalize_rows
from centernet_keras.evaluation.voc import (
    ClassAP,
    VOCResult,
    eleven_point_precision,
    precision_envelope,
)
from centernet_keras.io import atomic_path, atomic_write_text

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_COLUMNS = {"voc07": "AP50 (07)", "voc": "AP50 (all)", "coco": "AP (COCO)"}


def _fmt(v: float | None) -> str:
    return "   -  " if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:6.4f}"


def format_table(results: Mapping[str, VOCResult | COCOResult]) -> str:
    """Per-class AP of each metric as an aligned text table, means in the last row.

    Args:
        results: ``{metric: result}`` for any of ``"voc07"``, ``"voc"``, ``"coco"``.

    Returns:
        The table (lines joined by newlines, no trailing newline).
    """
    metrics = [m for m in _COLUMNS if m in results]
    first = results[metrics[0]]
    names = list(first.per_class_ap)
    voc = next((results[m] for m in ("voc07", "voc") if m in results), None)
    coco = results.get("coco")
    width = max([len("class"), len("mean"), *(len(n) for n in names)])
    header = [f"{'class':<{width}}", "  #GT", " #det", *(f"{_COLUMNS[m]:>10}" for m in metrics)]
    if coco is not None:
        header.append(f"{'AP50 (COCO)':>11}")
    lines = [" ".join(header)]
    lines.append("-" * len(lines[0]))
    for name in names:
        gt = f"{voc.per_class[name].num_gt:5d}" if voc else "    -"
        det = f"{voc.per_class[name].num_det:5d}" if voc else "    -"
        row = [f"{name:<{width}}", gt, det]
        row += [f"{_fmt(results[m].per_class_ap[name]):>10}" for m in metrics]
        if coco is not None:
            row.append(f"{_fmt(coco.per_class[name]['AP50']):>11}")
        lines.append(" ".join(row))
    lines.append("-" * len(lines[0]))
    mean = [f"{'mean':<{width}}", "     ", "     "]
    mean += [f"{_fmt(results[m].mean_ap):>10}" for m in metrics]
    if coco is not None:
        mean.append(f"{_fmt(float(coco.stats[1])):>11}")
    lines.append(" ".join(mean))
    return "\n".join(lines)


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name) or "class"


def pr_figure(name: str, r: ClassAP, metric: str) -> Figure:
    """The precision–recall figure of one class (a ``matplotlib.figure.Figure``, Agg canvas).

    Drawn: the raw precision of the ranked detections (grey), the interpolated precision the
    AP is computed from (``voc.precision_envelope``) and, shaded, the area that is the AP of
    ``metric``: under that envelope (``"voc"``, all-point), or the 11 bars of
    ``voc.eleven_point_precision``, one at each recall threshold, ``1/11`` wide (``"voc07"``:
    the mean of their heights = their area). The title gives the AP.

    Args:
        name: the class name.
        r: its ``ClassAP`` (ranked ``recall`` / ``precision``, ``[N]``).
        metric: ``"voc07"`` or ``"voc"`` (``VOCResult.metric``).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if math.isnan(r.ap):
        ax.text(0.5, 0.5, "no ground truth of this class", ha="center", va="center",
                transform=ax.transAxes)  # fmt: skip
    else:
        ax.plot(r.recall, r.precision, color="0.6", lw=1.0, label="precision")
        mrec, mpre = precision_envelope(r.recall, r.precision)
        ax.plot(mrec, mpre, drawstyle="steps-pre", color="tab:blue", lw=1.5,
                label="interpolated precision")  # fmt: skip
        if metric == "voc07":
            thresholds, points = eleven_point_precision(r.recall, r.precision)
            ax.bar(thresholds, points, width=1.0 / 11.0, color="tab:blue", alpha=0.25,
                   label="11 points: area = AP")  # fmt: skip
        else:
            ax.fill_between(mrec, mpre, step="pre", color="tab:blue", alpha=0.25,
                            label="area = AP")  # fmt: skip
        ax.legend(loc="upper right", fontsize=8)
    ax.set_xlim(-0.05, 1.05)
    ax.set_ylim(0.0, 1.05)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.grid(alpha=0.3)
    ap = "n/a" if math.isnan(r.ap) else f"{r.ap:.4f}"
    ax.set_title(f"{name}: AP = {ap} ({metric}, {r.num_gt} GT, {r.num_det} det)")
    fig.tight_layout()
    return fig


def plot_pr_curves(result: VOCResult, output_dir: str | os.PathLike) -> list[Path]:
    """One precision–recall PNG per class (``pr_<class>.png``, each written atomically), AP in
    the title and shaded (``pr_figure``).

    Args:
        result: a VOC result (its per-class ranked recall/precision arrays).
        output_dir: folder for the PNGs (created).

    Returns:
        The paths written, in class order.
    """
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, r in result.per_class.items():
        fig = pr_figure(name, r, result.metric)
        path = out / f"pr_{_safe_name(name)}.png"
        with atomic_path(path) as tmp:
            fig.savefig(tmp)
        paths.append(path)
    return paths


def write_summary(
    path: str | os.PathLike,
    results: Mapping[str, VOCResult | COCOResult],
    extra: Mapping | None = None,
) -> dict:
    """Write one JSON summary of every metric (atomically) and return it.

    Args:
        path: the ``.json`` file.
        results: ``{metric: result}``.
        extra: more top-level entries (model, split, settings…).

    Returns:
        The dict written: ``{**extra, "metrics": {metric: result.to_dict()}}``.
    """
    summary = {**(extra or {}), "metrics": {m: r.to_dict() for m, r in results.items()}}
    atomic_write_text(path, json.dumps(summary, indent=2) + "\n")
    return summary


def plot_confusion_matrix(
    matrix: np.ndarray,
    class_names: Sequence[str],
    path: str | os.PathLike,
    title: str = "",
) -> Path:
    """Draw a detection confusion matrix (``confusion.confusion_matrix``) as a PNG.

    Cell colours are the row-normalised fractions (``confusion.normalize_rows``), cell texts
    the counts (left out above 30 classes, where they would not fit).

    Args:
        matrix: ``[C + 1, C + 1]`` counts, rows true class + background, columns predicted
            class + background.
        class_names: the ``C`` class names.
        path: the ``.png`` file (written atomically).
        title: the figure's title.

    Returns:
        ``path``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    counts = np.asarray(matrix)
    names = [*(str(n) for n in class_names), BACKGROUND]
    side = min(max(4.0, 0.55 * len(names) + 2.5), 30.0)
    fig = Figure(figsize=(side + 1.0, side), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    shown = normalize_rows(counts)
    image = ax.imshow(shown, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="fraction of the row (true)")
    ticks = np.arange(len(names))
    ax.set_xticks(ticks, names, rotation=90 if len(names) > 8 else 45, ha="right")
    ax.set_yticks(ticks, names)
    ax.set_xlabel("predicted (background: missed)")
    ax.set_ylabel("true (background: false positive)")
    if len(names) <= 31:
        for (i, j), count in np.ndenumerate(counts):
            if count:
                color = "white" if shown[i, j] > 0.5 else "black"
                ax.text(j, i, str(int(count)), ha="center", va="center", color=color, fontsize=8)
    heading = "confusion matrix: counts, colour = row fraction"
    ax.set_title(f"{title}\n{heading}" if title else heading)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp)
    return path
