"""In-model image preprocessing, so saved and exported models take raw RGB (0–255)."""

from __future__ import annotations

import keras
from keras import ops

_IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)
_IMAGENET_STD_RGB = (0.229, 0.224, 0.225)
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
#: CenterNet's COCO normalisation (``datasets/dataset/coco.py``), on BGR images (``cv2``).
_CENTERNET_MEAN_BGR = (0.40789654, 0.44719302, 0.47026115)
_CENTERNET_STD_BGR = (0.28863828, 0.27408164, 0.27809835)
MODES = ("caffe", "torch", "tf", "none", "centernet")


@keras.saving.register_keras_serializable(package="centernet_keras")
class ImagePreprocessing(keras.layers.Layer):
    """Normalise raw RGB images the way a backbone's weights expect.

    Modes:
        ``"caffe"``: RGB → BGR, minus the ImageNet BGR mean (Keras ResNet50 weights).
        ``"torch"``: x / 255, minus the ImageNet mean, over the ImageNet std.
        ``"tf"``: x / 127.5 − 1.
        ``"none"``: identity (the backbone preprocesses itself, e.g. MobileNetV3).
        ``"centernet"``: RGB → BGR, x / 255, minus CenterNet's COCO mean, over its std (the
            input of the reference's COCO checkpoints, set by ``load_reference_weights``).

    Input: ``[B, H, W, 3]`` RGB in 0–255, any numeric dtype. Output: the same shape,
    in the layer's compute dtype.
    """

    def __init__(self, mode: str = "caffe", **kwargs):
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.mode = mode

    def call(self, images):
        x = ops.cast(images, self.compute_dtype)
        if self.mode == "caffe":
            x = ops.flip(x, axis=-1)
            return x - ops.convert_to_tensor(_CAFFE_MEAN_BGR, dtype=self.compute_dtype)
        if self.mode == "torch":
            mean = ops.convert_to_tensor(_IMAGENET_MEAN_RGB, dtype=self.compute_dtype)
            std = ops.convert_to_tensor(_IMAGENET_STD_RGB, dtype=self.compute_dtype)
            return (x / 255.0 - mean) / std
        if self.mode == "centernet":
            mean = ops.convert_to_tensor(_CENTERNET_MEAN_BGR, dtype=self.compute_dtype)
            std = ops.convert_to_tensor(_CENTERNET_STD_BGR, dtype=self.compute_dtype)
            return (ops.flip(x, axis=-1) / 255.0 - mean) / std
        if self.mode == "tf":
            return x / 127.5 - 1.0
        return x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "mode": self.mode}
