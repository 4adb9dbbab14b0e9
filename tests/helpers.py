"""Helpers shared by the tests: the repository root, loading a CLI script as a module, and
interrupting a command (Ctrl-C) at a known point."""

import importlib.util
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
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


#: Seconds until a command is ready to interrupt (TensorFlow's import and a model load on a
#: loaded machine), and until it exits after SIGINT.
INTERRUPT_LIMIT = 240


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # as a shell starts it (a runner may ignore it)


def interrupt_when(command: list[str], ready: Callable[[], bool]) -> tuple[int, str]:
    """Run ``command``, send it SIGINT once ``ready()`` (polled; the test fails if it never is,
    or the command ends first); returns ``(exit code, stderr)``. Stderr goes to a file: a
    pipe nobody reads while waiting could fill and stall the command."""
    with tempfile.TemporaryFile("w+") as err:
        run = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=err,
            text=True,
            cwd=ROOT,
            preexec_fn=_default_sigint,
        )
        try:
            deadline = time.monotonic() + INTERRUPT_LIMIT
            while not ready() and run.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            running = run.poll() is None and ready()
            if running:
                run.send_signal(signal.SIGINT)
                run.wait(timeout=INTERRUPT_LIMIT)
        finally:
            run.kill()
            run.wait()
        err.seek(0)
        text = err.read()
    assert running, f"{command}: ended or never ready ({run.returncode}): {text[-3000:]}"
    return run.returncode, text


def save_tiny_centernet(path: Path, neck: int, head: int, classes=("cat", "dog")) -> Path:
    """A 64-px ResNet-18 CenterNet saved at ``path`` whose size head gives boxes of a few
    pixels to a few tens (untrained, so its detections are many and small)."""
    import numpy as np

    from centernet_keras.models.centernet import build_centernet

    model = build_centernet(
        len(classes), backbone="resnet18", input_shape=(64, 64, 3), neck_filters=(neck,) * 3,
        head_channels=head, class_names=list(classes),
    )  # fmt: skip
    size = model.get_layer("size")
    size.kernel.assign(size.kernel * 0.01)
    size.bias.assign(np.array([3.0, 5.0], np.float32))
    model.save(path)
    return path
