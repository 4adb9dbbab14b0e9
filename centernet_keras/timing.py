"""The one timing loop of the package and its benchmarks: medians, timed round-robin."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Hashable, Mapping
from typing import Any

import numpy as np


def to_host(value: Any) -> Any:
    """Every tensor of a (nested) result as a NumPy array: the device → host copy is timed."""
    if isinstance(value, Mapping):
        return {k: to_host(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(to_host(v) for v in value)
    return np.asarray(value)


def interleaved_medians(
    fns: Mapping[Hashable, Callable[[], Any]], runs: int = 20, warmup: int = 3
) -> dict[Hashable, float]:
    """Median milliseconds of each ``fn()``, timed round-robin so drift hits every one alike.

    Args:
        fns: name → a call with no arguments (wrap it in ``to_host`` to time the copy to host).
        runs: timed rounds.
        warmup: untimed calls of each first (tracing, caches).

    Returns:
        name → median ms.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[Hashable, list[float]] = {name: [] for name in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: 1000.0 * statistics.median(t) for name, t in times.items()}
