"""Decoding: pure ``keras.ops`` functions (``centernet``, ``pose``, ``common``) and the decoder
layers the models hold (``layers``)."""

from centernet_keras.decoding.centernet import decode_centernet, peak_keep, topk_peaks
from centernet_keras.decoding.common import class_nms, compact_rows
from centernet_keras.decoding.layers import CenterNetDecoder, Decoder, PoseDecoder
from centernet_keras.decoding.pose import decode_pose

__all__ = [
    "CenterNetDecoder",
    "Decoder",
    "PoseDecoder",
    "class_nms",
    "compact_rows",
    "decode_centernet",
    "decode_pose",
    "peak_keep",
    "topk_peaks",
]
