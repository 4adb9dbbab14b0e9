"""Shared pytest configuration: quiet TensorFlow, deterministic seeds."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np
import pytest


def pytest_report_header(config) -> str:
    """Which CPU kernels this run's TensorFlow uses (``make test`` runs the ``kernels`` tests
    under both)."""
    from centernet_keras.cpu_kernels import kernel_family

    flag = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "unset")
    return f"TensorFlow CPU kernels: {kernel_family()} (TF_ENABLE_ONEDNN_OPTS={flag})"


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded NumPy generator, fresh per test."""
    return np.random.default_rng(0)


def pytest_collection_modifyitems(config, items) -> None:
    """Run the test files that hold ``slow`` tests first (each file kept whole, in its order),
    so that with ``-n 2`` a long test does not start last and leave one worker idle at the end."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)  # stable: file order kept
