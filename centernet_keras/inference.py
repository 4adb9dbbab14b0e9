"""Single-image detection: ``Predictor`` (image of any size/mode → boxes, and a pose model's
joints, in original pixels).

``Predictor(image)`` is three steps, as torchvision's detectors are:

1. preprocess (``preprocess.ImageTransform``): load the image (path, PIL image or array;
   grayscale, RGBA, EXIF-rotated) and fit it to the network input by letterbox (gray 128
   padding, the ``letterbox_params`` geometry) or plain resize, per the model's
   ``image_resize``;
2. the engine (``engines``, chosen once by ``runtime``): the network and its decoder, e.g. a
   traced ``tf.function`` of forward + decode (``KerasEngine``: built once per input shape,
   ``model.predict`` has a per-call overhead, see DESIGN.md) or an ONNX Runtime graph
   (``OnnxEngine``);
3. postprocess (``ImageTransform.postprocess``): the boxes (and joints) mapped back to the
   original image.

``load_image``, ``ImageInput`` (``data.image_io``), ``fit_to_input``, ``input_size_for``,
``PAD_VALUE`` and ``DEFAULT_INPUT_SIDE`` (``preprocess``) are still importable from here.
"""

from __future__ import annotations

import os
import time
import warnings
import zipfile
from collections.abc import Callable, Sequence

import keras
import numpy as np

from centernet_keras.choices import DEFAULT_CALIBRATION_COUNT
from centernet_keras.data.classes import read_classes
from centernet_keras.data.image_io import ImageInput, load_image
from centernet_keras.decoding import Decoder
from centernet_keras.detections import Detections
from centernet_keras.engines import ENGINES, Engine, RuntimeOptions, decoder_settings
from centernet_keras.models.detector import Detector
from centernet_keras.models.registry import import_builtin_detectors
from centernet_keras.preprocess import (
    DEFAULT_INPUT_SIDE,
    PAD_VALUE,
    ImageTransform,
    fit_to_input,
    input_size_for,
    requested_input_size,
)
from centernet_keras.tiling import DEFAULT_TILE_OVERLAP, Tiler, check_tile
from centernet_keras.timing import interleaved_stages

__all__ = [
    "DEFAULT_INPUT_SIDE",
    "PAD_VALUE",
    "Detections",
    "ImageInput",
    "Predictor",
    "fit_to_input",
    "input_size_for",
    "load_image",
    "resolve_class_names",
]


def resolve_class_names(
    num_classes: int,
    model_names: Sequence[str] | None,
    classes: str | os.PathLike | Sequence[str] | None,
) -> list[str]:
    """Class names from ``classes`` (a file, one name a line, or a list), else the model's.

    Raises:
        ValueError: the number of names differs from the model's class count.
    """
    if classes is None:
        if model_names is None:
            return [f"class_{i}" for i in range(num_classes)]
        return list(model_names)
    if isinstance(classes, str | os.PathLike):
        names, source = read_classes(classes), f"classes file {os.fspath(classes)!r}"
    else:
        names, source = [str(c) for c in classes], "the classes given"
    if len(names) != num_classes:
        raise ValueError(
            f"{source} has {len(names)} class names but the model has {num_classes} classes: "
            f"pass the classes file the model was trained with"
        )
    return names


