"""The ONNX Runtime graph cache of ``engines.onnx.OnnxEngine``: where graphs go, their keys,
their integrity checks.

Cache: ``<dir>/<stem>.onnxruntime/<key>.onnx`` next to the ``.keras`` file (``model_file``;
a model that is not from a file: a temporary folder kept while the ``Predictor`` lives). The
key hashes the model as loaded (its class, config and weights: ``model_digest``; not the
file, which ``train.py`` may replace with new weights while a prediction loads it, so a key
of the file's bytes could name a graph of other weights), everything baked into the graph
(decoder settings, flip test, input size, quantization, calibration images and the input size
they are fitted to, opset) and the code that builds it (``code_versions``: the package's
version and a hash of its source, TensorFlow, Keras, tf2onnx, onnx and ONNX Runtime
versions). So a changed model, setting or code builds a new graph (one line on stderr says
so; it takes seconds to a minute); graphs of an earlier version of the model, or made by
other code, are removed then.

Integrity: each graph's ``.json`` sidecar holds its settings and the SHA-256 of its bytes
(``graph_sha256``). A cached graph is read once, checked against both and run from the bytes
checked; one that is empty, truncated, unreadable, altered or without its sidecar is never
run: one warning line names it and it is rebuilt. Both files are written under a temporary
name and renamed, the sidecar first: a crash between the two leaves a sidecar whose hash no
graph there has (a rebuild next time), never a graph taken for another.

A model folder that cannot be written (and holds no good graph): the graph is cached in the
user's cache folder (``user_cache_dir``: ``$XDG_CACHE_HOME`` or ``~/.cache``, then
``centernet-keras/onnxruntime/<stem>-<hash of the model file's path>``, so models of one name
in two folders keep their own graphs), or, where that cannot be written either, in a
temporary folder for this ``Predictor`` only; one note line says which.

Why the source hash: a developer checkout (an editable install) changes its decoder without a
version bump, and the graph is traced from whatever package modules the model and decoder
import, so every ``.py`` file of the package is hashed (once per process, ~100 files): a
change anywhere rebuilds once (seconds to a minute), where a hand-kept list of "graph files"
would silently serve an old graph the day a decoder imports a new helper.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import keras
import numpy as np

from centernet_keras.io import atomic_path, atomic_write_text
from centernet_keras.models.detector import Detector

#: Bumped when the graph layout or the key changes (old cache files are then not reused).
CACHE_VERSION = 3
CACHE_SUFFIX = ".onnxruntime"


def model_digest(model: Detector) -> str:
    """SHA-256 of the model as loaded: its class, config and weights (shapes, dtypes, values,
    in the model's order), the same in every process that loads the same file (0.25 s for a
    ResNet-50 CenterNet, 0.09 s to hash its 132 MB file).

    Not of the model file: a file replaced between its load and its hash (``train.py``
    replaces ``best.keras``) would key a graph of the old weights on the new file.
    """
    digest = hashlib.sha256()
    digest.update(f"{type(model).__module__}.{type(model).__qualname__}\0".encode())
    digest.update(json.dumps(model.get_config(), sort_keys=True, default=str).encode())
    for weight in model.weights:
        value = np.ascontiguousarray(np.asarray(weight))
        digest.update(f"\0{value.dtype.str}{value.shape}\0".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def user_cache_dir(model_file: str | os.PathLike) -> Path:
    """Where the graphs of a model whose folder cannot be written are cached:
    ``$XDG_CACHE_HOME`` (or ``~/.cache``) ``/centernet-keras/onnxruntime/<stem>-<key>``, the
    key a hash of the model file's absolute path (one folder per model file, so building one
    model's graph never removes another's)."""
    path = Path(model_file).resolve()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    key = hashlib.sha256(os.fspath(path).encode()).hexdigest()[:16]
    return Path(base) / "centernet-keras" / "onnxruntime" / f"{path.stem}-{key}"


def _writable(folder: Path) -> bool:
    """Whether files can be created in ``folder`` (made if missing): tried, not guessed from
    the mode bits (root, read-only mounts, ACLs)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(folder / "probe", durable=False) as probe:
            probe.touch(exist_ok=False)
            probe.unlink()  # nothing to rename: the probe leaves nothing
    except OSError:
        return False
    return True


