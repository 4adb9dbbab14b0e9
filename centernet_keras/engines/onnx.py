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
  (``quantization.quantize_int8``: QDQ, per-channel int8 weights, uint8 activations, MinMax
  ranges calibrated on the user's images, fitted to the input as predictions are); the
  decoder stays float and runs in Keras.
  INT8 changes the detections (a warning says so): measure the mAP change with ``get_map.py``.

Input size: a model with a fixed input size gets a graph of that size. A model with a dynamic
input size gets one graph with dynamic height and width when its decoder does not depend on
the input size (CenterNet, pose); FCOS's decoder bakes in the locations of the input size, so
it gets one graph per input size (``input_size`` of the ``Predictor`` keeps that to one).

Where the graphs are cached, their keys and integrity checks: ``engines.onnx_cache``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from centernet_keras.decoding import Decoder
from centernet_keras.engines.base import Engine, decoder_settings
from centernet_keras.engines.keras import KerasEngine
from centernet_keras.engines.onnx_cache import (
    CACHE_VERSION,
    GraphCache,
    code_versions,
    file_digest,
    graph_name,
    model_digest,
)
from centernet_keras.export import ONNX_OPSET, convert_to_onnx
from centernet_keras.models.detector import Detector
from centernet_keras.preprocess import DEFAULT_INPUT_SIDE
from centernet_keras.quantization import (  # calibration_files: also this module's API
    calibration_batches,
    calibration_files,
    quantize_int8,
)

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


class OnnxEngine(Engine):
    """``Engine`` of ONNX Runtime graphs of the model, built or loaded once per input size.

    Takes the ``Engine`` arguments; of ``options``: ``model_file`` (the ``.keras`` file the
    model was loaded from: the cache goes next to it; ``None``: a temporary folder),
    ``quantize`` (``None``: float; ``"int8"``), ``calibration_images`` and
    ``calibration_count`` (INT8: the images, fitted by ``transform`` as predictions are, and
    how many of them, spread evenly over the sorted list). ``transform.letterbox`` and
    ``transform.model_hw`` (the size the calibration images are fitted to, ``None`` sides
    where each image decides) are part of the INT8 key.
    """

    def _start(self) -> None:
        parts = self.model, self.decoder, self.flip_test, self.transform, self.options
        self._keras = KerasEngine(*parts)  # the Keras decoder (INT8, ``decode``)
        self.letterbox = self.transform.letterbox
        self.input_hw = [None if v is None else int(v) for v in self.transform.model_hw]
        self.cache = GraphCache(self.options.model_file)
        self.model_sha256 = model_digest(self.model)
        self.calibration: list[Path] = []
        if self.quantize is not None:
            options = self.options
            self.calibration = calibration_files(
                options.calibration_images, options.calibration_count
            )
            warnings.warn(
                "--quantize int8 changes the detections (scores and boxes move): measure "
                "the mAP change with get_map.py before relying on it (centernet export "
                "--format onnx --quantize int8 --verify VAL also keeps it within "
                "--max-map-drop)",
                UserWarning,
                stacklevel=4,
            )
        self._sessions: dict = {}

    @property
    def builds(self) -> int:
        """Graphs built (not loaded from the cache) by this engine."""
        return self.cache.builds

    def settings(self) -> dict:
        calibration = None
        if self.quantize is not None:
            files = self.calibration
            calibration = {"images": len(files), "sha256": file_digest(files)}
        return {**super().settings(), "calibration": calibration}

    # ---- the graphs ----------------------------------------------------------------------------

    def graph_hw(self, input_hw: Sequence[int]) -> tuple[int, int] | None:
        """The input size a graph is built for: fixed, or ``None`` (dynamic H and W)."""
        fixed = self.model.input_shape[1:3]
        if all(d is not None for d in fixed):
            return int(fixed[0]), int(fixed[1])
        if not self.model.decode_needs_input_size:
            return None
        return int(input_hw[0]), int(input_hw[1])

    def graph_settings(self, hw: tuple[int, int] | None, int8: bool) -> dict:
        """Everything that the graph of input size ``hw`` bakes in, and the code that makes
        it (its cache key)."""
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
        kind = "int8" if int8 else "float"
        return self.cache.cache_dir / graph_name(kind, hw, self.graph_settings(hw, int8))

    def _ensure(self, hw: tuple[int, int] | None, int8: bool) -> Path:
        """The cached graph (checked), built first if there is none that is intact."""
        return self._graph(hw, int8)[0]

    def _graph(self, hw: tuple[int, int] | None, int8: bool) -> tuple[Path, bytes]:
        """The graph's path and its checked bytes: from the cache, else built."""
        settings = self.graph_settings(hw, int8)
        name = graph_name("int8" if int8 else "float", hw, settings)
        found = self.cache.cached(name, settings)
        if found is not None:
            return found
        if int8:
            source = self._ensure_maps(hw)
            what = f"INT8 graph (calibrating on {len(self.calibration)} images)"
            return self.cache.build(
                name, settings, lambda tmp: self._quantize(source, tmp, hw), what
            )
        return self.cache.build(
            name, settings, lambda tmp: self._convert(tmp, hw, self.decoder), "graph"
        )

    def _ensure_maps(self, hw: tuple[int, int] | None) -> Path:
        """The float maps-only graph that INT8 quantizes (cached and checked too)."""
        settings = {**self.graph_settings(hw, False), "decoder": "none (maps only)"}
        name = graph_name("maps", hw, settings)
        found = self.cache.cached(name, settings)
        if found is None:
            build = lambda tmp: self._convert(tmp, hw, None)  # noqa: E731
            found = self.cache.build(name, settings, build, None)
        return found[0]

    def _convert(self, path: Path, hw: tuple[int, int] | None, decoder: Decoder | None) -> None:
        shape = (None, None, None, 3) if hw is None else (None, *hw, 3)
        convert_to_onnx(runtime_function(self.model, decoder, self.flip_test, hw), shape, path)

    def _quantize(self, source: Path, path: Path, hw: tuple[int, int] | None) -> None:
        batches = calibration_batches(self.calibration, lambda f: self.transform.at_size(f, hw))
        quantize_int8(source, path, batches)

    def session(self, input_hw: Sequence[int]):
        """The ONNX Runtime session for images of network input ``input_hw``."""
        hw = self.graph_hw(input_hw)
        if hw not in self._sessions:
            path, graph = self._graph(hw, self.quantize == "int8")
            self._sessions[hw] = onnx_session(path, graph)
        return self._sessions[hw]

    # ---- running -------------------------------------------------------------------------------

    def _run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        return run_session(self.session(batch.shape[1:3]), batch)

    def maps(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """``uint8 [B, H, W, 3]`` → the activated maps (flip merged), as the float graph or the
        INT8 graph computes them."""
        out = self._run(batch)
        return {k[len(MAP_PREFIX) :]: v for k, v in out.items() if k.startswith(MAP_PREFIX)}

    def decode(self, maps: dict, input_hw: Sequence[int | None]) -> dict[str, np.ndarray]:
        """The Keras decoder (the graphs decode inside; INT8 decodes their maps with it)."""
        return self._keras.decode(maps, input_hw)

    def detect(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        if self.quantize == "int8":
            return self.decode(self.maps(batch), tuple(batch.shape[1:3]))
        out = self._run(batch)
        return {k: v for k, v in out.items() if not k.startswith(MAP_PREFIX)}
