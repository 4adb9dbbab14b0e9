"""ONNX Runtime behind the ``Predictor``: the model exported once, cached next to its file.

``Predictor(..., runtime="onnxruntime")`` runs the network (and, in float, its decoder) as an
ONNX graph in ONNX Runtime on the CPU instead of TensorFlow; preprocessing and the mapping of
the detections to the original image stay the ``Predictor``'s, so the results are the Keras
path's (boxes within 1e-3 px) at a lower CPU time.

The graph (``OnnxEngine``):

- float: ``uint8 images [B, H, W, 3]`` → the detections of the ``Predictor``'s decoder
  (``boxes``, ``scores``, ``classes``, ``num_detections``, a pose model's ``keypoints`` and
  ``keypoint_scores``) and the activated maps it decoded (``map_<name>``), flip test merged
  when it is on: one ``model.maps`` + ``model.decode`` traced through tf2onnx.
- ``quantize="int8"``: the maps part only, quantized by ONNX Runtime's static quantization
  (QDQ, per-channel int8 weights, uint8 activations, MinMax ranges calibrated on the user's
  images, fitted to the input as predictions are); the decoder stays float and runs in Keras.
  INT8 changes the detections (a warning says so): measure the mAP change with ``get_map.py``.

Input size: a model with a fixed input size gets a graph of that size. A model with a dynamic
input size gets one graph with dynamic height and width when its decoder does not depend on
the input size (CenterNet, pose); FCOS's decoder bakes in the locations of the input size, so
it gets one graph per input size (``input_size`` of the ``Predictor`` keeps that to one).

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
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from centernet_keras.io import atomic_path, atomic_write_text

if TYPE_CHECKING:
    from centernet_keras.decoding.layers import Decoder
    from centernet_keras.models.detector import Detector

RUNTIMES = ("keras", "onnxruntime")
QUANTIZATIONS = ("int8",)
DEFAULT_CALIBRATION_COUNT = 100
#: Bumped when the graph layout or the key changes (old cache files are then not reused).
CACHE_VERSION = 3
CACHE_SUFFIX = ".onnxruntime"
MAP_PREFIX = "map_"


def onnx_session(path: str | os.PathLike, graph: bytes | None = None):
    """An ONNX Runtime CPU session whose idle threads do not spin (by default they busy-wait
    after each run, taking the CPU from the preprocessing and drawing between images).

    Args:
        path: the graph file (named in errors).
        graph: its bytes, already read (and checked): the session is made from them, not
            from the file, which may have changed since.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    source = os.fspath(path) if graph is None else graph
    try:
        return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime's own exception types (InvalidGraph, Fail, ...)
        if "StatefulPartitionedCall" not in str(err):
            raise
        raise ValueError(
            f"{path}: tf2onnx could not convert every layer of this model (a TensorFlow function "
            "call is left in the graph, e.g. a grouped keras.layers.Conv2D, which Keras runs as "
            "an XLA function: build it with centernet_keras.layers.GroupedConv2D), so ONNX "
            "Runtime cannot run it; use --runtime keras"
        ) from None


def run_session(session, images: np.ndarray) -> dict[str, np.ndarray]:
    """``session`` on ``uint8 [B, H, W, 3]`` images → ``{output name: array}``."""
    names = [o.name for o in session.get_outputs()]
    feed = {session.get_inputs()[0].name: np.ascontiguousarray(images, np.uint8)}
    return dict(zip(names, session.run(None, feed), strict=True))


