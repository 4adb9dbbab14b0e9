"""The Keras runtime: the model's forward pass and decoder as traced ``tf.function``s.

One traced function per step (``detect``: forward + decode in one graph; ``maps``;
``decode``), each traced once per input shape: ``model.predict`` has a per-call overhead (see
DESIGN.md). On the JAX / torch backends the steps run eagerly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
import numpy as np

from centernet_keras.engines.base import Engine


def _numpy(out: dict) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in out.items()}


class KerasEngine(Engine):
    """``Engine`` of the Keras model (TensorFlow: traced; see the module docstring)."""

    def _start(self) -> None:
        self._functions: dict[str, Callable] = {}

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

    def maps(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        return _numpy(self._function("maps")(batch))

    def decode(self, maps: dict, input_hw: Sequence[int | None]) -> dict[str, np.ndarray]:
        hw = None if None in tuple(input_hw) else tuple(int(v) for v in input_hw)
        return _numpy(self._function("decode")(maps, hw))

    def detect(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        return _numpy(self._function("detect")(batch))
