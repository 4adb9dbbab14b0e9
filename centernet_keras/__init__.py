"""centernet-keras: anchor-free object detection (CenterNet) for Keras 3 / TensorFlow.

Conventions (see README): tensors are NHWC; boxes are ``[x1, y1, x2, y2]`` in absolute
pixels of the image they belong to; class ids are 0-based; detections are padded with -1.
"""

__version__ = "0.1.0"
