"""``data_report.png``: per class, the histograms of box size (√area) and aspect ratio at the
network input; and the objects per image (one row per split)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from centernet_keras.doctor.survey import Survey
from centernet_keras.io import atomic_path


def write_report(
    path: str | Path, splits: Mapping[str, Survey], class_names: Sequence[str], stride: int
) -> Path:
    """Draw the splits' histograms to ``path`` (atomically); returns ``path``.

    Args:
        path: the ``.png`` file.
        splits: split name → its survey.
        class_names: the classes (a colour each).
        stride: the finest output stride, marked on the size histograms.
    """
    fig = Figure(figsize=(15, 4 * len(splits)), dpi=80)
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(splits), 3, squeeze=False)
    for row, (split, data) in zip(axes, splits.items(), strict=True):
        sizes = np.sqrt(np.prod(np.maximum(data.sizes, 0), 1))
        w, h = np.maximum(data.sizes[:, 0], 1e-3), np.maximum(data.sizes[:, 1], 1e-3)
        aspect = np.log2(w / h)
        size_bins = np.linspace(0, max(float(sizes.max(initial=1)), stride * 2), 40)
        aspect_bins = np.linspace(-6, 6, 49)
        for c, name in enumerate(class_names):
            mine = data.classes == c
            if mine.any():
                row[0].hist(sizes[mine], size_bins, histtype="step", label=name)
                row[1].hist(np.clip(aspect[mine], -6, 6), aspect_bins, histtype="step", label=name)
        row[0].axvline(stride, color="k", ls="--", lw=1, label=f"stride {stride}")
        size = f"{data.input_hw[1]}x{data.input_hw[0]}"
        row[0].set_title(f"{split}: box size √(w·h), input px ({size})")
        row[1].set_title(f"{split}: aspect log2(w / h)")
        per_image = data.objects_per_image
        row[2].hist(per_image, np.arange(per_image.max(initial=0) + 2) - 0.5, color="tab:gray")
        row[2].set_title(f"{split}: objects per image")
        for ax in row[:2]:
            ax.legend(fontsize=7)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp)
    return path
