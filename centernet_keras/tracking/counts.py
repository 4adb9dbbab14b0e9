"""Per-track counts of a tracking run: tracks per class, frames per track."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from centernet_keras.tracking.tracker import TrackedObject


@dataclass
class TrackCounts:
    """What a run's tracks add up to (``add`` each frame's objects).

    Attributes:
        frames: frames added.
        frames_per_track: ``{track id: frames it was reported in}``.
        track_class: ``{track id: class name}``.
    """

    frames: int = 0
    frames_per_track: Counter = field(default_factory=Counter)
    track_class: dict[int, str] = field(default_factory=dict)

    def add(self, objects: Iterable[TrackedObject]) -> None:
        """Count one frame's tracked objects."""
        self.frames += 1
        for obj in objects:
            self.frames_per_track[obj.track_id] += 1
            self.track_class[obj.track_id] = obj.class_name

    def tracks_per_class(self) -> Counter:
        """``{class name: tracks}``."""
        return Counter(self.track_class.values())

    def lines(self) -> list[str]:
        """The printed summary: tracks per class, then each track's class and frames."""
        per_class = self.tracks_per_class()
        lines = [f"{len(self.track_class)} track(s) in {self.frames} frame(s)"]
        lines += [f"{name}: {n} track(s)" for name, n in sorted(per_class.items())]
        lines += [
            f"track {i} ({self.track_class[i]}): {n} frame(s)"
            for i, n in sorted(self.frames_per_track.items())
        ]
        return lines
