"""Decoding: pure ``keras.ops`` functions (``centernet``, ``pose``, ``fcos``, ``common``) and the
decoder layers the models hold (``layers``)."""

from centernet_keras.decoding.centernet import decode_centernet, peak_keep, topk_peaks
from centernet_keras.decoding.common import class_nms, compact_rows
from centernet_keras.decoding.fcos import boxes_from_deltas, decode_fcos, merge_fcos_flip
from centernet_keras.decoding.layers import CenterNetDecoder, Decoder, FCOSDecoder, PoseDecoder
from centernet_keras.decoding.pose import decode_pose

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
