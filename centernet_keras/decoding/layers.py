"""The decoder layers under their former home (saved code and tests import them from here):
each now lives beside its decode functions, the base in ``decoding.base``."""

from centernet_keras.decoding.base import Decoder
from centernet_keras.decoding.centernet import CenterNetDecoder
from centernet_keras.decoding.fcos import FCOSDecoder
from centernet_keras.decoding.pose import PoseDecoder

__all__ = ["CenterNetDecoder", "Decoder", "FCOSDecoder", "PoseDecoder"]
