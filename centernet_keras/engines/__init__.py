"""The runtimes behind the ``Predictor``, one ``Engine`` class each (``engines.base``).

``ENGINES`` maps each ``--runtime`` name (``choices.RUNTIMES``) to its class: ``keras``
(``KerasEngine``, traced TensorFlow) and ``onnxruntime`` (``OnnxEngine``, ONNX Runtime graphs
cached next to the model file). A new runtime is one ``Engine`` subclass and one entry here
(and its name in ``choices.RUNTIMES``).
"""

from centernet_keras.engines.base import Engine, RuntimeOptions, check_settings, decoder_settings
from centernet_keras.engines.keras import KerasEngine
from centernet_keras.engines.onnx import OnnxEngine

#: ``--runtime`` name → its ``Engine`` class.
ENGINES: dict[str, type[Engine]] = {"keras": KerasEngine, "onnxruntime": OnnxEngine}

__all__ = [
    "ENGINES",
    "Engine",
    "KerasEngine",
    "OnnxEngine",
    "RuntimeOptions",
    "check_settings",
    "decoder_settings",
]
