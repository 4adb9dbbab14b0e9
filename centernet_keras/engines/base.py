"""What every runtime behind the ``Predictor`` does: the ``Engine`` interface and the runtime
settings (``RuntimeOptions``).

An engine runs a detector's network (and decoder) on network-input batches, uint8 RGB
``[B, H, W, 3]`` prepared by ``preprocess.ImageTransform``; the ``Predictor`` maps what it
returns back to the images. ``KerasEngine`` (``engines.keras``) traces the Keras model,
``OnnxEngine`` (``engines.onnx``) runs it as an ONNX Runtime graph. A new runtime (TFLite,
TensorRT…) is one more subclass, named in ``engines.ENGINES``.
"""

from __future__ import annotations

import abc
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from centernet_keras.choices import DEFAULT_CALIBRATION_COUNT, QUANTIZATIONS, RUNTIMES
from centernet_keras.decoding import Decoder
from centernet_keras.models.detector import Detector
from centernet_keras.preprocess import ImageTransform


@dataclass(frozen=True)
class RuntimeOptions:
    """How a ``Predictor`` runs its model (the ``Predictor`` arguments of the same names).

    Attributes:
        runtime: a name of ``choices.RUNTIMES``.
        quantize: ``None`` (float) or ``"int8"`` (ONNX Runtime only).
        calibration_images: INT8: a folder, an annotation file or a list of image paths.
        calibration_count: INT8: how many of them (spread evenly over the sorted list).
        model_file: the ``.keras`` file the model came from (ONNX Runtime caches its graphs
            next to it), or ``None``.
    """

    runtime: str = "keras"
    quantize: str | None = None
    calibration_images: str | os.PathLike | Sequence | None = None
    calibration_count: int = DEFAULT_CALIBRATION_COUNT
    model_file: str | os.PathLike | None = None

    def check(self, backend: str) -> None:
        """The errors of a runtime / quantization choice, before anything is built.

        Raises:
            ValueError: an unknown runtime or quantization, ``quantize`` without
                ``runtime="onnxruntime"``, INT8 without calibration images, or ONNX Runtime on
                a Keras backend other than TensorFlow (tf2onnx converts TensorFlow graphs).
        """
        check_settings(self.runtime, self.quantize, self.calibration_images, backend)


def check_settings(runtime: str, quantize: str | None, calibration_images, backend: str) -> None:
    """``RuntimeOptions.check`` of these settings (see there)."""
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


def decoder_settings(decoder: Decoder) -> dict:
    """The decoder's config without its layer name (unique per instance, not a setting)."""
    return {k: v for k, v in decoder.get_config().items() if k != "name"}


class Engine(abc.ABC):
    """One runtime of a detector with a decoder: batches in, maps or detections out.

    Args:
        model: the detector.
        decoder: the decoder whose settings the detections follow (``model.decoder`` or a
            changed copy).
        flip_test: merge the mirrored image's maps (``model.maps``).
        transform: how images become network inputs (an engine that calibrates on images
            prepares them with it).
        options: the runtime settings (``RuntimeOptions``; ``options.runtime`` names this
            engine).
    """

    def __init__(
        self,
        model: Detector,
        decoder: Decoder,
        flip_test: bool,
        transform: ImageTransform,
        options: RuntimeOptions,
    ):
        self.model, self.decoder, self.flip_test = model, decoder, bool(flip_test)
        self.transform, self.options = transform, options
        self._start()

    @abc.abstractmethod
    def _start(self) -> None:
        """The runtime's own set-up (traced functions, graphs…), after the attributes above are
        set."""

    @property
    def runtime(self) -> str:
        """The ``--runtime`` name of this engine."""
        return self.options.runtime

    @property
    def quantize(self) -> str | None:
        """``None`` (float) or ``"int8"``."""
        return self.options.quantize

    @abc.abstractmethod
    def maps(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """``uint8 [B, H, W, 3]`` → the model's activated maps ``[B, h, w, ·]`` (flip test
        merged when on), e.g. CenterNet's ``heatmap`` (probabilities), ``size``, ``offset``."""

    @abc.abstractmethod
    def decode(self, maps: dict, input_hw: Sequence[int | None]) -> dict[str, np.ndarray]:
        """``maps`` of network input ``input_hw`` → the decoder's padded detections in input
        pixels (``boxes [B, K, 4]``, ``scores``, ``classes`` ``[B, K]``,
        ``num_detections [B]``, a pose model's joints)."""

    @abc.abstractmethod
    def detect(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """``uint8 [B, H, W, 3]`` → padded detections in input pixels (``decode`` of ``maps``,
        as this runtime runs them)."""

    def settings(self) -> dict:
        """What of this engine changes the detections, JSON-ready: ``runtime``, ``quantize``,
        ``calibration`` (``None`` unless the engine calibrates on images)."""
        return {"runtime": self.runtime, "quantize": self.quantize, "calibration": None}
