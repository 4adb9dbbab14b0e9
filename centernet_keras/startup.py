"""Quiet start-up: TensorFlow's C++ log noise filtered while Keras and TensorFlow load.

Before ``absl::InitializeLog()`` runs, TensorFlow's C++ libraries write their log to stderr
whatever ``TF_CPP_MIN_LOG_LEVEL`` says, e.g. on a machine without CUDA::

    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    I0000 00:00:1795458545.092170    3889 cudart_stub.cc:31] Could not find cuda drivers ...
    E0000 00:00:1795458555.233952    3889 cuda_platform.cc:52] failed call to cuInit: ...

No setting turns these off, so ``quiet_tensorflow_startup`` imports Keras (and its
TensorFlow) with the stderr file descriptor captured, and writes back every captured line
except: the ``absl::InitializeLog`` notice, C++ log lines below ``TF_CPP_MIN_LOG_LEVEL``
(which TensorFlow itself would hide after start-up), and, on a machine where TensorFlow found
no CUDA driver, the ``cuInit`` failure that follows from it. Importing ``centernet_keras``
calls it first, so every CLI (``train.py``, ``predict.py``, ``get_map.py``,
``voc_annotation.py``) starts quietly; ``TF_CPP_MIN_LOG_LEVEL=0`` shows everything, unfiltered.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Sequence

#: The level used when ``TF_CPP_MIN_LOG_LEVEL`` is unset: errors only (no info, no warnings).
DEFAULT_TF_LOG_LEVEL = "2"

_ABSL_NOTICE = "All log messages before absl::InitializeLog() is called are written to STDERR"
#: An absl/glog line: severity, MMDD, time (``00:00:<epoch>.<us>`` before absl is set up),
#: thread id, ``file:line]``.
_ABSL_LINE = re.compile(r"^([IWEF])\d{4} [\d:.]+\s+\d+ [^\]\s]+:\d+\] ")
_SEVERITY = {"I": 0, "W": 1, "E": 2, "F": 3}
_NO_CUDA_DRIVER = "Could not find cuda drivers"
_CUINIT_FAILED = "failed call to cuInit"


def help_requested(argv: Sequence[str] | None = None) -> bool:
    """Whether the command line (``sys.argv[1:]`` by default) asks for ``-h`` / ``--help``.

    Importing ``centernet_keras`` then defers loading Keras until a name of the package is
    used, so every CLI prints its usage without TensorFlow's seconds of start-up.
    """
    args = getattr(sys, "argv", [])[1:] if argv is None else argv
    return not {"-h", "--help"}.isdisjoint(args)


def quiet_tensorflow_startup() -> None:
    """Set ``TF_CPP_MIN_LOG_LEVEL`` (default 2) and load Keras with its start-up log filtered.

    Does nothing once Keras or TensorFlow is loaded (their start-up log is already out), and
    imports without filtering when ``TF_CPP_MIN_LOG_LEVEL`` is below 2 or stderr has no file
    descriptor to capture.
    """
    if "keras" in sys.modules or "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", DEFAULT_TF_LOG_LEVEL)
    try:
        level = int(os.environ["TF_CPP_MIN_LOG_LEVEL"])
    except ValueError:
        level = 0
    if level < 2:
        return
    with tempfile.TemporaryFile() as capture:
        try:
            sys.stderr.flush()
            saved_fd = os.dup(2)
        except (OSError, ValueError, AttributeError):
            return  # no stderr descriptor: nothing to capture
        try:
            os.dup2(capture.fileno(), 2)
            try:
                _import_backend(capture.fileno())
            finally:
                sys.stderr.flush()
                os.dup2(saved_fd, 2)
        finally:
            os.close(saved_fd)
            kept = filter_startup_log(_captured(capture.fileno()), level)
            if kept:
                sys.stderr.write(kept)
                sys.stderr.flush()


def _captured(fd: int) -> str:
    """The text written so far to the capture file ``fd`` (its offset left alone)."""
    return os.pread(fd, os.fstat(fd).st_size, 0).decode("utf-8", "replace")


def _import_backend(capture_fd: int) -> None:
    """Import Keras; on a machine without a CUDA driver also list TensorFlow's devices (cheap
    there), whose failing ``cuInit`` call would otherwise log an error on first use."""
    import keras

    if keras.backend.backend() == "tensorflow" and _NO_CUDA_DRIVER in _captured(capture_fd):
        import tensorflow as tf

        tf.config.list_physical_devices()


def filter_startup_log(text: str, min_level: int) -> str:
    """The lines of captured start-up stderr worth showing (see the module doc).

    Args:
        text: what was written to stderr while Keras/TensorFlow loaded.
        min_level: ``TF_CPP_MIN_LOG_LEVEL`` (0 info, 1 warning, 2 error, 3 fatal).

    Returns:
        The kept lines, each ending in a newline ("" if none).
    """
    no_cuda = _NO_CUDA_DRIVER in text
    kept = []
    for line in text.splitlines():
        if _ABSL_NOTICE in line:
            continue
        match = _ABSL_LINE.match(line)
        if match and _SEVERITY[match.group(1)] < min_level:
            continue
        if no_cuda and match and _CUINIT_FAILED in line:
            continue
        kept.append(line + "\n")
    return "".join(kept)
