"""The names a setting accepts, as plain data: configs check them and the command lines list
them without importing Keras or TensorFlow (``--help`` prints before either loads).

``OPTIMIZERS``, ``STRATEGIES``, ``BACKBONE_ALIASES`` and the runtime and export names are
defined here (the modules that build them import these). ``BACKBONE_NAMES`` and ``NECK_NAMES``
are the keys of the registries that build them, ``backbones.BACKBONES`` and ``necks.NECKS``,
which import Keras; ``tests/test_cli_help.py`` checks that they agree.
"""

from __future__ import annotations

#: ``--optimizer`` names: Keras' Adam, torch's Adam (``TorchAdam``), SGD with Nesterov momentum.
OPTIMIZERS = ("adam", "adam_torch", "sgd")
#: ``--strategy`` names (``training.distribute``).
STRATEGIES = ("none", "mirrored", "multiworker")
#: Former backbone names that implied a neck: name → (backbone, neck) (``models.features``).
BACKBONE_ALIASES: dict[str, tuple[str, str]] = {
    "resnet18_fpn": ("resnet18", "skip"),
    "mobilenetv3_small_fpn": ("mobilenetv3_small", "skip"),
    "mobilenetv3_large_fpn": ("mobilenetv3_large", "skip"),
    "dla34_plain": ("dla34", "dla_up_plain"),
}
#: The keys of ``backbones.BACKBONES``.
BACKBONE_NAMES = (
    "dla34",
    "mobilenetv3",
    "mobilenetv3_large",
    "mobilenetv3_small",
    "regnetx_400mf",
    "resnet18",
    "resnet50",
)
#: The keys of ``necks.NECKS``.
NECK_NAMES = ("deconv", "dla_up", "dla_up_plain", "fpn", "skip")
#: ``--runtime`` names (``engines.ENGINES``): TensorFlow, or the model as an ONNX Runtime graph.
RUNTIMES = ("keras", "onnxruntime")
#: ``--quantize`` names (``engines.onnx``).
QUANTIZATIONS = ("int8",)
#: ``--calibration-count``'s default: INT8 calibration images used.
DEFAULT_CALIBRATION_COUNT = 100
#: ``--tile-overlap``'s default (``tiling``): the fraction of a tile its neighbours overlap; an
#: object up to a quarter of a tile lies whole in some tile (README: Tiled inference).
DEFAULT_TILE_OVERLAP = 0.25
#: The smallest ``--tile`` side in pixels (``tiling``; a network's coarsest stride).
MIN_TILE = 32
#: ``--format`` names of ``centernet export`` (``export.export_model``).
EXPORT_FORMATS = ("keras", "saved_model", "tflite", "onnx")
#: What ``predict.py --mode export`` appends to the model's file stem, per format.
EXPORT_SUFFIXES = {
    "keras": ".keras",
    "saved_model": "_saved_model",
    "tflite": ".tflite",
    "onnx": ".onnx",
}
