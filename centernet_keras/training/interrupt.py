"""Ctrl-C during training that is never lost.

Python raises ``KeyboardInterrupt`` in whatever Python code runs when SIGINT arrives. During
``model.fit`` that may be a garbage-collector callback or a ``__del__`` (JAX, when installed,
registers one), where the exception is printed as "Exception ignored in ..." and dropped: the
run went on to its last epoch (seen in ``tests/training/test_interrupt_train.py``).
``InterruptGuard`` records each SIGINT as it raises the exception, keeps the dropped one out of
the output (no "Exception ignored" traceback), and, as a Keras callback, raises it again at the
next batch or epoch start.
"""

from __future__ import annotations

import signal
import sys
import threading

import keras


class InterruptGuard(keras.callbacks.Callback):
    """SIGINT handler (while used as a context manager, in the main thread) and Keras callback.

    Example::

        with InterruptGuard() as guard:
            model.fit(..., callbacks=[guard, ...])  # Ctrl-C: KeyboardInterrupt, surely
    """

    def __init__(self) -> None:
        super().__init__()
        self.pending = False
        self._previous = None
        self._unraisable = None

    def __enter__(self) -> InterruptGuard:
        if threading.current_thread() is threading.main_thread():  # only there: signal()
            self._previous = signal.signal(signal.SIGINT, self._interrupted)
            self._unraisable, sys.unraisablehook = sys.unraisablehook, self._report
        return self

    def __exit__(self, *exc_info) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            sys.unraisablehook = self._unraisable
            self._previous = self._unraisable = None

    def _report(self, unraisable) -> None:
        """``sys.unraisablehook``: silent for the dropped Ctrl-C (raised again here)."""
        if not (self.pending and unraisable.exc_type is KeyboardInterrupt):
            self._unraisable(unraisable)

    def _interrupted(self, signum, frame) -> None:
        self.pending = True
        raise KeyboardInterrupt

    def _raise_if_dropped(self, *args, **kwargs) -> None:
        if self.pending:
            raise KeyboardInterrupt

    # batch ends and epoch starts: an epoch that finished is committed before this raises
    on_train_batch_end = on_test_batch_end = on_epoch_begin = _raise_if_dropped
