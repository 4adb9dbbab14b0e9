"""Single-image detection: ``Predictor`` (image of any size/mode → boxes, and a pose model's
joints, in original pixels).

``Predictor(image)`` loads the image (path, PIL image or array; grayscale, RGBA, EXIF-rotated),
fits it to the network input by letterbox (gray 128 padding, the ``letterbox_params`` geometry)
or plain resize, per the model's ``image_resize``; runs a traced ``tf.function`` of forward +
decode (built once per input shape: ``model.predict`` has a per-call overhead, see DESIGN.md),
and maps the boxes (and joints) back to the original image.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence

import cv2
import keras
import numpy as np
from PIL import Image

from centernet_keras.boxes import (
    LETTERBOX_FILL,
    boxes_to_original,
    letterbox_params,
    points_to_original,
)
from centernet_keras.data.image_io import pil_to_rgb, read_image_rgb, to_rgb8
from centernet_keras.decoding.layers import Decoder
from centernet_keras.detections import Detections
from centernet_keras.models.detector import Detector
from centernet_keras.timing import interleaved_stages

ImageInput = str | os.PathLike | Image.Image | np.ndarray
PAD_VALUE = LETTERBOX_FILL  # gray letterbox padding, as in the tf.data pipeline
DEFAULT_INPUT_SIDE = 512  # longest input side for models with a dynamic input size


def load_image(image: ImageInput) -> np.ndarray:
    """Any supported image → ``[H, W, 3]`` uint8 RGB, by the training pipeline's reader.

    A path is read by ``data.image_io.read_image_rgb`` (the pipeline's reader: same pixels);
    a PIL image or an array is converted by the same rule (``image_io.to_rgb8``): grayscale
    becomes three channels, an alpha channel is dropped, 16-bit values keep their high byte
    (``>> 8``); paths and PIL images are EXIF-transposed. Arrays are taken as RGB (convert
    OpenCV's BGR first) with shape ``[H, W]``, ``[H, W, 1]``, ``[H, W, 3]`` or ``[H, W, 4]``;
    float arrays as 0–255.

    Raises:
        ValueError: an array of another shape.
        OSError: a file that is missing or not a decodable image (``ImageReadError``).
    """
    if isinstance(image, str | os.PathLike):
        return read_image_rgb(image)
    if isinstance(image, Image.Image):
        return pil_to_rgb(image)
    return to_rgb8(image)


def fit_to_input(image: np.ndarray, input_hw: Sequence[int], letterbox: bool) -> np.ndarray:
    """Resize an RGB image to the network input, letterboxed or stretched.

    The validation transform of the ``tf.data`` pipeline (``data.augment.warp_image``), up
    to the rounding of this uint8 canvas: bilinear, pixel-centre aligned
    (``cv2.INTER_LINEAR``; edge pixels repeated when upscaling). Letterbox: resize to
    ``(new_w, new_h)`` of ``letterbox_params`` (the placement the pipeline and
    ``boxes_to_original`` use) and paste at ``(pad_x, pad_y)`` on a gray (``PAD_VALUE``)
    canvas.

    Args:
        image: ``[h, w, 3]`` uint8 RGB.
        input_hw: network input ``(H, W)``.
        letterbox: keep the aspect ratio and pad, or stretch.

    Returns:
        ``[H, W, 3]`` uint8.
    """
    in_h, in_w = (int(v) for v in input_hw)
    if not letterbox:
        return cv2.resize(image, (in_w, in_h), interpolation=cv2.INTER_LINEAR)
    _, pad_x, pad_y, new_w, new_h = letterbox_params(image.shape[:2], (in_h, in_w))
    canvas = np.full((in_h, in_w, 3), PAD_VALUE, np.uint8)
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    canvas[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = resized
    return canvas


def input_size_for(
    image_hw: Sequence[int], model_hw: Sequence[int | None], side: int = DEFAULT_INPUT_SIDE
) -> tuple[int, int]:
    """Network input size for an image: the model's, or (dynamic models) the image scaled so its
    longest side is ``side``, each side rounded up to a multiple of 32.
    """
    if all(d is not None for d in model_hw):
        return int(model_hw[0]), int(model_hw[1])
    h, w = (float(v) for v in image_hw)
    scale = side / max(h, w)
    return tuple(max(32, int(np.ceil(v * scale / 32.0)) * 32) for v in (h, w))  # type: ignore[return-value]


def _side_text(hw: Sequence[int]) -> str:
    """``(140, 140)`` → ``"140"``; ``(140, 100)`` → ``"(140, 100)"``."""
    return str(hw[0]) if hw[0] == hw[1] else f"({hw[0]}, {hw[1]})"


def parse_iou_threshold(value: str) -> float | str | None:
    """A command-line NMS setting: ``"auto"`` (the model's own), ``"none"`` (→ ``None``) or an
    IoU in (0, 1]."""
    if value.lower() in ("auto", "none"):
        return None if value.lower() == "none" else "auto"
    iou = float(value)
    if not 0.0 < iou <= 1.0:
        raise ValueError(f"NMS IoU must be in (0, 1], got {value}")
    return iou


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
        from centernet_keras.data.classes import read_classes

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
        **former,
    ):
        score_threshold, iou_threshold = _former_names(former, score_threshold, iou_threshold)
        self.model = model
        self.num_classes = int(model.num_classes)
        self.class_names = resolve_class_names(
            self.num_classes, getattr(model, "class_names", None), class_names
        )
        model_hw = tuple(model.input_shape[1:3])
        if input_size is not None:
            asked = (input_size,) * 2 if isinstance(input_size, int) else tuple(input_size)
            if min(int(v) for v in asked) < 1:
                raise ValueError(f"input_size (--input-size) must be positive, got {input_size}")
            hw = tuple(int(np.ceil(int(v) / 32.0)) * 32 for v in asked)
            if None not in model_hw and hw != model_hw:
                rounded = "" if hw == asked else f" (rounded up to {_side_text(hw)})"
                raise ValueError(
                    f"input_size (--input-size) {_side_text(asked)}{rounded} does not fit: the "
                    f"model's input size is fixed at {model_hw}"
                )
            model_hw = hw
        self.model_hw = model_hw
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
        self._functions: dict[str, Callable] = {}
        from centernet_keras import runtime as rt

        rt.check_settings(runtime, quantize, calibration_images, keras.backend.backend())
        self.runtime = runtime
        self.engine: rt.OnnxEngine | None = None
        if runtime == "onnxruntime":
            self.engine = rt.OnnxEngine(
                model,
                self.decoder,
                self.flip_test,
                model_file=model_file,
                quantize=quantize,
                calibration_images=calibration_images,
                calibration_count=calibration_count or rt.DEFAULT_CALIBRATION_COUNT,
                prepare=self._prepare,
                decode=self.decode,
                letterbox=self.letterbox,
                input_hw=self.model_hw,
            )

    def settings(self) -> dict:
        """Every setting that changes the detections, JSON-ready (``centernet val`` writes
        them into summary.json, so reports of different settings do not look alike).

        Keys: ``runtime``, ``quantize``, ``calibration`` (INT8: ``images`` used and their
        ``sha256``; else ``None``), ``input_hw`` (``[H, W]``, or ``None`` when each image is
        scaled to ``input_longest_side``), ``letterbox``, ``flip_test``, ``score_threshold``,
        ``iou_threshold``, ``max_detections`` and ``decoder`` (the decoder's whole config:
        also the settings that only some detectors have).
        """
        from centernet_keras import runtime as rt

        calibration = None
        if self.engine is not None and self.engine.quantize is not None:
            files = self.engine.calibration
            calibration = {"images": len(files), "sha256": rt.file_digest(files)}
        dynamic = None in tuple(self.model_hw)
        settings = {
            "runtime": self.runtime,
            "quantize": None if self.engine is None else self.engine.quantize,
            "calibration": calibration,
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
            "decoder": rt.decoder_settings(self.decoder),
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
        import zipfile

        import centernet_keras  # noqa: F401  (registers the custom objects)

        path = os.fspath(path)
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path}: no such model file")
        not_a_model = f"{path} is not a Keras model (a .keras zip archive written by model.save)"
        if os.path.isdir(path) or (path.endswith(".keras") and not zipfile.is_zipfile(path)):
            raise ValueError(not_a_model)
        try:
            model = keras.saving.load_model(path, safe_mode=True)
        except (KeyError, zipfile.BadZipFile) as err:  # a zip without the .keras contents
            raise ValueError(f"{not_a_model}: {err}") from err
        if not isinstance(model, Detector):
            raise TypeError(
                f"{path} holds a {type(model).__name__}, not a detector of centernet_keras"
            )
        return cls(model, class_names=classes, model_file=path, **kwargs)

    # ---- the traced graph pieces -------------------------------------------------------------

    def _maps(self, images):
        """``[B, H, W, 3]`` uint8 → the model's activated maps (flip-merged)."""
        return self.model.maps(images, self.flip_test)

    def _decode(self, maps, input_hw):
        """Activated maps of ``input_hw`` images → padded detections (``model.decode``)."""
        return self.model.decode(maps, input_hw, self.decoder)

    def _function(self, name: str) -> Callable:
        """The traced function ``name`` (TF traces it once per input shape)."""
        if name not in self._functions:
            fn = {
                "detect": lambda x: self._decode(self._maps(x), tuple(x.shape[1:3])),
                "maps": self._maps,
                "decode": self._decode,
            }[name]
            if keras.backend.backend() == "tensorflow":
                import tensorflow as tf

                fn = tf.function(fn)
            self._functions[name] = fn
        return self._functions[name]

    # ---- public steps --------------------------------------------------------------------------

    def preprocess(self, image: ImageInput) -> tuple[np.ndarray, tuple[int, int]]:
        """Image → ``([1, H, W, 3]`` uint8 network input, original ``(h, w))``."""
        rgb = load_image(image)
        input_hw = input_size_for(rgb.shape[:2], self.model_hw)
        return fit_to_input(rgb, input_hw, self.letterbox)[None], rgb.shape[:2]

    def _prepare(self, image: ImageInput, input_hw: Sequence[int] | None) -> np.ndarray:
        """``preprocess``'s network input, at ``input_hw`` when given (INT8 calibration)."""
        if input_hw is None:
            return self.preprocess(image)[0]
        return fit_to_input(load_image(image), input_hw, self.letterbox)[None]

    def forward(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """Traced forward: the model's activated maps, e.g. ``{"heatmap" (probabilities),
        "size", "offset"}`` ``[B, h, w, ·]``. With ONNX Runtime: the graph's maps (the float
        graph runs its decoder too)."""
        if self.engine is not None:
            return self.engine.maps(batch)
        return {k: np.asarray(v) for k, v in self._function("maps")(batch).items()}

    def decode(self, maps: dict, input_hw: Sequence[int] | None = None) -> dict[str, np.ndarray]:
        """Traced decode of ``forward``'s maps → padded detections in input pixels.

        ``input_hw``: the network input size of those maps (default the model's; needed by
        FCOS models with a dynamic input size).
        """
        hw = self.model_hw if input_hw is None else input_hw
        hw = None if None in tuple(hw) else tuple(int(v) for v in hw)
        return {k: np.asarray(v) for k, v in self._function("decode")(maps, hw).items()}

    def postprocess(
        self, decoded: dict, image_hw: Sequence[int], input_hw: Sequence[int], index: int = 0
    ) -> Detections:
        """Padded detections of image ``index`` → ``Detections`` in original pixels.

        Boxes are clipped to the image; boxes left with no area (found in the padding) are
        dropped. A pose decoder's joints (``"keypoints"`` ``[B, K, J, 2]``) are mapped the
        same way, clipped to the image, and kept for the same people, with their
        ``"keypoint_scores"``.
        """
        n = int(decoded["num_detections"][index])
        boxes = boxes_to_original(
            np.asarray(decoded["boxes"][index, :n], np.float32),
            image_hw,
            input_hw,
            self.letterbox,
        )
        keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        class_ids = np.asarray(decoded["classes"][index, :n], np.int32)[keep]
        keypoints = keypoint_scores = None
        if "keypoints" in decoded:
            h, w = (float(v) for v in image_hw)
            joints = np.asarray(decoded["keypoints"][index, :n], np.float32)
            joints = points_to_original(joints, image_hw, input_hw, self.letterbox)
            keypoints = np.clip(joints, 0.0, [w, h]).astype(np.float32)[keep]  # also (-1, -1)
            keypoint_scores = np.asarray(decoded["keypoint_scores"][index, :n], np.float32)[keep]
        return Detections(
            boxes=boxes[keep],
            scores=np.asarray(decoded["scores"][index, :n], np.float32)[keep],
            class_ids=class_ids,
            class_names=[self.class_names[c] for c in class_ids],
            image_size=(int(image_hw[0]), int(image_hw[1])),
            keypoints=keypoints,
            keypoint_scores=keypoint_scores,
        )

    def __call__(self, image: ImageInput) -> Detections:
        """Detect objects in one image (path, PIL image or RGB array of any size)."""
        return self.timed(image)[0]

    def timed(self, image: ImageInput) -> tuple[Detections, dict[str, float]]:
        """``self(image)`` and the seconds each of its stages took.

        Stages: ``preprocess`` (load, fit to the input), ``detect`` (the network and its
        decoder as the runtime runs them: one traced TensorFlow function; the ONNX Runtime
        graph; INT8: its graph, then the Keras decoder), ``postprocess`` (to the original
        image's pixels).
        """
        start = time.perf_counter()
        batch, image_hw = self.preprocess(image)
        prepared = time.perf_counter()
        if self.engine is not None:
            decoded = self.engine.detect(batch)
        else:
            decoded = {k: np.asarray(v) for k, v in self._function("detect")(batch).items()}
        detected = time.perf_counter()
        detections = self.postprocess(decoded, image_hw, batch.shape[1:3])
        stages = {
            "preprocess": prepared - start,
            "detect": detected - prepared,
            "postprocess": time.perf_counter() - detected,
        }
        return detections, stages

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
        batch, (h, w) = self.preprocess(image)
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
        in_h, in_w = batch.shape[1:3]
        heat = cv2.resize(heat, (in_w, in_h), interpolation=cv2.INTER_LINEAR)
        if self.letterbox:
            _, px, py, nw, nh = letterbox_params((h, w), (in_h, in_w))
            heat = heat[py : py + max(nh, 1), px : px + max(nw, 1)]
        return cv2.resize(heat, (w, h), interpolation=cv2.INTER_LINEAR)

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
    import warnings

    unknown = sorted(set(former) - {"confidence", "nms_iou"})
    if unknown:
        raise TypeError(f"Predictor got unexpected keyword argument(s) {unknown}")
    for old, new in (("confidence", "score_threshold"), ("nms_iou", "iou_threshold")):
        if old in former:
            warnings.warn(
                f"Predictor({old}=...) is now {new}=...", DeprecationWarning, stacklevel=3
            )
    return former.get("confidence", score_threshold), former.get("nms_iou", iou_threshold)
