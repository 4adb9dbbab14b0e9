"""CenterNet multi-person pose heads on the stride-4 map (reference ``multi_pose``: hm, wh, reg,
hps, hm_hp, hp_offset)."""

from __future__ import annotations

import keras

from centernet_keras.heads.centernet import HEATMAP_BIAS, conv_head


def pose_heads(features, num_keypoints: int, channels: int = 64, batchnorm: bool = True) -> dict:
    """Build the six pose heads (each 3×3 conv [+ BN] + ReLU + 1×1 conv).

    Args:
        features: ``[B, h, w, F]`` neck output (Keras tensor).
        num_keypoints: joints per person ``J``.
        channels: width of the 3×3 convs.
        batchnorm: BN after the 3×3 conv (this project's default) or bias (reference).

    Returns:
        ``{"heatmap": [B, h, w, 1] logits, "size": [B, h, w, 2], "offset": [B, h, w, 2],
        "keypoints": [B, h, w, 2J] (joint − centre, map pixels), "keypoint_heatmap": [B, h, w, J]
        logits, "keypoint_offset": [B, h, w, 2]}``.
    """
    bias = keras.initializers.Constant(HEATMAP_BIAS)
    shapes = {
        "heatmap": (1, bias),
        "size": (2, "zeros"),
        "offset": (2, "zeros"),
        "keypoints": (2 * num_keypoints, "zeros"),
        "keypoint_heatmap": (num_keypoints, bias),
        "keypoint_offset": (2, "zeros"),
    }
    return {
        name: conv_head(features, out, channels, batchnorm, name, init)
        for name, (out, init) in shapes.items()
    }
