"""A constant-velocity Kalman filter of boxes in ``(cx, cy, aspect, height)`` space.

The state of SORT / DeepSORT / ByteTrack: ``[cx, cy, a, h, vcx, vcy, va, vh]`` (box centre,
aspect ``w / h``, height and their velocities per frame). The position noise scales with the
box height (``1/20`` of it, velocities ``1/160``), so small and large objects are followed
alike; the aspect has a fixed small noise.
"""

from __future__ import annotations

import numpy as np

_POSITION_WEIGHT = 1.0 / 20
_VELOCITY_WEIGHT = 1.0 / 160


def xyxy_to_xyah(box: np.ndarray) -> np.ndarray:
    """``[x1, y1, x2, y2]`` → ``[cx, cy, w / h, h]`` (``[4]`` float64; heights below 1e-6
    count as 1e-6)."""
    x1, y1, x2, y2 = np.asarray(box, np.float64)
    h = max(y2 - y1, 1e-6)
    return np.array([(x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) / h, h])


def xyah_to_xyxy(xyah: np.ndarray) -> np.ndarray:
    """``[cx, cy, a, h, ...]`` → ``[x1, y1, x2, y2]`` (``[4]`` float64)."""
    cx, cy, a, h = np.asarray(xyah, np.float64)[:4]
    w = a * h
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


class KalmanFilter:
    """Predict and update one track's ``(mean [8], covariance [8, 8])``."""

    def __init__(self) -> None:
        self.motion = np.eye(8)
        self.motion[:4, 4:] = np.eye(4)  # position += velocity, one frame
        self.observe = np.eye(4, 8)

    @staticmethod
    def _std(h: float, position: float, aspect: float) -> np.ndarray:
        return np.array([position * h, position * h, aspect, position * h])

    def initiate(self, xyah: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A new track's state from its first measurement ``[cx, cy, a, h]``: zero velocity,
        a wide velocity variance."""
        mean = np.concatenate([xyah, np.zeros(4)])
        h = xyah[3]
        std = np.concatenate([
            2 * self._std(h, _POSITION_WEIGHT, 1e-2),
            10 * self._std(h, _VELOCITY_WEIGHT, 1e-5),
        ])  # fmt: skip
        return mean, np.diag(std**2)

    def predict(self, mean: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The state one frame later."""
        h = mean[3]
        noise = np.concatenate([
            self._std(h, _POSITION_WEIGHT, 1e-2), self._std(h, _VELOCITY_WEIGHT, 1e-5),
        ])  # fmt: skip
        mean = self.motion @ mean
        cov = self.motion @ cov @ self.motion.T + np.diag(noise**2)
        return mean, cov

    def update(
        self, mean: np.ndarray, cov: np.ndarray, xyah: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The state corrected by a measurement ``[cx, cy, a, h]``."""
        noise = np.diag(self._std(mean[3], _POSITION_WEIGHT, 1e-1) ** 2)
        projected = self.observe @ cov @ self.observe.T + noise  # [4, 4]
        gain = np.linalg.solve(projected, self.observe @ cov).T  # [8, 4]
        mean = mean + gain @ (xyah - self.observe @ mean)
        cov = cov - gain @ projected @ gain.T
        return mean, cov
