"""Export a detector for deployment: ``.keras``, TF SavedModel, TFLite and ONNX.

Every artefact takes raw uint8 RGB images ``[B, H, W, 3]`` (the backbone preprocessing is
inside the model) and carries the model's decoder (or a changed copy), so it returns
detections in network-input pixels and next to them the model's raw outputs. For CenterNet:

- ``boxes [B, K, 4]`` float32, ``scores [B, K]`` float32, ``classes [B, K]`` int32,
  ``num_detections [B]`` int32 (rows padded with −1);
- ``heatmap`` (logits) ``[B, H/4, W/4, C]``, ``size`` and ``offset`` ``[B, H/4, W/4, 2]``.

With ``decode=False`` only the raw maps are exported (e.g. to time the network alone).

Formats:

- ``keras``: the model (with that decoder and class names); ``model.predict(uint8 images)``
  decodes with the decoder saved in it, ``model(images)`` gives the raw maps.
- ``saved_model``: ``keras.export.ExportArchive`` with one ``serve``/``serving_default``
  signature (input ``images``, uint8) that casts, runs the model and decodes.
- ``tflite``: the SavedModel signature through ``tf.lite.TFLiteConverter`` (builtin ops only:
  the decoder's max-pool, top-k, gathers and the NMS while-loop all convert); its input and
  output tensors are named as the signature's (``images``, ``boxes``, ``scores``, …).
- ``onnx``: the same function through ``tf2onnx.convert.from_function`` (opset 17), run with
  onnxruntime; the NMS loop becomes an ONNX ``Loop``. tf2onnx's discarded graph copies are
  freed as it goes (``_graph_copies_freed``): ResNet50 @512 peaks at 3.2–3.6 GB, not 9–10 GB.

An INT8 ONNX export (``centernet export --quantize int8``) is this ONNX graph statically
quantized by ``quantization.quantize_export``: the network in INT8, the decoder left in float,
the same inputs and outputs. ``centernet export --verify`` checks any artefact against the
Keras model on validation images (``export_verify``).

The batch size is dynamic; height and width are fixed to the model's input size (for a model
with a dynamic size, to ``input_size``, default 512×512).

Boxes are in network-input pixels: map them back with ``boxes_to_original`` and the
letterbox/resize the images were prepared with (``preprocess.fit_to_input``).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import logging
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from centernet_keras.choices import EXPORT_FORMATS as FORMATS
from centernet_keras.choices import EXPORT_SUFFIXES as SUFFIXES  # noqa: F401  (former home)
from centernet_keras.io import atomic_path
from centernet_keras.models.registry import import_builtin_detectors

if TYPE_CHECKING:  # keras and TF load on first use: predict.py --help stays fast
    from centernet_keras.decoding import Decoder
    from centernet_keras.models.detector import Detector

ONNX_OPSET = 17


def export_input_hw(model: Detector, input_size: int | Sequence[int] | None) -> tuple[int, int]:
    """The input ``(H, W)`` of an export: the model's fixed size, else ``input_size``
    (default 512; multiples of 32)."""
    static = model.input_shape[1:3]
    if all(d is not None for d in static):
        if input_size is not None and tuple(_pair(input_size)) != tuple(static):
            raise ValueError(f"the model's input size is fixed at {static}, got {input_size}")
        return int(static[0]), int(static[1])
    hw = _pair(input_size if input_size is not None else 512)
    if any(v % 32 for v in hw):
        raise ValueError(f"input height and width must be multiples of 32, got {hw}")
    return hw


def _pair(size: int | Sequence[int]) -> tuple[int, int]:
    return (int(size), int(size)) if isinstance(size, int) else (int(size[0]), int(size[1]))


def serving_function(
    model: Detector, decoder: Decoder | None = None, decode: bool = True
) -> Callable:
    """``uint8 [B, H, W, 3]`` → ``{detections…, raw maps…}`` (or the raw maps only).

    Args:
        model: the detector.
        decoder: the decoder to bake in (default the model's own).
        decode: include the decoder.
    """
    from keras import ops

    decoder = model.decoder if decoder is None else decoder

    def serve(images):
        raw = model(ops.cast(images, "float32"), training=False)
        if not decode:
            return dict(raw)
        detections = model.decode(model.activate(raw), tuple(images.shape[1:3]), decoder)
        return {**detections, **{exported_name(k, detections): v for k, v in raw.items()}}

    return serve


def exported_name(raw_key: str, detections) -> str:
    """The output name of a raw map in an export with a decoder: its own name, or ``<name>_map``
    when a detection output has that name (a pose model's ``keypoints``)."""
    return f"{raw_key}_map" if raw_key in detections else raw_key


def export_model(
    model: Detector,
    path: str | os.PathLike,
    format: str = "saved_model",
    *,
    decoder: Decoder | None = None,
    class_names: Sequence[str] | None = None,
    input_size: int | Sequence[int] | None = None,
    decode: bool = True,
    **decoder_settings,
) -> Path:
    """Export ``model`` in one format, with a decoder baked in. The model is not changed.

    Args:
        model: a detector (e.g. a ``CenterNet``).
        path: output file (``.keras``, ``.tflite``, ``.onnx``) or folder (SavedModel).
        format: one of ``FORMATS``.
        decoder: the decoder (default the model's own).
        class_names: names saved in a ``.keras`` file (default the model's).
        input_size: ``(H, W)`` for a model with a dynamic input size (default 512).
        decode: include the decoder (``False``: raw maps only; not for ``keras``).
        **decoder_settings: changes to that decoder (``score_threshold``, ``max_detections``,
            ``iou_threshold``; see ``Decoder.replace``).

    Returns:
        The path written (atomically: a failed or killed export leaves an earlier file or
        folder at ``path`` as it was, see ``io.atomic_path``).
    """
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
    path = Path(path)
    decoder = (model.decoder if decoder is None else decoder).replace(**decoder_settings)
    if format == "keras":
        if not decode:
            raise ValueError("a .keras model always carries the decoder (model.predict)")
        if path.suffix != ".keras":
            raise ValueError(f"a Keras model file must end in .keras, got {path}")
        changes: dict = {"decoder": decoder}
        if class_names is not None:
            changes["class_names"] = list(class_names)
        with atomic_path(path) as tmp:
            model.replace(**changes).save(tmp)
        return path
    hw = export_input_hw(model, input_size)
    if format == "saved_model":
        _export_saved_model(model, decoder, path, hw, decode)
    elif format == "tflite":
        _export_tflite(model, decoder, path, hw, decode)
    else:
        _export_onnx(model, decoder, path, hw, decode)
    return path


def _export_saved_model(
    model: Detector, decoder: Decoder, path: Path, hw: tuple[int, int], decode: bool
) -> None:
    import keras
    import tensorflow as tf

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        name="serve",
        fn=serving_function(model, decoder, decode),
        input_signature=[tf.TensorSpec([None, *hw, 3], tf.uint8, name="images")],
    )
    with atomic_path(path) as tmp:
        archive.write_out(os.fspath(tmp), verbose=False)


def _export_tflite(
    model: Detector, decoder: Decoder, path: Path, hw: tuple[int, int], decode: bool
) -> None:
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as tmp:
        _export_saved_model(model, decoder, Path(tmp) / "saved_model", hw, decode)
        converter = tf.lite.TFLiteConverter.from_saved_model(
            os.fspath(Path(tmp) / "saved_model"), signature_keys=["serving_default"]
        )
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        flatbuffer = _tensors_named_by_signature(converter.convert())
    with atomic_path(path) as tmp:
        tmp.write_bytes(flatbuffer)


def _tensors_named_by_signature(flatbuffer: bytes) -> bytes:
    """A TFLite model whose signature tensors are named by their keys: the input ``images``,
    the outputs ``boxes``, ``scores``, … (the converter names them ``serving_default_images:0``
    and ``StatefulPartitionedCall_1:N``), so ``Interpreter.get_output_details()`` tells them
    apart by name as the signature runner does."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(flatbuffer))
    for signature in model.signatureDefs:
        tensors = model.subgraphs[signature.subgraphIndex].tensors
        for entry in [*signature.inputs, *signature.outputs]:
            tensors[entry.tensorIndex].name = entry.name
    return flatbuffer_utils.convert_object_to_bytearray(model)


def _export_onnx(
    model: Detector, decoder: Decoder, path: Path, hw: tuple[int, int], decode: bool
) -> None:
    convert_to_onnx(serving_function(model, decoder, decode), (None, *hw, 3), path)


def convert_to_onnx(
    fn: Callable, input_shape: Sequence[int | None], path: str | os.PathLike
) -> None:
    """Write ``fn`` (uint8 ``images`` of ``input_shape`` → dict of tensors) as an ONNX graph
    (atomically, ``io.atomic_path``).

    tf2onnx (opset ``ONNX_OPSET``) with its discarded graph copies freed as it goes
    (``_graph_copies_freed``). ``None`` in ``input_shape`` leaves that dimension dynamic.
    """
    import tensorflow as tf
    import tf2onnx

    spec = [tf.TensorSpec(list(input_shape), tf.uint8, name="images")]
    optimizer_log = logging.getLogger("tf2onnx.optimizer")
    optimizer_log.addFilter(_skipped_optimizer)
    try:
        with _graph_copies_freed(), atomic_path(path) as tmp:
            tf2onnx.convert.from_function(
                tf.function(fn), input_signature=spec, opset=ONNX_OPSET, output_path=os.fspath(tmp)
            )
    finally:
        optimizer_log.removeFilter(_skipped_optimizer)


def _skipped_optimizer(record: logging.LogRecord) -> bool:
    """Drop tf2onnx's "Failed to apply <optimizer>" warning (a full traceback): one of its
    optional graph rewrites gave up on a node (``optimize_transpose`` on a scalar bias, in the
    MobileNetV3 models) and the graph stays as it was there, still right (the runtime tests
    compare its detections with Keras's)."""
    return not record.getMessage().startswith("Failed to apply")


@contextlib.contextmanager
def _graph_copies_freed() -> Iterator[None]:
    """Free the graph copies that tf2onnx discards, as it goes.

    tf2onnx's ``optimize_graph`` deep-copies the whole ONNX graph, weights included, before
    each of its dozen graph optimizers (repeated until nothing changes). The copies it drops
    are reference cycles, which only a full pass of Python's cycle collector frees, and in a
    process holding TensorFlow's millions of objects full passes are rare: the copies piled up
    to 9.8 GB for a ResNet50 @512 (125 MB of weights). Here the objects that exist before the
    export are frozen out of the collector (``gc.freeze``, so a full pass only scans the
    export's own objects and is cheap) and a full pass runs before each optimizer.
    """
    try:  # the optimizer table that optimize_graph reads (not a public API: skip if it moved)
        from tf2onnx.optimizer import _get_optimizers

        table = _get_optimizers()
    except ImportError:
        table = {}
    saved = dict(table) if isinstance(table, MutableMapping) else {}
    gc.collect()
    gc.freeze()
    try:
        for name, factory in saved.items():
            table[name] = functools.partial(_collect_then_make, factory)
        yield
    finally:
        table.update(saved)
        gc.unfreeze()
        gc.collect()


def _collect_then_make(factory: Callable):
    gc.collect()
    return factory()


def load_exported(path: str | os.PathLike) -> Callable[[np.ndarray], dict[str, np.ndarray]]:
    """Load any exported artefact as ``fn(uint8 images [B, H, W, 3]) → dict of NumPy arrays``.

    The format is told from the path: ``.keras``, ``.tflite``, ``.onnx``, else a SavedModel
    folder. The dict holds the detections and the raw maps (see the module doc).
    """
    path = Path(path)
    if path.suffix == ".keras":
        return _load_keras(path)
    if path.suffix == ".tflite":
        return _load_tflite(path)
    if path.suffix == ".onnx":
        return _load_onnx(path)
    return _load_saved_model(path)


def _load_keras(path: Path) -> Callable:
    import keras
    import tensorflow as tf

    import_builtin_detectors()  # their classes registered with Keras: the file names one
    model = keras.saving.load_model(os.fspath(path), safe_mode=True)
    fn = tf.function(serving_function(model))
    return lambda images: {k: np.asarray(v) for k, v in fn(images).items()}


def _load_saved_model(path: Path) -> Callable:
    import tensorflow as tf

    loaded = tf.saved_model.load(os.fspath(path))
    return lambda images: {k: v.numpy() for k, v in loaded.serve(tf.constant(images)).items()}


def _load_tflite(path: Path) -> Callable:
    import tensorflow as tf

    with warnings.catch_warnings():  # tf.lite.Interpreter's move to ai_edge_litert
        warnings.simplefilter("ignore")
        interpreter = tf.lite.Interpreter(model_path=os.fspath(path))
    runner = interpreter.get_signature_runner("serving_default")
    return lambda images: {
        k: np.asarray(v) for k, v in runner(images=np.asarray(images, np.uint8)).items()
    }


def _load_onnx(path: Path) -> Callable:
    import onnxruntime as ort

    session = ort.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    input_name = session.get_inputs()[0].name

    def run(images: np.ndarray) -> dict[str, np.ndarray]:
        outputs = session.run(None, {input_name: np.asarray(images, np.uint8)})
        return dict(zip(names, outputs, strict=True))

    return run
