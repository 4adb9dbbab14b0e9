"""Which CPU kernel family this process's TensorFlow runs: oneDNN or Eigen.

TensorFlow's x86 builds carry two families of CPU kernels. oneDNN's is on by default only on
CPUs with AVX-512 VNNI / BF16 or AMX (recent Intel Xeons) and with ``TF_ENABLE_ONEDNN_OPTS=1``;
everywhere else (most AMD, ARM and older Intel CPUs, or ``TF_ENABLE_ONEDNN_OPTS=0``) TensorFlow
runs its Eigen kernels. They differ in float rounding (network outputs by ~4e-5 of their
magnitude) and in what they support (Eigen has no grouped-convolution backward). Read once
TensorFlow is loaded; the choice cannot change within a process.

    python -m centernet_keras.cpu_kernels           # prints "oneDNN" or "Eigen"
    python -m centernet_keras.cpu_kernels --other   # the TF_ENABLE_ONEDNN_OPTS value of the other
"""

from __future__ import annotations

import os
import sys


def onednn_enabled() -> bool:
    """Whether this process's TensorFlow runs its oneDNN CPU kernels (imports TensorFlow)."""
    try:
        from tensorflow.python.util import _pywrap_util_port
    except ImportError:  # a TensorFlow without that module: the environment decides
        return os.environ.get("TF_ENABLE_ONEDNN_OPTS", "").lower() in ("1", "true")
    return bool(_pywrap_util_port.IsMklEnabled())


def kernel_family() -> str:
    """``"oneDNN"`` or ``"Eigen"``: the CPU kernels of this process's TensorFlow."""
    return "oneDNN" if onednn_enabled() else "Eigen"


def main(argv: list[str] | None = None) -> int:
    """Print the kernel family, or with ``--other`` the ``TF_ENABLE_ONEDNN_OPTS`` of the other."""
    argv = sys.argv[1:] if argv is None else argv
    if argv == ["--other"]:
        print("0" if onednn_enabled() else "1")
    else:
        print(kernel_family())
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
