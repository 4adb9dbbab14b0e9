"""The one timing loop of the package and its benchmarks: timed round-robin; medians of
whole calls, or the stages of each call with the call's total."""

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
    times = _round_robin(fns, runs, warmup, keep=False)
    return {name: 1000.0 * statistics.median(t for t, _ in timed) for name, timed in times.items()}


def interleaved_stages(
    fns: Mapping[Hashable, Callable[[], Mapping[str, float]]], runs: int = 20, warmup: int = 3
) -> dict[Hashable, dict[str, float]]:
    """Milliseconds of each stage of each ``fn()`` and of the whole call, from the same calls.

    Each ``fn()`` returns the seconds its stages took (measured inside the call); the loop
    times the whole call (``"total"``), round-robin as :func:`interleaved_medians`. Reported
    for each: the mean over the middle half of its runs ranked by total (the fastest and the
    slowest quarter dropped, as a median drops outliers). The stages and the total come from
    the same calls, so every stage, and their sum, is at most the total.

    Args:
        fns: name → a call with no arguments returning ``{stage: seconds}``.
        runs: timed rounds.
        warmup: untimed calls of each first (graph builds, tracing, caches).

    Returns:
        name → ``{stage: ms, ..., "total": ms}``.
    """
    out: dict[Hashable, dict[str, float]] = {}
    for name, timed in _round_robin(fns, runs, warmup, keep=True).items():
        timed = sorted(timed, key=lambda run: run[0])
        middle = timed[len(timed) // 4 : len(timed) - len(timed) // 4]
        stages = {stage: 0.0 for stage in middle[0][1]}
        for _, parts in middle:
            for stage, seconds in parts.items():
                stages[stage] += seconds
        stages["total"] = sum(total for total, _ in middle)
        out[name] = {stage: 1000.0 * s / len(middle) for stage, s in stages.items()}
    return out


def _round_robin(
    fns: Mapping[Hashable, Callable[[], Any]], runs: int, warmup: int, keep: bool
) -> dict[Hashable, list[tuple[float, Any]]]:
    """``warmup`` untimed calls of each ``fn``, then ``runs`` rounds of one timed call of each:
    name → ``[(seconds, what fn returned if keep else None), ...]``."""
    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[Hashable, list[tuple[float, Any]]] = {name: [] for name in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            start = time.perf_counter()
            result = fn()
            times[name].append((time.perf_counter() - start, result if keep else None))
    return times
