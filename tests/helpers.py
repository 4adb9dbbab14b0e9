"""Helpers shared by the tests: the repository root and loading a CLI script as a module."""

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]

#: How far float32 network outputs move between TensorFlow's two CPU kernel families (oneDNN,
#: the default on AVX-512-VNNI/AMX CPUs, and Eigen, the default elsewhere), as a fraction of the
#: output's largest magnitude. Measured 2026-12-07 on the legacy ResNet-18 CenterNet of
#: tests/data/legacy (outputs up to 91, 1536 values; ``bench/kernel_drift.py``): Eigen vs oneDNN
#: 4.0e-5 here (Intel, TF 2.21), saved (oneDNN, 11c0975) vs Eigen on an AMD EPYC 3.3e-5
#: (issue 21). A saved-output comparison allows 2.5 times the larger.
KERNEL_DRIFT = 2.5 * 4.0e-5


#: top-level script → the module that holds its program (the script only calls its ``main``).
SCRIPT_MODULES = {
    "train.py": "centernet_keras.commands.train",
    "get_map.py": "centernet_keras.commands.val",
    "predict.py": "centernet_keras.commands.predict",
}


def load_script(name: str) -> ModuleType:
    """The module of a top-level script (``predict.py``, ``get_map.py``…), to call its ``main``
    in-process and patch its names (the script file itself is a wrapper of that module)."""
    if name in SCRIPT_MODULES:
        return importlib.import_module(SCRIPT_MODULES[name])
    spec = importlib.util.spec_from_file_location(name.removesuffix(".py"), ROOT / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def centernet_encoder(num_classes: int, max_objects: int = 100):
    """CenterNet's target encoder as ``CenterNet.target_encoder`` makes it (no model needed)."""
    from centernet_keras.targets import encode_targets

    def encode(boxes, classes, image_hw):
        return encode_targets(boxes, classes, image_hw, num_classes, max_objects)

    return encode
