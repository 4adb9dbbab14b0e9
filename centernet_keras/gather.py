"""The gathers of per-object rows: features at flat spatial indices (losses and decoders), and
rows of a batch of tables by index (decoders).

Both are one int32 ``take`` on the flattened batch. ``keras.ops.take_along_axis`` runs int64
index arithmetic on TensorFlow, which oneDNN on CPUs without AVX-512 answers with an "E"-level
log line ("oneDNN supports DT_INT64 only on platforms with AVX-512") in every run that trains
or predicts; a plain gather also exports to TFLite and ONNX as one op.
"""

from __future__ import annotations

import keras
from keras import ops


def take_rows(values: keras.KerasTensor, indices: keras.KerasTensor) -> keras.KerasTensor:
    """Rows ``indices`` of each table of a batch.

    Args:
        values: ``[B, N, ...]`` (any trailing shape).
        indices: ``[B, M]`` integer row indices in ``0..N-1``.

    Returns:
        ``[B, M, ...]``: ``out[b, m] = values[b, indices[b, m]]``.
    """
    shape = ops.shape(values)
    flat = ops.reshape(values, (-1, *shape[2:]))  # [B*N, ...]
    offsets = ops.arange(shape[0], dtype="int32") * ops.cast(shape[1], "int32")  # [B]
    return ops.take(flat, ops.cast(indices, "int32") + ops.expand_dims(offsets, -1), axis=0)


def gather_feature(feature_map: keras.KerasTensor, indices: keras.KerasTensor) -> keras.KerasTensor:
    """Gather per-object feature vectors at flat spatial indices.

    Args:
        feature_map: ``[B, H, W, D]`` map (NHWC).
        indices: ``[B, M]`` integer flat indices ``y * W + x`` (in range).

    Returns:
        ``[B, M, D]`` features, in the map's dtype (reference ``_transpose_and_gather_feat``).
    """
    shape = ops.shape(feature_map)
    return take_rows(ops.reshape(feature_map, (shape[0], -1, shape[3])), indices)