class Predictor:
    """Detect objects in single images with a ``Detector`` (e.g. a ``CenterNet``).

    Args:
        model: the detector.
        class_names: a classes file, a list of names, or ``None`` for the model's names.
        score_threshold: score threshold of the returned detections.
        iou_threshold: class-wise NMS IoU, ``None`` for none, or ``"auto"``: the model's own
            decoder setting, saved with it (as built: CenterNet 0.5 on a ResNet backbone, else
            none; FCOS 0.6; pose none).
        max_detections: top-K of the decoder (``None``: the model's).
        keypoint_threshold: a pose model's joint-heatmap peaks must score above it to be
            snapped to (``None``: the model's, 0.1 unless changed); the skeleton drawing
            (``visualize.drawer``) hides joints scored below it.
        flip_test: also run the horizontal flip and merge the maps (``model.merge_flip``).
        input_size: network input side or ``(H, W)`` of a model with a dynamic input size
            (rounded up to multiples of 32); default the image scaled to a longest side of
            512. A model with a fixed input size always uses it (another size is an error).
        letterbox: ``True``/``False``, or ``None`` for the model's ``image_resize``.
        runtime: ``"keras"`` (TensorFlow) or ``"onnxruntime"``: the network and decoder
            exported once to an ONNX graph and run in ONNX Runtime (CPU; same detections,
            less CPU time; see ``centernet_keras.runtime``).
        quantize: ``"int8"`` (with ``runtime="onnxruntime"``): the network quantized by ONNX
            Runtime's static quantization, calibrated on ``calibration_images``; faster, but
            the detections change.
        calibration_images: a folder of images, an annotation file, or a list of paths.
        calibration_count: how many calibration images (spread over the sorted list).
        model_file: the ``.keras`` file the model came from (``from_checkpoint`` sets it): the
            ONNX Runtime graphs are cached next to it (a folder that cannot be written: in
            the user's cache folder), keyed on the model's weights as loaded.
        tile, tile_overlap: also detect in ``tile x tile`` tiles of the image (original
            pixels; neighbours overlap by ``tile_overlap`` of a tile) and merge them with the
            whole image's detections, for small objects (``tiling``); ``None``: off.
        confidence, nms_iou: former names of ``score_threshold`` and ``iou_threshold``.

    The decoder is the model's, with these settings (``model.decoder.replace``): the model
    itself is not changed. To change them, make a new ``Predictor`` on the same model (cheap).
    """

    def __init__(
        self,
        model: Detector,
        class_names: str | os.PathLike | Sequence[str] | None = None,
        score_threshold: float = 0.3,
        iou_threshold: float | str | None = "auto",
        max_detections: int | None = None,
        flip_test: bool = False,
        input_size: int | Sequence[int] | None = None,
        letterbox: bool | None = None,
        runtime: str = "keras",
        quantize: str | None = None,
        calibration_images: str | os.PathLike | Sequence | None = None,
        calibration_count: int | None = None,
        model_file: str | os.PathLike | None = None,
        keypoint_threshold: float | None = None,
        tile: int | None = None,
        tile_overlap: float = DEFAULT_TILE_OVERLAP,
        **former,
    ):
        score_threshold, iou_threshold = _former_names(former, score_threshold, iou_threshold)
        check_tile(tile, tile_overlap)
        self.tile = None if tile is None else int(tile)
        self.tile_overlap = float(tile_overlap)
        self.model = model
        self.num_classes = int(model.num_classes)
        self.class_names = resolve_class_names(
            self.num_classes, getattr(model, "class_names", None), class_names
        )
        self.model_hw = requested_input_size(model.input_shape[1:3], input_size)
        self.letterbox = (
            getattr(model, "image_resize", "letterbox") == "letterbox"
            if letterbox is None
            else bool(letterbox)
        )
        changes: dict = {"score_threshold": float(score_threshold)}
        if iou_threshold != "auto":
            changes["iou_threshold"] = iou_threshold
        if max_detections is not None:
            changes["max_detections"] = int(max_detections)
        if keypoint_threshold is not None:
            if not hasattr(model.decoder, "keypoint_threshold"):
                raise ValueError(
                    "keypoint_threshold (--keypoint-threshold) is for pose models; this model "
                    "decodes no joints"
                )
            changes["keypoint_threshold"] = float(keypoint_threshold)
        self.decoder: Decoder = model.decoder.replace(**changes)
        self.flip_test = bool(flip_test)
        self.transform = ImageTransform(self.model_hw, self.letterbox)
        options = RuntimeOptions(
            runtime,
            quantize,
            calibration_images,
            calibration_count or DEFAULT_CALIBRATION_COUNT,
            model_file,
        )
        options.check(keras.backend.backend())
        self.runtime = runtime
        #: What runs the network and decoder: the one place the runtime is chosen.
        self.engine: Engine = ENGINES[runtime](
            model, self.decoder, self.flip_test, self.transform, options
        )

    def settings(self) -> dict:
        """Every setting that changes the detections, JSON-ready (``centernet val`` writes
        them into summary.json, so reports of different settings do not look alike).

        Keys: ``runtime``, ``quantize``, ``calibration`` (INT8: ``images`` used and their
        ``sha256``; else ``None``), ``input_hw`` (``[H, W]``, or ``None`` when each image is
        scaled to ``input_longest_side``), ``letterbox``, ``flip_test``, ``score_threshold``,
        ``iou_threshold``, ``max_detections``, ``decoder`` (the decoder's whole config:
        also the settings that only some detectors have), ``tile`` and ``tile_overlap``
        (``None`` without tiles).
        """
        dynamic = None in tuple(self.model_hw)
        settings = {
            **self.engine.settings(),  # runtime, quantize, calibration
            "input_hw": None if dynamic else [int(v) for v in self.model_hw],
        }
        if dynamic:
            settings["input_longest_side"] = DEFAULT_INPUT_SIDE
        return {
            **settings,
            "letterbox": self.letterbox,
            "flip_test": self.flip_test,
            "score_threshold": self.score_threshold,
            "iou_threshold": self.iou_threshold,
            "max_detections": self.max_detections,
            "decoder": decoder_settings(self.decoder),
            "tile": self.tile,
            "tile_overlap": None if self.tile is None else self.tile_overlap,
        }

    @property
    def score_threshold(self) -> float:
        return self.decoder.score_threshold

    @property
    def iou_threshold(self) -> float | None:
        return self.decoder.iou_threshold

    @property
    def max_detections(self) -> int:
        return self.decoder.max_detections

    @classmethod
    def from_checkpoint(
        cls,
        path: str | os.PathLike,
        classes: str | os.PathLike | Sequence[str] | None = None,
        **kwargs,
    ) -> Predictor:
        """Load a ``.keras`` detector (``safe_mode=True``) and wrap it.

        Args:
            path: the ``.keras`` file.
            classes: a classes file or list; must match the model's class count.
            **kwargs: ``Predictor`` settings (score_threshold, iou_threshold, flip_test…).

        Raises:
            FileNotFoundError: no such file.
            ValueError: the file is not a Keras model (a ``.keras`` file is a zip archive), or
                the classes do not match the model.
            TypeError: the model is not a detector of this package.
        """
        path = os.fspath(path)
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path}: no such model file")
        not_a_model = f"{path} is not a Keras model (a .keras zip archive written by model.save)"
        if os.path.isdir(path) or (path.endswith(".keras") and not zipfile.is_zipfile(path)):
            raise ValueError(not_a_model)
        import_builtin_detectors()  # their classes registered with Keras: the file names one
        try:
            model = keras.saving.load_model(path, safe_mode=True)
        except (KeyError, zipfile.BadZipFile) as err:  # a zip without the .keras contents
            raise ValueError(f"{not_a_model}: {err}") from err
        if not isinstance(model, Detector):
            raise TypeError(
                f"{path} holds a {type(model).__name__}, not a detector of centernet_keras"
            )
        return cls(model, class_names=classes, model_file=path, **kwargs)

    # ---- the steps: preprocess → engine → postprocess -----------------------------------------

    def preprocess(self, image: ImageInput) -> tuple[np.ndarray, tuple[int, int]]:
        """Image → ``([1, H, W, 3]`` uint8 network input, original ``(h, w))``."""
        return self.transform(image)

    def forward(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """The engine's forward: the model's activated maps, e.g. ``{"heatmap"
        (probabilities), "size", "offset"}`` ``[B, h, w, ·]`` (Keras: traced; ONNX Runtime:
        the graph's maps; the float graph runs its decoder too)."""
        return self.engine.maps(batch)

    def decode(self, maps: dict, input_hw: Sequence[int] | None = None) -> dict[str, np.ndarray]:
        """Traced decode of ``forward``'s maps → padded detections in input pixels.

        ``input_hw``: the network input size of those maps (default the model's; needed by
        FCOS models with a dynamic input size).
        """
        return self.engine.decode(maps, self.model_hw if input_hw is None else input_hw)

    def postprocess(
        self, decoded: dict, image_hw: Sequence[int], input_hw: Sequence[int], index: int = 0
    ) -> Detections:
        """Padded detections of image ``index`` → ``Detections`` in original pixels
        (``ImageTransform.postprocess``: boxes and a pose model's joints mapped back, clipped
        to the image; boxes left with no area, found in the padding, dropped)."""
        return self.transform.postprocess(decoded, image_hw, input_hw, self.class_names, index)

    def __call__(self, image: ImageInput) -> Detections:
        """Detect objects in one image (path, PIL image or RGB array of any size)."""
        return self.timed(image)[0]

    def timed(self, image: ImageInput) -> tuple[Detections, dict[str, float]]:
        """``self(image)`` and the seconds each of its stages took.

        Stages: ``preprocess`` (load, fit to the input), ``detect`` (the network and its
        decoder as the runtime runs them: one traced TensorFlow function; the ONNX Runtime
        graph; INT8: its graph, then the Keras decoder), ``postprocess`` (to the original
        image's pixels). With ``tile``: ``tiling.Tiler.timed``'s stages (the tiles too).
        """
        if self.tile is not None:
            return self.tiler().timed(image)
        start = time.perf_counter()
        batch, image_hw = self.preprocess(image)
        prepared = time.perf_counter()
        decoded = self.engine.detect(batch)
        detected = time.perf_counter()
        detections = self.postprocess(decoded, image_hw, batch.shape[1:3])
        stages = {
            "preprocess": prepared - start,
            "detect": detected - prepared,
            "postprocess": time.perf_counter() - detected,
        }
        return detections, stages

    def tiler(self) -> Tiler | None:
        """The tiled detection of this predictor's settings, ``None`` without ``tile``."""
        if self.tile is None:
            return None
        spec = self.model.keypoint_spec  # a pose model's people merge by OKS
        return Tiler(
            self.transform, self.engine.detect, self.class_names, self.tile, self.tile_overlap,
            self.max_detections, None if spec is None else spec.sigmas,
        )  # fmt: skip

    def heatmap(self, image: ImageInput, which: str = "auto") -> np.ndarray:
        """A heatmap of an image in original pixels ``[h, w]`` float32 (probabilities).

        Args:
            image: path, PIL image or RGB array.
            which: ``"centres"``: the object-centre heatmap, max over classes;
                ``"keypoints"``: a pose model's joint heatmap, max over joints; ``"auto"``:
                the joints for a pose model, else the centres.

        Raises:
            ValueError: ``which`` is not one of these, ``"keypoints"`` for a model without a
                joint heatmap, or a model without a centre heatmap (FCOS).
        """
        if which not in ("auto", "centres", "keypoints"):
            raise ValueError(f"which must be 'auto', 'centres' or 'keypoints', got {which!r}")
        batch, image_hw = self.preprocess(image)
        maps = self.forward(batch)
        if which == "auto":
            which = "keypoints" if "keypoint_heatmap" in maps else "centres"
        if which == "keypoints" and "keypoint_heatmap" not in maps:
            raise ValueError(
                f"the model ({type(self.model).__name__}) has no joint heatmap: "
                f"heatmap(which='keypoints') needs a pose model"
            )
        key = "keypoint_heatmap" if which == "keypoints" else "heatmap"
        if key not in maps:
            raise ValueError(
                f"the model ({type(self.model).__name__}) has no centre heatmap: heatmaps are "
                f"CenterNet's (an FCOS model scores locations of a pyramid instead)"
            )
        heat = maps[key][0].max(axis=-1).astype(np.float32)  # [H/4, W/4]
        return self.transform.heatmap_to_original(heat, image_hw, batch.shape[1:3])

    def benchmark(self, image: ImageInput, runs: int = 20, warmup: int = 3) -> dict[str, float]:
        """Milliseconds of each stage of ``self(image)`` and of the whole call, file → boxes.

        Stages (``preprocess_ms``, ``detect_ms``, ``postprocess_ms``) are those of
        :meth:`timed`, measured inside the timed calls (``total_ms``), after ``warmup``
        untimed calls (an ONNX graph build, tracing); each is the mean of the middle half of
        ``runs`` calls ranked by total (``timing.interleaved_stages``), so the stages add up
        to at most the total.
        """
        ms = interleaved_stages({"": self.benchmark_call(image)}, runs, warmup)[""]
        return {f"{name}_ms": value for name, value in ms.items()}

    def benchmark_call(self, image: ImageInput) -> Callable[[], dict[str, float]]:
        """The call :meth:`benchmark` times: ``self(image)``, returning its stages' seconds
        (to time several predictors in one interleaved run, as ``centernet benchmark`` does)."""
        return lambda: self.timed(image)[1]


def _former_names(former: dict, score_threshold, iou_threshold):
    """Accept the former keyword names ``confidence`` and ``nms_iou`` (with a warning)."""
    unknown = sorted(set(former) - {"confidence", "nms_iou"})
    if unknown:
        raise TypeError(f"Predictor got unexpected keyword argument(s) {unknown}")
    for old, new in (("confidence", "score_threshold"), ("nms_iou", "iou_threshold")):
        if old in former:
            warnings.warn(
                f"Predictor({old}=...) is now {new}=...", DeprecationWarning, stacklevel=3
            )
    return former.get("confidence", score_threshold), former.get("nms_iou", iou_threshold)
