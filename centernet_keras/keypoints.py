"""Keypoint (joint) sets for pose models: names, left/right flip pairs, skeleton and OKS sigmas.

A :class:`KeypointSpec` is saved with a pose model (``get_config()`` is plain JSON). Indices are
0-based everywhere here; COCO JSON skeletons and flip pairs, and ``--flip-pairs``, are 1-based
and are converted on reading.

Left/right flip pairs, unless given, come from the names: a name whose first or last word is
``left`` / ``l`` (``right`` / ``r``) is paired with the one whose other words are the same
(words split at spaces, ``_``, ``-``, ``.`` and CamelCase, any case): ``left_eye`` ↔
``right_eye``, ``l_shoulder`` ↔ ``r_shoulder``, ``LeftEye`` ↔ ``RightEye``, ``eye_left`` ↔
``eye_right``, ``left-eye`` ↔ ``right eye``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from centernet_keras.text import shorten

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


#: The words that put a joint on a side when they start or end its name.
_SIDE_WORDS = {"left": "left", "l": "left", "right": "right", "r": "right"}


def _words(name: str) -> list[str]:
    """Lower-case words of a joint name: split at spaces, ``_``, ``-``, ``.`` and CamelCase."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", spaced)
    return [w for w in re.split(r"[\s_\-.]+", spaced.lower()) if w]


def split_side(name: str) -> tuple[str | None, str]:
    """``(side, rest)`` of a joint name: ``side`` ``"left"`` / ``"right"`` when its first or
    last word is ``left``/``l`` or ``right``/``r`` (``None`` otherwise), ``rest`` its other
    words joined by spaces (``"l_shoulder"`` → ``("left", "shoulder")``, ``"EyeRight"`` →
    ``("right", "eye")``, ``"nose"`` → ``(None, "nose")``)."""
    words = _words(name)
    if len(words) >= 2 and words[0] in _SIDE_WORDS:
        return _SIDE_WORDS[words[0]], " ".join(words[1:])
    if len(words) >= 2 and words[-1] in _SIDE_WORDS:
        return _SIDE_WORDS[words[-1]], " ".join(words[:-1])
    return None, " ".join(words)


def looks_sided(name: str) -> bool:
    """Whether a joint name looks left/right: a side word (see ``split_side``) or ``left`` /
    ``right`` anywhere in it (``"lefteye"``)."""
    return split_side(name)[0] is not None or any(s in name.lower() for s in ("left", "right"))


def _left_right_pairs(names: Sequence[str]) -> list[tuple[int, int]]:
    """``(i, j)`` for every left joint ``names[i]`` whose right twin is ``names[j]`` (see
    ``split_side``); a left or right name that several joints share is paired with none."""
    by_side: dict[tuple[str, str], list[int]] = {}
    for i, name in enumerate(names):
        side, rest = split_side(name)
        if side is not None:
            by_side.setdefault((side, rest), []).append(i)
    pairs = []
    for (side, rest), left in by_side.items():
        right = by_side.get(("right", rest), [])
        if side == "left" and len(left) == 1 and len(right) == 1:
            pairs.append((left[0], right[0]))
    return sorted(pairs)


def resolve_flip_pairs(
    values: object, names: Sequence[str], what: str = "flip_pairs"
) -> tuple[tuple[int, int], ...]:
    """User-given flip pairs → 0-based pairs of ``names``.

    Args:
        values: a list of pairs, each joint a 1-based index (as COCO ``skeleton``) or a name.
        names: the ``J`` joint names.
        what: where the pairs come from, for the messages (a file's category, a flag).

    Returns:
        ``((i, j), ...)``, 0-based.

    Raises:
        ValueError: one line naming ``what``: not a list of pairs, an index outside ``1..J``,
            an unknown name, a joint paired with itself or in two pairs.
    """
    if not isinstance(values, list | tuple):
        raise ValueError(f"{what} must be a list of joint pairs, got {values!r}")
    index = {name: i for i, name in enumerate(names)}
    pairs: list[tuple[int, int]] = []
    seen: set[int] = set()
    for pair in values:
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise ValueError(f"{what}: each entry must be a pair of joints, got {pair!r}")
        resolved = []
        for joint in pair:
            if isinstance(joint, str) and joint in index:
                resolved.append(index[joint])
            elif type(joint) is int and 1 <= joint <= len(names):
                resolved.append(joint - 1)
            else:
                raise ValueError(
                    f"{what}: {joint!r} is neither a joint index 1..{len(names)} (1-based) nor "
                    f"a joint name {list(names)}"
                )
        i, j = resolved
        if i == j:
            raise ValueError(f"{what}: joint {names[i]!r} is paired with itself")
        if i in seen or j in seen:
            twice = names[i] if i in seen else names[j]
            raise ValueError(f"{what}: joint {twice!r} is in two pairs")
        seen.update((i, j))
        pairs.append((i, j))
    return tuple(pairs)