def file_digest(paths: Sequence[Path]) -> str:
    """SHA-256 of the paths and contents of ``paths`` (a missing file counts as missing)."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(os.fspath(path).encode())
        digest.update(path.read_bytes() if path.is_file() else b"<missing>")
    return digest.hexdigest()


def package_source_sha256(root: str | os.PathLike) -> str:
    """SHA-256 of every ``.py`` file under ``root``, by path relative to it (not where it lies)."""
    root = Path(root)
    files = sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


@functools.cache
def source_sha256() -> str:
    """``package_source_sha256`` of this package, computed once per process."""
    return package_source_sha256(Path(__file__).resolve().parents[1])


def code_versions() -> dict[str, str]:
    """The code a cached graph was made by (part of its key): this package's version and
    source hash, and the versions of the libraries that trace, write, quantize and run it."""
    import onnx
    import onnxruntime
    import tensorflow as tf
    import tf2onnx

    # the package root: loaded before any of its modules (not imported here: it sits above
    # every layer); its __version__ read at each call
    package = sys.modules[__name__.partition(".")[0]]

    return {
        "centernet_keras": package.__version__,
        "source_sha256": source_sha256(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "tf2onnx": tf2onnx.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
    }


def graph_name(kind: str, hw: tuple[int, int] | None, settings: dict) -> str:
    """``<kind>_<H>x<W or dynamic>_<key>.onnx``, the key a hash of ``settings``."""
    text = json.dumps(settings, sort_keys=True, default=str)
    key = hashlib.sha256(text.encode()).hexdigest()[:16]
    size = "dynamic" if hw is None else f"{hw[0]}x{hw[1]}"
    return f"{kind}_{size}_{key}.onnx"


def read_checked(path: Path, settings: dict) -> tuple[bytes | None, str | None]:
    """A cached graph's bytes if its sidecar (``.json``) describes ``settings`` and holds the
    SHA-256 of exactly these bytes: ``(bytes, None)``; else ``(None, what is wrong)``, or
    ``(None, None)`` when nothing is cached there (a sidecar alone: a build cut short)."""
    sidecar = path.with_suffix(".json")
    try:
        if not path.exists():
            return None, None
        graph = path.read_bytes()
    except OSError as err:
        return None, f"unreadable ({err.strerror or err})"
    if not graph:
        return None, "empty"
    try:
        made = json.loads(sidecar.read_text())
    except FileNotFoundError:
        return None, f"unverifiable (no {sidecar.name} with its SHA-256)"
    except (OSError, ValueError) as err:
        return None, f"unverifiable ({sidecar.name} is unreadable: {err})"
    if not isinstance(made, dict) or made.get("graph_sha256") != hashlib.sha256(graph).hexdigest():
        return None, f"altered or truncated (its SHA-256 is not the one in {sidecar.name})"
    want = json.loads(json.dumps(settings, sort_keys=True, default=str))
    if {k: v for k, v in made.items() if k != "graph_sha256"} != want:
        return None, f"not the graph its name says ({sidecar.name} holds other settings)"
    return graph, None


class GraphCache:
    """The folders one engine's graphs are cached in, and their lookup, build and clean-up.

    Args:
        model_file: the ``.keras`` file the model was loaded from: the cache goes next to it,
            else (that folder cannot be written) into ``user_cache_dir``; ``None``: a
            temporary folder, removed with this object.
    """

    def __init__(self, model_file: str | os.PathLike | None):
        self._temporary = None
        if model_file is None:
            self._temporary = tempfile.TemporaryDirectory(prefix="centernet_ort_")
            self.cache_dir = Path(self._temporary.name)
            self._fallbacks: list[Path] = []
        else:
            model_file = Path(model_file)
            self.cache_dir = model_file.parent / f"{model_file.stem}{CACHE_SUFFIX}"
            self._fallbacks = [user_cache_dir(model_file)]
        self.builds = 0  # graphs built (not loaded from the cache) through this cache

    def cached(self, name: str, settings: dict) -> tuple[Path, bytes] | None:
        """The first intact graph ``name`` in the cache folders (next to the model, then the
        user cache): its path and bytes, read once and checked against its sidecar's
        SHA-256 and settings. A damaged one: one warning line, and it is not used."""
        for folder in dict.fromkeys([self.cache_dir, *self._fallbacks]):
            path = folder / name
            graph, problem = read_checked(path, settings)
            if graph is not None:
                return path, graph
            if problem is not None:
                print(
                    f"warning: the cached ONNX Runtime graph {path} is {problem}: not used, "
                    "building it again",
                    file=sys.stderr,
                )
        return None

    def build(
        self, name: str, settings: dict, make: Callable[[Path], None], what: str | None
    ) -> tuple[Path, bytes]:
        """Graph ``name`` made by ``make(temporary path)``, written with its sidecar (settings
        and SHA-256, renamed into place first) into the first folder that can be written (a
        note line when that is not the one next to the model); graphs of another model
        version (``settings["model_sha256"]``) or code are removed from that folder first.
        Returns its path and bytes."""
        folder, refused = self._build_folder()
        path = folder / name
        if refused:
            where = " or ".join(os.fspath(f) for f in refused)
            if self._temporary is not None and folder == Path(self._temporary.name):
                note = f"the ONNX Runtime graph is not cached (built again on each run): {path}"
            else:
                note = f"caching the ONNX Runtime graph in {path}"
            print(f"note: cannot write {where}: {note}", file=sys.stderr)
        self._remove_stale(folder, settings["model_sha256"])
        if what is not None:
            print(f"building the ONNX Runtime {what}: {path} (once)", file=sys.stderr)
        with atomic_path(path) as tmp:
            make(tmp)
            graph = tmp.read_bytes()
            digest = hashlib.sha256(graph).hexdigest()
            # the sidecar first: a kill between the two renames leaves a graph whose hash
            # does not match (rebuilt next time), never a graph run unchecked
            text = json.dumps(
                {**settings, "graph_sha256": digest}, indent=1, sort_keys=True, default=str
            )
            atomic_write_text(path.with_suffix(".json"), text + "\n")
        self.builds += 1
        return path, graph

    def _build_folder(self) -> tuple[Path, list[Path]]:
        """The folder new graphs go to: the cache folder next to the model, else the user
        cache folder, else (neither can be written) a temporary folder for this cache; and
        the folders that could not be written. The choice holds for the later graphs."""
        if self._temporary is not None or _writable(self.cache_dir):
            return self.cache_dir, []
        refused = [self.cache_dir]
        for folder in self._fallbacks:
            if _writable(folder):
                self.cache_dir = folder
                return folder, refused
            refused.append(folder)
        self._temporary = tempfile.TemporaryDirectory(prefix="centernet_ort_")
        self.cache_dir = Path(self._temporary.name)
        return self.cache_dir, refused

    def _remove_stale(self, folder: Path, model_sha256: str) -> None:
        """Graphs in ``folder`` of another version of the model, or made by other code
        (their ``.json`` says so): one model version's and one code's graphs per folder."""
        if self._temporary is not None and folder == Path(self._temporary.name):
            return
        if not folder.is_dir():
            return
        code = code_versions()
        for sidecar in folder.glob("*.json"):
            try:
                made = json.loads(sidecar.read_text())
                stale = made.get("model_sha256") != model_sha256 or made.get("code") != code
            except (OSError, ValueError, AttributeError):
                continue
            if stale:
                sidecar.with_suffix(".onnx").unlink(missing_ok=True)
                sidecar.unlink(missing_ok=True)
