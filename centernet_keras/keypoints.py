"""Keypoint (joint) sets for pose models: names, left/right flip pairs, skeleton and OKS sigmas.

A :class:`KeypointSpec` is saved with a pose model (``get_config()`` is plain JSON). Indices are
0-based everywhere here; COCO JSON skeletons are 1-based and are converted on reading.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

COCO_KEYPOINT_NAMES = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
# The COCO person skeleton, as in the COCO JSON (1-based).
COCO_SKELETON_1BASED = (
    (16, 14), (14, 12), (17, 15), (15, 13), (12, 13), (6, 12), (7, 13), (6, 7), (6, 8),
    (7, 9), (8, 10), (9, 11), (2, 3), (1, 2), (1, 3), (2, 4), (3, 5), (4, 6), (5, 7),
)  # fmt: skip
# pycocotools' per-joint OKS sigmas for the 17 COCO joints.
COCO_SIGMAS = tuple(
    s / 10.0
    for s in (.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89)
)  # fmt: skip
# Sigma of a joint that is not a COCO joint (unless given): the mean COCO sigma (≈ 0.0669).
DEFAULT_SIGMA = float(np.mean(COCO_SIGMAS))


def _left_right_pairs(names: Sequence[str]) -> list[tuple[int, int]]:
    """``(i, j)`` for every ``names[i] == "left_X"`` with ``names[j] == "right_X"`` (any case)."""
    index = {name.lower(): i for i, name in enumerate(names)}
    pairs = []
    for i, name in enumerate(names):
        lower = name.lower()
        if lower.startswith("left_") and "right_" + lower[5:] in index:
            pairs.append((i, index["right_" + lower[5:]]))
    return pairs


def _pairs(values: Sequence[Sequence[int]], what: str) -> tuple[tuple[int, int], ...]:
    out = []
    for pair in values:
        if len(pair) != 2:
            raise ValueError(f"each {what} entry must be a pair of joint indices, got {pair!r}")
        out.append((int(pair[0]), int(pair[1])))
    return tuple(out)


@dataclass(frozen=True)
class KeypointSpec:
    """A set of ``J`` joints.

    Attributes:
        names: ``J`` unique joint names.
        flip_pairs: ``(i, j)`` joints swapped by a horizontal flip (0-based); a joint is in at
            most one pair; joints in none map to themselves.
        skeleton: ``(i, j)`` limbs drawn between joints (0-based).
        sigmas: ``J`` OKS sigmas (pycocotools' ``kpt_oks_sigmas``), all > 0.

    Raises:
        ValueError: on an index out of range, a joint in two flip pairs or paired with itself,
            a sigma count other than ``J``, a sigma ``<= 0``, or duplicate / no names.
    """

    names: tuple[str, ...]
    flip_pairs: tuple[tuple[int, int], ...]
    skeleton: tuple[tuple[int, int], ...]
    sigmas: tuple[float, ...]

    def __post_init__(self) -> None:
        names = tuple(str(n) for n in self.names)
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "flip_pairs", _pairs(self.flip_pairs, "flip_pairs"))
        object.__setattr__(self, "skeleton", _pairs(self.skeleton, "skeleton"))
        object.__setattr__(self, "sigmas", tuple(float(s) for s in self.sigmas))
        num = len(names)
        if num == 0:
            raise ValueError("a KeypointSpec needs at least one joint name")
        if len(set(names)) != num:
            raise ValueError(f"joint names must be unique, got {list(names)}")
        for what in ("flip_pairs", "skeleton"):
            for i, j in getattr(self, what):
                if not (0 <= i < num and 0 <= j < num):
                    raise ValueError(
                        f"{what} pair ({i}, {j}) is out of range for {num} joints (0-based)"
                    )
        seen: set[int] = set()
        for i, j in self.flip_pairs:
            if i == j or i in seen or j in seen:
                raise ValueError(f"flip pair ({i}, {j}): a joint is in at most one pair")
            seen.update((i, j))
        if len(self.sigmas) != num:
            raise ValueError(f"got {len(self.sigmas)} sigmas for {num} joints")
        if any(not s > 0 for s in self.sigmas):
            raise ValueError(f"sigmas must be > 0, got {list(self.sigmas)}")

    @property
    def num_joints(self) -> int:
        """``J``."""
        return len(self.names)

    @classmethod
    def coco17(cls) -> KeypointSpec:
        """The 17 COCO person joints, their flip pairs, skeleton and OKS sigmas."""
        return cls.from_coco_category(
            {"keypoints": list(COCO_KEYPOINT_NAMES), "skeleton": COCO_SKELETON_1BASED}
        )

    @classmethod
    def from_coco_category(
        cls,
        category: Mapping,
        sigmas: Sequence[float] | None = None,
        flip_pairs: Sequence[Sequence[int]] | None = None,
    ) -> KeypointSpec:
        """The spec of a COCO keypoint category.

        Args:
            category: a COCO ``categories`` entry with ``keypoints`` (names) and optionally
                ``skeleton`` (1-based pairs, as in COCO JSON).
            sigmas: ``J`` OKS sigmas; default the COCO sigma of each COCO joint name and
                ``DEFAULT_SIGMA`` (the mean COCO sigma) for any other name.
            flip_pairs: 0-based pairs; default inferred from names: ``left_X`` ↔ ``right_X``.

        Returns:
            The ``KeypointSpec``.
        """
        if "keypoints" not in category:
            raise ValueError("the category has no 'keypoints' (joint names)")
        names = [str(n) for n in category["keypoints"]]
        skeleton = []
        for pair in _pairs(category.get("skeleton") or (), "skeleton"):
            if min(pair) < 1:
                raise ValueError(f"COCO skeleton pairs are 1-based, got {pair}")
            skeleton.append((pair[0] - 1, pair[1] - 1))
        if flip_pairs is None:
            flip_pairs = _left_right_pairs(names)
        if sigmas is None:
            coco = dict(zip(COCO_KEYPOINT_NAMES, COCO_SIGMAS, strict=True))
            sigmas = [coco.get(name, DEFAULT_SIGMA) for name in names]
        return cls(tuple(names), _pairs(flip_pairs, "flip_pairs"), tuple(skeleton), tuple(sigmas))

    def flip_permutation(self) -> np.ndarray:
        """``[J]`` int64: joint ``i`` of a flipped image is joint ``perm[i]`` of the original."""
        perm = np.arange(self.num_joints, dtype=np.int64)
        for i, j in self.flip_pairs:
            perm[i], perm[j] = j, i
        return perm

    def get_config(self) -> dict:
        """JSON-able dict (lists; 0-based pairs); ``from_config`` inverts it."""
        return {
            "names": list(self.names),
            "flip_pairs": [list(p) for p in self.flip_pairs],
            "skeleton": [list(p) for p in self.skeleton],
            "sigmas": list(self.sigmas),
        }

    @classmethod
    def from_config(cls, config: Mapping) -> KeypointSpec:
        """The spec of a ``get_config()`` dict."""
        keys = ("names", "flip_pairs", "skeleton", "sigmas")
        missing = [k for k in keys if k not in config]
        if missing:
            raise ValueError(f"KeypointSpec config lacks {missing}")
        return cls(**{k: config[k] for k in keys})