def parse_flip_pairs(
    text: str, names: Sequence[str], flag: str = "--flip-pairs"
) -> tuple[tuple[int, int], ...]:
    """The pairs of a ``--flip-pairs`` value: ``"A:B,C:D"``, each joint a 1-based index or a
    name (``"2:3,4:5"``, ``"l_eye:r_eye"``; ``"2-3"`` for indices too), or ``"none"`` (no
    pairs); see ``resolve_flip_pairs``."""
    if text.strip().lower() in ("none", ""):
        return ()
    values: list[list[int | str]] = []
    for item in text.split(","):
        item = item.strip()
        left, sep, right = item.partition(":")
        if not sep and re.fullmatch(r"\d+-\d+", item):
            left, sep, right = item.partition("-")
        if not sep:
            raise ValueError(f"{flag}: {item!r} is not a pair 'A:B' (e.g. '2:3,4:5')")
        values.append([int(v) if v.strip().isdigit() else v.strip() for v in (left, right)])
    return resolve_flip_pairs(values, names, f"{flag} {text!r}")


def _pairs(values: Sequence[Sequence[int]], what: str) -> tuple[tuple[int, int], ...]:
    """``values`` as a tuple of ``(i, j)`` int pairs.

    Raises:
        ValueError: ``values`` is not a list of pairs of integers (a flat list, a dict, a
            triple, a name), naming ``what``.
    """
    if not isinstance(values, list | tuple | np.ndarray):
        raise ValueError(f"{what} must be a list of pairs of joint indices, got {shorten(values)}")
    out = []
    for pair in values:
        ints = isinstance(pair, list | tuple | np.ndarray) and len(pair) == 2
        if not ints or not all(isinstance(v, int | np.integer) for v in pair):
            got = shorten(pair)
            raise ValueError(f"each {what} entry must be a pair of joint indices, got {got}")
        out.append((int(pair[0]), int(pair[1])))
    return tuple(out)


@dataclass(frozen=True)
class KeypointSpec:
    """A set of ``J`` joints.

    Attributes:
        names: ``J`` unique joint names.
        flip_pairs: ``(i, j)`` joints swapped by a horizontal flip (0-based; stored ``i < j``,
            sorted); a joint is in at most one pair; joints in none map to themselves.
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
        flip_pairs = sorted((min(p), max(p)) for p in _pairs(self.flip_pairs, "flip_pairs"))
        object.__setattr__(self, "flip_pairs", tuple(flip_pairs))  # one spelling of each set
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
            flip_pairs: 0-based pairs; default the category's ``flip_pairs`` (1-based indices
                or names, as ``resolve_flip_pairs`` reads them; ``[]``: no pairs), else
                inferred from the names (``left_X`` ↔ ``right_X`` and the other spellings of
                the module doc).

        Returns:
            The ``KeypointSpec``.

        Raises:
            ValueError: no ``keypoints``; a malformed ``skeleton`` or ``flip_pairs``.
        """
        if "keypoints" not in category:
            raise ValueError("the category has no 'keypoints' (joint names)")
        names = category["keypoints"]
        if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
            raise ValueError(f"'keypoints' must be a list of joint names, got {shorten(names)}")
        names = list(names)
        skeleton = []
        for pair in _pairs(category.get("skeleton") or (), "skeleton"):
            if min(pair) < 1:
                raise ValueError(f"COCO skeleton pairs are 1-based, got {pair}")
            skeleton.append((pair[0] - 1, pair[1] - 1))
        if flip_pairs is None and "flip_pairs" in category:
            flip_pairs = resolve_flip_pairs(category["flip_pairs"], names, "'flip_pairs'")
        elif flip_pairs is None:
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

    def with_flip_pairs(self, flip_pairs: Sequence[Sequence[int]]) -> KeypointSpec:
        """The same joints with other flip pairs (0-based)."""
        return replace(self, flip_pairs=_pairs(flip_pairs, "flip_pairs"))

    def unpaired_sided_joints(self) -> list[str]:
        """The names that look left/right (``looks_sided``) but are in no flip pair: a
        horizontal flip leaves them where they are."""
        paired = {i for pair in self.flip_pairs for i in pair}
        return [n for i, n in enumerate(self.names) if i not in paired and looks_sided(n)]

    def reordered(self, names: Sequence[str]) -> KeypointSpec:
        """The same joints listed in the order of ``names`` (the same set of names): pairs
        renumbered, sigmas moved with their joints.

        Raises:
            ValueError: ``names`` are not this spec's names.
        """
        if sorted(names) != sorted(self.names):
            raise ValueError(f"joints {list(names)} are not {list(self.names)}")
        new = {self.names.index(name): k for k, name in enumerate(names)}
        return KeypointSpec(
            tuple(names),
            tuple((new[i], new[j]) for i, j in self.flip_pairs),
            tuple((new[i], new[j]) for i, j in self.skeleton),
            tuple(self.sigmas[self.names.index(name)] for name in names),
        )

    def difference(self, other: KeypointSpec | None) -> str:
        """What differs from ``other``, in words (``""`` if nothing): the first of names, flip
        pairs (by name), skeleton, sigmas."""
        if other is None:
            return f"joints {list(self.names)} vs none"
        if self.names != other.names:
            return f"joint names {list(self.names)} vs {list(other.names)}"
        for what in ("flip_pairs", "skeleton"):
            mine, theirs = getattr(self, what), getattr(other, what)
            if mine != theirs:
                named = [[[self.names[i], self.names[j]] for i, j in p] for p in (mine, theirs)]
                return f"{what.replace('_', ' ')} {named[0]} vs {named[1]}"
        if self.sigmas != other.sigmas:
            return f"sigmas {list(self.sigmas)} vs {list(other.sigmas)}"
        return ""

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
