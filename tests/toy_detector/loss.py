"""The toy's loss (``keras.ops``: every backend)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import keras
from keras import ops

LOSS_TERMS = ("heatmap_loss", "size_loss")


def center_point_loss(
    y_true: Mapping, y_pred: Mapping, weights: Sequence[float] = (1.0, 0.1)
) -> dict[str, keras.KerasTensor]:
    """Sigmoid cross-entropy of the heatmap (positives weighted 10×) and the L1 of the size at
    the centre cells, each over the number of objects.

    Args:
        y_true: ``encode_center_point_targets``'s maps, batched ``[B, h, w, ·]``.
        y_pred: raw head outputs: ``heatmap`` logits ``[B, h, w, C]``, ``size`` ``[B, h, w, 2]``.
        weights: (heatmap, size) weights of the total.

    Returns:
        ``{"loss", "heatmap_loss", "size_loss"}`` scalars.
    """
    target = ops.cast(y_true["heatmap"], "float32")
    mask = ops.cast(y_true["mask"], "float32")
    logits = ops.cast(y_pred["heatmap"], "float32")
    objects = ops.maximum(ops.sum(mask), 1.0)
    cross = ops.binary_crossentropy(target, logits, from_logits=True)
    heatmap_loss = ops.sum(cross * (1.0 + 9.0 * target)) / objects
    gap = ops.abs(ops.cast(y_pred["size"], "float32") - ops.cast(y_true["size"], "float32"))
    size_loss = ops.sum(gap * mask[..., None]) / objects
    total = weights[0] * heatmap_loss + weights[1] * size_loss
    return {"loss": total, "heatmap_loss": heatmap_loss, "size_loss": size_loss}
