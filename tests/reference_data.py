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
