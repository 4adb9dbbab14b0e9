"""The one gather of per-object features at flat spatial indices (losses and decoders)."""

from __future__ import annotations

import keras
from keras import ops


def gather_feature(feature_map: keras.KerasTensor, indices: keras.KerasTensor) -> keras.KerasTensor:
    """Gather per-object feature vectors at flat spatial indices.

    Args:
        feature_map: ``[B, H, W, D]`` map (NHWC).
        indices: ``[B, M]`` integer flat indices ``y * W + x`` (in range).

    Returns:
        ``[B, M, D]`` features, in the map's dtype (reference ``_transpose_and_gather_feat``).
    """
    shape = ops.shape(feature_map)
    flat = ops.reshape(feature_map, (shape[0], -1, shape[3]))  # [B, H*W, D]
    idx = ops.expand_dims(ops.cast(indices, "int32"), -1)  # [B, M, 1]
    return ops.take_along_axis(flat, idx, axis=1)
