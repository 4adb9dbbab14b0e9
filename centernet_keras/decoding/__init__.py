"""Decoding: pure ``keras.ops`` functions (``centernet``, ``common``) and the decoder layers
the models hold (``layers``)."""

from centernet_keras.decoding.centernet import decode_centernet, peak_keep, topk_peaks
from centernet_keras.decoding.common import class_nms, compact_rows
from centernet_keras.decoding.layers import CenterNetDecoder, Decoder

__all__ = [
    "CenterNetDecoder",
    "Decoder",
    "class_nms",
    "compact_rows",
    "decode_centernet",
    "peak_keep",
    "topk_peaks",
]
