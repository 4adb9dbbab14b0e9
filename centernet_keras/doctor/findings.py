"""The doctor's findings on a surveyed split, which of them fail the check, the table and the
one-paragraph summary.

A finding *fails* the check (``centernet check`` exits 1) when it would silently hurt training:
objects no output location can learn (more than ``UNLEARNABLE_LIMIT`` of them), boxes of zero
size at the input, a class without a training object, images unreadable, and the same image in
the training and the validation split. The others are warnings or facts: boxes smaller than
the finest stride, extreme aspect ratios, same-class centres on one output cell, class
imbalance, images without objects, duplicate images within a split, rarely labelled joints.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from centernet_keras.doctor.survey import Survey

#: The share of unlearnable objects above which the check fails.
UNLEARNABLE_LIMIT = 0.01
#: A box longer than this many times its width (or wider than long) is extreme.
EXTREME_ASPECT = 20.0
#: A most / least frequent class ratio above this is an imbalance.
IMBALANCE = 10.0
#: A joint labelled in fewer than this share of the objects is rare.
RARE_JOINT = 0.1


@dataclass(frozen=True)
class Finding:
    """One line of the table: ``count`` of ``total`` ``unit`` are ``what``; ``fails``: it
    fails the check."""

    what: str
    count: int
    total: int
    unit: str
    fails: bool = False

    def share(self) -> str:
        """``count / total`` as a percentage."""
        return f"{100.0 * self.count / self.total:.1f} %" if self.total else "-"

    def line(self) -> str:
        """``count of total unit (share) what``."""
        return f"{self.count} of {self.total} {self.unit} ({self.share()}) {self.what}"


def finest_stride(detector_class) -> int:
    """The finest output stride a detector class declares (``Detector.strides``).

    Raises:
        TypeError: the class declares no strides.
    """
    if not detector_class.strides:
        raise TypeError(
            f"{detector_class.__name__} declares no output strides: set its class attribute "
            "`strides` (Detector.strides; CONTRIBUTING.md), which the dataset doctor reads"
        )
    return int(min(detector_class.strides))


def _collisions(data: Survey, stride: int) -> int:
    """Objects whose centre shares an output cell of ``stride`` with an earlier object of its
    class in its image."""
    centres = (data.boxes[:, :2] + data.boxes[:, 2:]) / 2.0
    cells = np.floor(centres / stride).astype(np.int64)
    keys = list(zip(data.image, data.classes, cells[:, 0], cells[:, 1], strict=True))
    return len(keys) - len(set(keys))


def findings(
    data: Survey,
    learnable: np.ndarray | None,
    stride: int,
    num_classes: int,
    training: bool = True,
) -> list[Finding]:
    """The findings of one split (``learnable``: ``[N]`` per object, ``learnable.learnable``;
    ``None``: not checked, said in the first row)."""
    n, images = len(data.classes), len(data.image_hw)
    w, h = data.sizes[:, 0], data.sizes[:, 1]
    aspect = np.maximum(w, h) / np.maximum(np.minimum(w, h), 1e-6)
    small = np.maximum(w, h) < stride
    checked = learnable is not None
    lost = ~learnable if checked else np.zeros(n, bool)
    counts = np.bincount(data.classes, minlength=num_classes)
    unique = len({d for d in data.digests if d})
    out = [
        Finding("no output location can learn" if checked else "no output location can learn: "
                "not checked (the oracle does not read this detector's targets)", int(lost.sum()),
                n, "objects", lost.sum() > UNLEARNABLE_LIMIT * n),
        Finding(f"  of them smaller than the stride {stride}", int((lost & small).sum()), n,
                "objects"),
        Finding(f"smaller than the stride {stride} (longer side)", int(small.sum()), n, "objects"),
        Finding("zero size at the input (< 1 px)", int(((w < 1) | (h < 1)).sum()), n, "objects",
                bool(((w < 1) | (h < 1)).any())),
        Finding(f"aspect ratio above {EXTREME_ASPECT:g}", int((aspect > EXTREME_ASPECT).sum()), n,
                "objects"),
        Finding(f"centre on a stride-{stride} cell taken by its class", _collisions(data, stride),
                n, "objects"),
        Finding("classes without an object", int((counts == 0).sum()), num_classes, "classes",
                training and bool((counts == 0).any())),
        Finding("unreadable", int(data.unreadable.sum()), images, "images",
                bool(data.unreadable.any())),
        Finding("without objects", int((data.objects_per_image == 0).sum()), images, "images"),
        Finding("duplicates (same bytes)", images - int(data.unreadable.sum()) - unique, images,
                "images"),
    ]  # fmt: skip
    joints = data.keypoints.shape[1]
    if joints:
        rare = int(((data.keypoints[..., 2] > 0).mean(0) < RARE_JOINT).sum()) if n else 0
        out.append(Finding(f"labelled in under {RARE_JOINT:.0%} of the objects", rare, joints,
                           "joints"))  # fmt: skip
    return out


def leaked(train: Survey, val: Survey) -> Finding:
    """Validation images whose bytes are a training image's (fails: inflated validation)."""
    seen = {d for d in train.digests if d}
    count = sum(1 for d in val.digests if d and d in seen)
    return Finding("also in the training split", count, len(val.digests), "images", count > 0)


