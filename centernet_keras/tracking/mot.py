"""MOTChallenge text files: a tracker's ``tracks.txt`` and ground truth, written and read.

One line per object and frame, comma-separated: ``frame, id, x, y, w, h, score, -1, -1, -1``
(frame 1-based, ``x, y`` the box's top-left corner, pixels; the MOTChallenge 2D results
format). Ground truth (``gt.txt``) has the MOT16 columns ``frame, id, x, y, w, h, 1, class,
visibility`` (class 1-based, visibility the share of the object not hidden, 0–1).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from centernet_keras.io import atomic_write_text
from centernet_keras.tracking.tracker import TrackedObject


def _xywh(box) -> str:
    x1, y1, x2, y2 = (float(v) for v in box)
    return f"{x1:.2f},{y1:.2f},{x2 - x1:.2f},{y2 - y1:.2f}"


def track_lines(frame: int, objects: Iterable[TrackedObject]) -> list[str]:
    """The ``tracks.txt`` lines of one frame (``frame`` 1-based)."""
    return [f"{frame},{o.track_id},{_xywh(o.box)},{o.score:.4f},-1,-1,-1" for o in objects]


def ground_truth_line(frame: int, object_id: int, box, class_id: int, visibility: float) -> str:
    """One ``gt.txt`` line: ``box`` ``[x1, y1, x2, y2]``, ``class_id`` 0-based (written
    1-based)."""
    return f"{frame},{object_id},{_xywh(box)},1,{class_id + 1},{visibility:.3f}"


def write_lines(path: str | os.PathLike, lines: Iterable[str]) -> None:
    """Write MOT lines to ``path`` (atomically, one per line)."""
    atomic_write_text(path, "".join(f"{line}\n" for line in lines))


def read_mot(path: str | os.PathLike) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """A MOT file (``tracks.txt`` or ``gt.txt``) as ``{frame: (ids [N] int64, boxes [N, 4]
    float64 [x1, y1, x2, y2], visibility [N] float64)}``: the visibility is a ground-truth
    line's 9th column (a 9-column line), else 1; ground-truth lines whose 7th column is 0 (not
    to be considered) are left out.

    Raises:
        ValueError: a line with fewer than 6 numbers, naming the file and line.
    """
    rows: dict[int, list[tuple[int, list[float], float]]] = {}
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            values = [float(v) for v in line.split(",")]
        except ValueError:
            values = []
        if len(values) < 6:
            raise ValueError(f"{path}:{number}: not a MOT line (frame, id, x, y, w, h, ...)")
        if len(values) >= 9 and values[6] == 0:
            continue
        x, y, w, h = values[2:6]
        visibility = values[8] if len(values) == 9 else 1.0
        rows.setdefault(int(values[0]), []).append(
            (int(values[1]), [x, y, x + w, y + h], visibility)
        )
    return {
        frame: (
            np.array([i for i, _, _ in items], np.int64),
            np.array([b for _, b, _ in items], np.float64).reshape(-1, 4),
            np.array([v for _, _, v in items], np.float64),
        )
        for frame, items in sorted(rows.items())
    }
