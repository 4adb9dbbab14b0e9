"""Decoding: per detector, pure ``keras.ops`` functions and the decoder layer the model holds
(``centernet``, ``pose``, ``fcos``); the ``Decoder`` base (``base``); shared steps (``common``)."""

from centernet_keras.decoding.base import Decoder
from centernet_keras.decoding.centernet import (
    CenterNetDecoder,
    decode_centernet,
    peak_keep,
    topk_peaks,
)
from centernet_keras.decoding.common import class_nms, compact_rows
from centernet_keras.decoding.fcos import (
    FCOSDecoder,
    boxes_from_deltas,
    decode_fcos,
    merge_fcos_flip,
)
from centernet_keras.decoding.pose import PoseDecoder, decode_pose

__all__ = [
    "CenterNetDecoder",
    "Decoder",
    "FCOSDecoder",
    "PoseDecoder",
    "boxes_from_deltas",
    "class_nms",
    "compact_rows",
    "decode_centernet",
    "decode_fcos",
    "decode_pose",
    "merge_fcos_flip",
    "peak_keep",
    "topk_peaks",
]