def check_settings(runtime: str, quantize: str | None, calibration_images, backend: str) -> None:
    """The errors of a runtime / quantization choice, before anything is built.

    Raises:
        ValueError: an unknown runtime or quantization, ``quantize`` without
            ``runtime="onnxruntime"``, INT8 without calibration images, or ONNX Runtime on a
            Keras backend other than TensorFlow (tf2onnx converts TensorFlow graphs).
    """
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {RUNTIMES}, got {runtime!r}")
    if quantize is not None and quantize not in QUANTIZATIONS:
        raise ValueError(f"quantize must be one of {QUANTIZATIONS} or None, got {quantize!r}")
    if quantize is not None and runtime != "onnxruntime":
        raise ValueError("--quantize int8 needs --runtime onnxruntime")
    if quantize is not None and calibration_images is None:
        raise ValueError(
            "--quantize int8 needs --calibration-images (a folder of images like the ones "
            "to detect, or an annotation file): the INT8 ranges are calibrated on them"
        )
    if runtime == "onnxruntime" and backend != "tensorflow":
        raise ValueError(
            f"--runtime onnxruntime converts the model with tf2onnx: it needs the TensorFlow "
            f"Keras backend, not {backend!r}"
        )


def calibration_files(source: str | os.PathLike | Sequence, count: int) -> list[Path]:
    """``count`` images spread evenly over a sorted list: a folder's images, an annotation
    file's (the first field of each line), or the paths given.

    Raises:
        ValueError: no images there, or ``count`` < 1.
        FileNotFoundError: ``source`` does not exist.
    """
    if count < 1:
        raise ValueError(f"the calibration count must be at least 1, got {count}")
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if not path.exists():
            raise FileNotFoundError(f"calibration images: {path}: no such folder or file")
        if path.is_dir():
            from centernet_keras.visualize import IMAGE_SUFFIXES

            files = [p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
        else:
            lines = path.read_text().splitlines()
            files = [Path(line.split()[0]) for line in lines if line.strip()]
    else:
        files = [Path(p) for p in source]
    files = sorted(files)
    if not files:
        raise ValueError(f"calibration images: no images in {source}")
    picks = np.unique(np.linspace(0, len(files) - 1, min(count, len(files))).round().astype(int))
    return [files[i] for i in picks]


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
    return package_source_sha256(Path(__file__).resolve().parent)


def code_versions() -> dict[str, str]:
    """The code a cached graph was made by (part of its key): this package's version and
    source hash, and the versions of the libraries that trace, write, quantize and run it."""
    import keras
    import onnx
    import onnxruntime
    import tensorflow as tf
    import tf2onnx

    import centernet_keras

    return {
        "centernet_keras": centernet_keras.__version__,
        "source_sha256": source_sha256(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "tf2onnx": tf2onnx.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
    }


def runtime_function(
    model: Detector, decoder: Decoder | None, flip_test: bool, input_hw
) -> Callable:
    """``uint8 images`` → the activated maps (``map_<name>``), and with a ``decoder`` the
    detections too, as the Keras ``Predictor`` computes them."""

    def serve(images):
        maps = model.maps(images, flip_test)
        out = {f"{MAP_PREFIX}{k}": v for k, v in maps.items()}
        if decoder is None:
            return out
        hw = input_hw if input_hw is not None else model.input_hw(images)
        return {**model.decode(maps, hw, decoder), **out}

    return serve


def decoder_settings(decoder: Decoder) -> dict:
    """The decoder's config without its layer name (unique per instance, not a setting)."""
    return {k: v for k, v in decoder.get_config().items() if k != "name"}


def _graph_name(kind: str, hw: tuple[int, int] | None, settings: dict) -> str:
    """``<kind>_<H>x<W or dynamic>_<key>.onnx``, the key a hash of ``settings``."""
    text = json.dumps(settings, sort_keys=True, default=str)
    key = hashlib.sha256(text.encode()).hexdigest()[:16]
    size = "dynamic" if hw is None else f"{hw[0]}x{hw[1]}"
    return f"{kind}_{size}_{key}.onnx"


def _read_checked(path: Path, settings: dict) -> tuple[bytes | None, str | None]:
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


class OnnxEngine:
    """The ONNX Runtime graphs of one ``Predictor``: built or loaded once per input size.

    Args:
        model: the detector.
        decoder: the ``Predictor``'s decoder (baked into the float graph).
        flip_test: merge the mirrored image's maps (baked into the graph).
        model_file: the ``.keras`` file the model was loaded from: the cache goes next to it
            and is keyed on its contents (``None``: a temporary folder, keyed on the weights).
        quantize: ``None`` (float) or ``"int8"``.
        calibration_images: INT8: a folder, an annotation file or a list of image paths.
        calibration_count: INT8: how many of them (spread evenly over the sorted list).
        prepare: ``(image path, input (H, W) or None) → uint8 [1, H, W, 3]``: the
            ``Predictor``'s preprocessing, for the calibration images.
        decode: INT8: ``(activated maps, input (H, W)) → detections``, the Keras decoder.
        letterbox: how images are fitted (a calibration setting, part of the INT8 key).
        input_hw: the ``Predictor``'s network input ``(H, W)``, ``None`` sides where each
            image decides (scaled to ``DEFAULT_INPUT_SIDE``): the size the calibration images
            are fitted to, part of the INT8 key of a graph with a dynamic input size.
    """

    def __init__(
        self,
        model: Detector,
        decoder: Decoder,
        flip_test: bool,
        model_file: str | os.PathLike | None = None,
        quantize: str | None = None,
        calibration_images=None,
        calibration_count: int = DEFAULT_CALIBRATION_COUNT,
        prepare: Callable | None = None,
        decode: Callable | None = None,
        letterbox: bool = True,
        input_hw: Sequence[int | None] = (None, None),
    ):
        self.model, self.decoder, self.flip_test = model, decoder, bool(flip_test)
        self.quantize, self.prepare, self.keras_decode = quantize, prepare, decode
        self.letterbox = bool(letterbox)
        self.input_hw = [None if v is None else int(v) for v in input_hw]
        self._temporary = None
        if model_file is None:
            self._temporary = tempfile.TemporaryDirectory(prefix="centernet_ort_")
            self.cache_dir = Path(self._temporary.name)
            self._fallbacks: list[Path] = []
        else:
            model_file = Path(model_file)
            self.cache_dir = model_file.parent / f"{model_file.stem}{CACHE_SUFFIX}"
            self._fallbacks = [user_cache_dir(model_file)]
        self.model_sha256 = model_digest(model)
        self.calibration: list[Path] = []
        if quantize is not None:
            self.calibration = calibration_files(calibration_images, calibration_count)
            warnings.warn(
                "--quantize int8 changes the detections (scores and boxes move): measure "
                "the mAP change with get_map.py before relying on it",
                UserWarning,
                stacklevel=3,
            )
        self._sessions: dict = {}
        self.builds = 0  # graphs built (not loaded from the cache) by this engine

    # ---- the graphs ----------------------------------------------------------------------------

    def graph_hw(self, input_hw: Sequence[int]) -> tuple[int, int] | None:
        """The input size a graph is built for: fixed, or ``None`` (dynamic H and W)."""
        fixed = self.model.input_shape[1:3]
        if all(d is not None for d in fixed):
            return int(fixed[0]), int(fixed[1])
        if not self.model.decode_needs_input_size:
            return None
        return int(input_hw[0]), int(input_hw[1])

    def settings(self, hw: tuple[int, int] | None, int8: bool) -> dict:
        """Everything that the graph of input size ``hw`` bakes in, and the code that makes
        it (its cache key)."""
        from centernet_keras.export import ONNX_OPSET
        from centernet_keras.inference import DEFAULT_INPUT_SIDE

        settings = {
            "version": CACHE_VERSION,
            "model_sha256": self.model_sha256,
            "input_hw": None if hw is None else list(hw),
            "flip_test": self.flip_test,
            "decoder": None if int8 else decoder_settings(self.decoder),
            "quantize": self.quantize if int8 else None,
            "opset": ONNX_OPSET,
            "code": code_versions(),
        }
        if int8:
            settings["calibration_sha256"] = file_digest(self.calibration)
            settings["calibration_count"] = len(self.calibration)
            settings["letterbox"] = self.letterbox
            if hw is None:  # a dynamic graph: calibrated at the Predictor's input size
                settings["calibration_input_hw"] = self.input_hw
                if None in self.input_hw:
                    settings["calibration_input_side"] = DEFAULT_INPUT_SIDE
        return settings

    def graph_path(self, hw: tuple[int, int] | None, int8: bool) -> Path:
        """Where the graph of input size ``hw`` is built (its name holds its key)."""
        return self.cache_dir / _graph_name(
            "int8" if int8 else "float", hw, self.settings(hw, int8)
        )

    def _ensure(self, hw: tuple[int, int] | None, int8: bool) -> Path:
        """The cached graph (checked), built first if there is none that is intact."""
        return self._graph(hw, int8)[0]

    def _graph(self, hw: tuple[int, int] | None, int8: bool) -> tuple[Path, bytes]:
        """The graph's path and its checked bytes: from the cache, else built."""
        settings = self.settings(hw, int8)
        name = _graph_name("int8" if int8 else "float", hw, settings)
        found = self._cached(name, settings)
        if found is not None:
            return found
        if int8:
            source = self._ensure_maps(hw)
            what = f"INT8 graph (calibrating on {len(self.calibration)} images)"
            return self._build(name, settings, lambda tmp: self._quantize(source, tmp, hw), what)
        return self._build(
            name, settings, lambda tmp: self._convert(tmp, hw, self.decoder), "graph"
        )

    def _ensure_maps(self, hw: tuple[int, int] | None) -> Path:
        """The float maps-only graph that INT8 quantizes (cached and checked too)."""
        settings = {**self.settings(hw, False), "decoder": "none (maps only)"}
        name = _graph_name("maps", hw, settings)
        found = self._cached(name, settings)
        if found is None:
            found = self._build(name, settings, lambda tmp: self._convert(tmp, hw, None), None)
        return found[0]

    def _cached(self, name: str, settings: dict) -> tuple[Path, bytes] | None:
        """The first intact graph ``name`` in the cache folders (next to the model, then the
        user cache): its path and bytes, read once and checked against its sidecar's
        SHA-256 and settings. A damaged one: one warning line, and it is not used."""
        for folder in dict.fromkeys([self.cache_dir, *self._fallbacks]):
            path = folder / name
            graph, problem = _read_checked(path, settings)
            if graph is not None:
                return path, graph
            if problem is not None:
                print(
                    f"warning: the cached ONNX Runtime graph {path} is {problem}: not used, "
                    "building it again",
                    file=sys.stderr,
                )
        return None

    def _build(
        self, name: str, settings: dict, make: Callable[[Path], None], what: str | None
    ) -> tuple[Path, bytes]:
        """Graph ``name`` made by ``make(temporary path)``, written with its sidecar (settings
        and SHA-256, renamed into place first) into the first folder that can be written (a
        note line when that is not the one next to the model). Returns its path and bytes."""
        folder, refused = self._build_folder()
        path = folder / name
        if refused:
            where = " or ".join(os.fspath(f) for f in refused)
            if self._temporary is not None and folder == Path(self._temporary.name):
                note = f"the ONNX Runtime graph is not cached (built again on each run): {path}"
            else:
                note = f"caching the ONNX Runtime graph in {path}"
            print(f"note: cannot write {where}: {note}", file=sys.stderr)
        self._remove_stale(folder)
        if what is not None:
            print(f"building the ONNX Runtime {what}: {path} (once)", file=sys.stderr)
        with atomic_path(path) as tmp:
            make(tmp)
            graph = tmp.read_bytes()
            digest = hashlib.sha256(graph).hexdigest()
            # the sidecar first: a kill between the two renames leaves a graph whose hash
            # does not match (rebuilt next time), never a graph run unchecked
            self._write_settings(path, {**settings, "graph_sha256": digest})
        self.builds += 1
        return path, graph

    def _build_folder(self) -> tuple[Path, list[Path]]:
        """The folder new graphs go to: the cache folder next to the model, else the user
        cache folder, else (neither can be written) a temporary folder for this engine; and
        the folders that could not be written. The choice holds for the engine's later
        graphs."""
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

    def _convert(self, path: Path, hw: tuple[int, int] | None, decoder: Decoder | None) -> None:
        from centernet_keras.export import convert_to_onnx

        shape = (None, None, None, 3) if hw is None else (None, *hw, 3)
        convert_to_onnx(runtime_function(self.model, decoder, self.flip_test, hw), shape, path)

    def _quantize(self, source: Path, path: Path, hw: tuple[int, int] | None) -> None:
        from onnxruntime import quantization as q

        batches, skipped = [], []
        for file in self.calibration:
            try:
                batches.append(self.prepare(file, hw))
            except OSError as err:
                skipped.append(f"{file}: {err}")
        if skipped:
            print(
                f"skipped {len(skipped)} unreadable calibration images, e.g. {skipped[0]}",
                file=sys.stderr,
            )
        if not batches:
            raise ValueError("none of the calibration images could be read")
        name = onnx_session(source).get_inputs()[0].name

        class Reader(q.CalibrationDataReader):
            def __init__(self):
                self._batches = iter(batches)

            def get_next(self):
                batch = next(self._batches, None)
                return None if batch is None else {name: batch}

        q.quantize_static(
            os.fspath(source),
            os.fspath(path),
            Reader(),
            quant_format=q.QuantFormat.QDQ,
            per_channel=True,
            activation_type=q.QuantType.QUInt8,
            weight_type=q.QuantType.QInt8,
            calibrate_method=q.CalibrationMethod.MinMax,
        )

    def _write_settings(self, path: Path, settings: dict) -> None:
        text = json.dumps(settings, indent=1, sort_keys=True, default=str)
        atomic_write_text(path.with_suffix(".json"), text + "\n")

    def _remove_stale(self, folder: Path) -> None:
        """Graphs in ``folder`` of an earlier version of the model, or made by other code
        (their ``.json`` says so): one model version's and one code's graphs per folder."""
        if self._temporary is not None and folder == Path(self._temporary.name):
            return
        if not folder.is_dir():
            return
        code = code_versions()
        for sidecar in folder.glob("*.json"):
            try:
                made = json.loads(sidecar.read_text())
                stale = made.get("model_sha256") != self.model_sha256 or made.get("code") != code
            except (OSError, ValueError, AttributeError):
                continue
            if stale:
                sidecar.with_suffix(".onnx").unlink(missing_ok=True)
                sidecar.unlink(missing_ok=True)

    def session(self, input_hw: Sequence[int]):
        """The ONNX Runtime session for images of network input ``input_hw``."""
        hw = self.graph_hw(input_hw)
        if hw not in self._sessions:
            path, graph = self._graph(hw, self.quantize == "int8")
            self._sessions[hw] = onnx_session(path, graph)
        return self._sessions[hw]

    # ---- running -------------------------------------------------------------------------------

    def maps(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """``uint8 [B, H, W, 3]`` → the activated maps (flip merged), as ``Predictor.forward``."""
        out = run_session(self.session(batch.shape[1:3]), batch)
        return {k[len(MAP_PREFIX) :]: v for k, v in out.items() if k.startswith(MAP_PREFIX)}

    def detect(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """``uint8 [B, H, W, 3]`` → padded detections in input pixels (the decoder's dict)."""
        if self.quantize == "int8":
            return self.keras_decode(self.maps(batch), tuple(batch.shape[1:3]))
        out = run_session(self.session(batch.shape[1:3]), batch)
        return {k: v for k, v in out.items() if not k.startswith(MAP_PREFIX)}
