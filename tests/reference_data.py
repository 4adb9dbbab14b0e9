"""Loaders for the reference fixtures in tests/data/reference (copied from ../shared/reference).

Provenance: tests/data/reference/README.md (xingyizhou/CenterNet 4c50fd3a, torchvision 0.28.0).
"""

import json
from pathlib import Path

import numpy as np

REFERENCE_DIR = Path(__file__).parent / "data" / "reference"


def load_npz(name: str) -> dict[str, np.ndarray]:
    """Load a reference ``.npz`` into a plain dict (no pickle)."""
    with np.load(REFERENCE_DIR / name) as data:
        return {k: data[k] for k in data.files}


def load_json(name: str) -> dict:
    """Load a reference ``.json`` file."""
    return json.loads((REFERENCE_DIR / name).read_text())


def meta(npz: dict[str, np.ndarray]) -> dict:
    """The ``meta_json`` entry of a loaded ``.npz``."""
    return json.loads(str(npz["meta_json"]))


def formula_state_dict(entries) -> dict[str, np.ndarray]:
    """Formula weights for ``[key, shape]`` entries (README section 14, ``regnet_x_400mf.npz``).

    Entry ``i`` (0-based, ``num_batches_tracked`` excluded by the caller) with ``n`` elements:
    ``s = sin(0.37·arange(n) + i)``; running_var ``1 + 0.25·(1 + s)``, running_mean ``0.1·s``,
    a 1-D ``.weight`` (BN γ) ``1 + 0.1·s``, a ``.bias`` ``0.05·s``, any other weight
    ``s·sqrt(2 / fan_in)``. Every entry differs from every other, so a weight loaded into the
    wrong place is visible.
    """
    state = {}
    for i, (key, shape) in enumerate(entries):
        n = int(np.prod(shape))
        s = np.sin(0.37 * np.arange(n) + i).reshape(shape).astype(np.float32)
        if key.endswith("running_var"):
            value = 1 + 0.25 * (1 + s)
        elif key.endswith("running_mean"):
            value = 0.1 * s
        elif key.endswith(".weight") and len(shape) == 1:
            value = 1 + 0.1 * s
        elif key.endswith(".bias"):
            value = 0.05 * s
        else:
            value = s * np.sqrt(2 / (n // shape[0]))
        state[key] = value.astype(np.float32)
    return state
