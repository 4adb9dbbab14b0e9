"""``Decoder``: the base of the decoder layers a detector holds (``model.decoder``).

A decoder is a small serialisable Keras layer over a pure ``keras.ops`` decode function, saved
with the model; ``predict``, the ``Predictor``, export and the training mAP callback all run it.
A caller who wants other settings makes a changed copy with ``decoder.replace(...)``; the model
is never mutated. Each detector's decoder layer lives beside its decode functions
(``decoding.centernet``, ``decoding.fcos``, ``decoding.pose``).
"""

from __future__ import annotations

import keras


class Decoder(keras.layers.Layer):
    """Base of the decoders: activated head maps → padded detections in input pixels.

    Args:
        max_detections: rows per image in the output (``K``).
        score_threshold: detections scored below it are padding.
        iou_threshold: class-wise greedy NMS IoU, or ``None`` for no NMS.
        stride: output-map stride (map cells → input pixels).
    """

    def __init__(
        self,
        max_detections: int = 100,
        score_threshold: float = 0.0,
        iou_threshold: float | None = None,
        stride: int = 4,
        **kwargs,
    ):
        super().__init__(trainable=False, **kwargs)
        if int(max_detections) < 1:
            raise ValueError(f"max_detections must be >= 1, got {max_detections}")
        if iou_threshold is not None and not 0.0 < float(iou_threshold) <= 1.0:
            raise ValueError(f"iou_threshold must be in (0, 1] or None, got {iou_threshold}")
        self.max_detections = int(max_detections)
        self.score_threshold = float(score_threshold)
        self.iou_threshold = None if iou_threshold is None else float(iou_threshold)
        self.stride = int(stride)

    def replace(self, **changes) -> Decoder:
        """A copy with some settings changed (``iou_threshold=None`` switches NMS off)."""
        config = self.get_config()
        config.pop("name", None)
        unknown = sorted(set(changes) - set(config))
        if unknown:
            raise TypeError(f"{type(self).__name__} has no setting(s) {unknown}")
        return type(self).from_config({**config, **changes})

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("trainable", None)
        config.pop("dtype", None)
        return {
            **config,
            "max_detections": self.max_detections,
            "score_threshold": self.score_threshold,
            "iou_threshold": self.iou_threshold,
            "stride": self.stride,
        }