def imbalance(data: Survey, num_classes: int) -> float:
    """Most / least frequent class among the classes that have objects (1 when none)."""
    counts = np.bincount(data.classes, minlength=num_classes)
    present = counts[counts > 0]
    return float(present.max() / present.min()) if len(present) else 1.0


def table(
    split: str,
    data: Survey,
    found: Sequence[Finding],
    class_names: Sequence[str],
    joint_names: Sequence[str] = (),
) -> str:
    """The split's table: findings (``!`` marks a failing one), classes, image sizes, and the
    share of the objects each joint is labelled in (named by ``joint_names``, else by index)."""
    rows = [f"{split}: {len(data.image_hw)} images, {len(data.classes)} objects"]
    rows += [f"  {'!' if f.fails else ' '} {f.count:>6} {f.share():>8}  {f.unit:<8} {f.what}"
             for f in found]  # fmt: skip
    counts = np.bincount(data.classes, minlength=len(class_names))
    sizes = np.sqrt(np.prod(np.maximum(data.sizes, 0), 1))
    rows.append(f"  {'class':<16} {'objects':>8} {'median √area px':>16}")
    for c, name in enumerate(class_names):
        median = float(np.median(sizes[data.classes == c])) if counts[c] else 0.0
        rows.append(f"  {name[:16]:<16} {counts[c]:>8} {median:>16.1f}")
    rows.append(f"  class imbalance (most / least): {imbalance(data, len(class_names)):.1f}")
    readable = data.image_hw[~data.unreadable]
    if len(readable):
        top = Counter(f"{w}x{h}" for h, w in readable).most_common(3)
        rows.append("  image sizes (w x h): " + ", ".join(f"{s} ({k})" for s, k in top)
                    + f"; {len(set(map(tuple, readable)))} distinct")  # fmt: skip
    joints = data.keypoints.shape[1]
    if joints and len(data.classes):
        labelled = (data.keypoints[..., 2] > 0).mean(0)
        names = list(joint_names) or [str(j) for j in range(joints)]
        shares = ", ".join(f"{name} {v:.0%}" for name, v in zip(names, labelled, strict=True))
        rows.append(f"  joints labelled: {shares}")
    return "\n".join(rows)


def summary(split: str, data: Survey, found: Sequence[Finding], num_classes: int) -> str:
    """The one-paragraph summary ``train`` logs at start."""
    failing = [f.line() for f in found if f.fails]
    warned = [f.line() for f in found if not f.fails and f.count and not f.what.startswith(" ")]
    text = (
        f"data check ({split}, input {data.input_hw[1]}x{data.input_hw[0]}, "
        f"{'letterbox' if data.letterbox else 'resize'}): {len(data.image_hw)} images, "
        f"{len(data.classes)} objects, class imbalance {imbalance(data, num_classes):.1f}"
    )
    if failing:
        text += "; PROBLEMS: " + "; ".join(failing)
    if warned:
        text += "; notes: " + "; ".join(warned)
    return text + " (`centernet check` with the same flags: the table and data_report.png)"
