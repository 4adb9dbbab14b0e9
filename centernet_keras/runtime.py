"""ONNX Runtime behind the ``Predictor`` (``runtime="onnxruntime"``): the former home of its
names, kept so that ``centernet_keras.runtime.X`` still works.

The engine lives in ``engines.onnx`` (``OnnxEngine``: the graphs, calibration, sessions) and
its graph cache in ``engines.onnx_cache`` (folders, keys, integrity checks); the runtime and
quantization names in ``choices``; ``check_settings`` and ``decoder_settings`` in
``engines.base``.
"""

from centernet_keras.choices import DEFAULT_CALIBRATION_COUNT, QUANTIZATIONS, RUNTIMES
from centernet_keras.engines.base import check_settings, decoder_settings
from centernet_keras.engines.onnx import (
    MAP_PREFIX,
    OnnxEngine,
    calibration_files,
    onnx_session,
    run_session,
    runtime_function,
)
from centernet_keras.engines.onnx_cache import (
    CACHE_SUFFIX,
    CACHE_VERSION,
    code_versions,
    file_digest,
    model_digest,
    package_source_sha256,
    source_sha256,
    user_cache_dir,
)

__all__ = [
    "CACHE_SUFFIX",
    "CACHE_VERSION",
    "DEFAULT_CALIBRATION_COUNT",
    "MAP_PREFIX",
    "QUANTIZATIONS",
    "RUNTIMES",
    "OnnxEngine",
    "calibration_files",
    "check_settings",
    "code_versions",
    "decoder_settings",
    "file_digest",
    "model_digest",
    "onnx_session",
    "package_source_sha256",
    "run_session",
    "runtime_function",
    "source_sha256",
    "user_cache_dir",
]
