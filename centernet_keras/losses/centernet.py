"""CenterNet training losses, written with ``keras.ops`` only (TF, JAX and PyTorch backends).

The numbers follow the reference CenterNet (xingyizhou/CenterNet ``src/lib/models/losses.py``):

* heatmap: CornerNet focal loss (``_neg_loss``) on the clamped sigmoid, α = 2, β = 4, summed over
  the whole batch and divided by the number of positives (the negative term alone, not
  normalised, when there are none);
* size and offset: ``RegL1Loss`` — masked L1 at the object centres over ``mask sum + 1e-4``;
* total: ``1·heatmap + 0.1·size + 1·offset`` (``CtdetLoss`` defaults);
* multi-person pose (:func:`pose_loss`, reference ``MultiPoseLoss``): the same terms plus the
  keypoint heatmap focal loss, ``RegWeightedL1Loss`` on the keypoints (per-coordinate mask) and
  ``RegL1Loss`` on the keypoint offsets, which shares the offset weight.

All math is done in float32, whatever the dtype of the model outputs (mixed precision safe).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import keras
from keras import ops

from centernet_keras.gather import gather_feature

_EPS = 1e-4
_LOG_MIN = math.log(_EPS)
_LOG_MAX = math.log1p(-_EPS)


def focal_loss(
    heatmap_true: keras.KerasTensor,
    heatmap_logits: keras.KerasTensor,
    alpha: float = 2.0,
    beta: float = 4.0,
) -> keras.KerasTensor:
    """CornerNet focal loss on heatmap logits (reference ``FocalLoss(_sigmoid(logits), gt)``).

    With ``p = clip(sigmoid(x), 1e-4, 1 - 1e-4)``::

        pos = sum[gt == 1] log(p) (1 - p)^α
        neg = sum[gt < 1]  log(1 - p) p^α (1 - gt)^β
        loss = -(pos + neg) / num_pos      if num_pos > 0 else  -neg

    ``log p`` and ``log(1 - p)`` are computed as clipped log-sigmoids, which equals the clamp
    mathematically but stays accurate in float32 for saturated logits.

    Args:
        heatmap_true: Gaussian targets ``[B, H, W, C]``, exactly 1.0 at object centres.
        heatmap_logits: Raw (pre-sigmoid) predictions ``[B, H, W, C]``.
        alpha: Focusing exponent on the prediction.
        beta: Exponent of the ``(1 - gt)`` down-weighting of negatives near centres.

    Returns:
        Scalar float32 loss, summed over the whole batch.
    """
    gt = ops.cast(heatmap_true, "float32")
    x = ops.cast(heatmap_logits, "float32")
    log_p = ops.clip(ops.log_sigmoid(x), _LOG_MIN, _LOG_MAX)
    log_1mp = ops.clip(ops.log_sigmoid(-x), _LOG_MIN, _LOG_MAX)
    p = ops.exp(log_p)
    one_minus_p = ops.exp(log_1mp)

    pos_mask = ops.cast(ops.equal(gt, 1.0), "float32")
    neg_mask = ops.cast(ops.less(gt, 1.0), "float32")
    neg_weights = ops.power(1.0 - gt, beta)

    pos_loss = ops.sum(log_p * ops.power(one_minus_p, alpha) * pos_mask)
    neg_loss = ops.sum(log_1mp * ops.power(p, alpha) * neg_weights * neg_mask)
    num_pos = ops.sum(pos_mask)
    normalised = -(pos_loss + neg_loss) / ops.maximum(num_pos, 1.0)
    return ops.where(num_pos > 0.0, normalised, -neg_loss)


def reg_l1_loss(
    pred_map: keras.KerasTensor,
    indices: keras.KerasTensor,
    mask: keras.KerasTensor,
    target: keras.KerasTensor,
) -> keras.KerasTensor:
    """Masked L1 regression loss at object centres (``RegL1Loss``, or ``RegWeightedL1Loss``).

    ``sum |pred·m − target·m| / (sum(m expanded to D channels) + 1e-4)``, over the whole batch.
    A ``[B, M]`` mask is per object (reference ``RegL1Loss``); a ``[B, M, D]`` mask is per
    coordinate (reference ``RegWeightedL1Loss``, used for the keypoints of a pose model).

    Args:
        pred_map: Predicted map ``[B, H, W, D]``.
        indices: ``[B, M]`` flat indices ``y * W + x`` of the object centres.
        mask: ``[B, M]`` or ``[B, M, D]``, 1 for real objects (coordinates), 0 for padding.
        target: ``[B, M, D]`` regression targets.

    Returns:
        Scalar float32 loss.
    """
    pred = ops.cast(gather_feature(pred_map, indices), "float32")  # [B, M, D]
    target = ops.cast(target, "float32")
    m = ops.cast(mask, "float32")
    if len(m.shape) == 2:
        m = ops.expand_dims(m, -1)
    m = m * ops.ones_like(pred)  # [B, M, D]
    loss = ops.sum(ops.abs(pred * m - target * m))
    return loss / (ops.sum(m) + _EPS)


def centernet_loss(
    y_true: Mapping[str, keras.KerasTensor],
    y_pred: Mapping[str, keras.KerasTensor],
    weights: Sequence[float] = (1.0, 0.1, 1.0),
) -> dict[str, keras.KerasTensor]:
    """Total CenterNet detection loss (reference ``CtdetLoss``, one stack).

    Args:
        y_true: ``heatmap [B, H, W, C]``, ``size [B, M, 2]``, ``offset [B, M, 2]``,
            ``indices [B, M]`` (int, ``y * W + x``) and ``mask [B, M]``.
        y_pred: ``heatmap`` logits ``[B, H, W, C]``, ``size [B, H, W, 2]``,
            ``offset [B, H, W, 2]``.
        weights: ``(heatmap, size, offset)`` weights.

    Returns:
        Dict of float32 scalars ``loss``, ``heatmap_loss``, ``size_loss``, ``offset_loss``;
        ``loss = w0·heatmap_loss + w1·size_loss + w2·offset_loss``.
    """
    w_hm, w_size, w_off = (float(w) for w in weights)
    hm = focal_loss(y_true["heatmap"], y_pred["heatmap"])
    size = reg_l1_loss(y_pred["size"], y_true["indices"], y_true["mask"], y_true["size"])
    off = reg_l1_loss(y_pred["offset"], y_true["indices"], y_true["mask"], y_true["offset"])
    total = w_hm * hm + w_size * size + w_off * off
    return {"loss": total, "heatmap_loss": hm, "size_loss": size, "offset_loss": off}


POSE_LOSS_TERMS = ("heatmap", "size", "offset", "keypoint", "keypoint_heatmap")
_POSE_WEIGHTS = (1.0, 0.1, 1.0, 1.0, 1.0)


def _pose_weights(weights: Mapping[str, float] | Sequence[float] | None) -> dict[str, float]:
    """Resolve :func:`pose_loss` weights to a dict over ``POSE_LOSS_TERMS``."""
    resolved = dict(zip(POSE_LOSS_TERMS, _POSE_WEIGHTS, strict=True))
    if weights is None:
        return resolved
    if isinstance(weights, Mapping):
        unknown = set(weights) - set(POSE_LOSS_TERMS)
        if unknown:
            raise ValueError(f"unknown pose loss weights {sorted(unknown)}; use {POSE_LOSS_TERMS}")
        resolved.update({k: float(v) for k, v in weights.items()})
        return resolved
    values = [float(w) for w in weights]
    if len(values) != len(POSE_LOSS_TERMS):
        raise ValueError(f"pose loss weights need {len(POSE_LOSS_TERMS)} values {POSE_LOSS_TERMS}")
    return dict(zip(POSE_LOSS_TERMS, values, strict=True))


def pose_loss(
    y_true: Mapping[str, keras.KerasTensor],
    y_pred: Mapping[str, keras.KerasTensor],
    weights: Mapping[str, float] | Sequence[float] | None = None,
) -> dict[str, keras.KerasTensor]:
    """Total CenterNet multi-person pose loss (reference ``MultiPoseLoss``, one stack).

    ``loss = w_hm·heatmap + w_size·size + w_off·offset + w_kp·keypoint
    + w_kp_hm·keypoint_heatmap + w_off·keypoint_offset`` — as in the reference there is no
    separate keypoint-offset weight, it shares the offset weight.

    Args:
        y_true: Batched :func:`centernet_keras.targets.encode_pose_targets` output:
            ``heatmap [B, H, W, 1]``, ``size``/``offset [B, M, 2]``, ``indices [B, M]``,
            ``mask [B, M]``, ``keypoints``/``keypoint_mask [B, M, 2J]``,
            ``keypoint_heatmap [B, H, W, J]``, ``keypoint_offset [B, M·J, 2]``,
            ``keypoint_indices``/``keypoint_offset_mask [B, M·J]``.
        y_pred: ``heatmap`` logits ``[B, H, W, 1]``, ``size``/``offset [B, H, W, 2]``,
            ``keypoints [B, H, W, 2J]`` (joint minus integer centre), ``keypoint_heatmap``
            logits ``[B, H, W, J]``, ``keypoint_offset [B, H, W, 2]``.
        weights: ``None`` for the reference defaults (heatmap 1, size 0.1, offset 1, keypoint 1,
            keypoint_heatmap 1); a dict with any of the keys ``"heatmap"``, ``"size"``,
            ``"offset"``, ``"keypoint"``, ``"keypoint_heatmap"`` (missing keys keep their
            default); or a sequence of five values in that order.

    Returns:
        Dict of float32 scalars ``loss``, ``heatmap_loss``, ``size_loss``, ``offset_loss``,
        ``keypoint_loss``, ``keypoint_heatmap_loss``, ``keypoint_offset_loss``.

    Raises:
        ValueError: If a weights dict has an unknown key or a sequence has not five values.
    """
    w = _pose_weights(weights)
    ind, mask = y_true["indices"], y_true["mask"]
    terms = {
        "heatmap_loss": focal_loss(y_true["heatmap"], y_pred["heatmap"]),
        "size_loss": reg_l1_loss(y_pred["size"], ind, mask, y_true["size"]),
        "offset_loss": reg_l1_loss(y_pred["offset"], ind, mask, y_true["offset"]),
        "keypoint_loss": reg_l1_loss(
            y_pred["keypoints"], ind, y_true["keypoint_mask"], y_true["keypoints"]
        ),
        "keypoint_heatmap_loss": focal_loss(y_true["keypoint_heatmap"], y_pred["keypoint_heatmap"]),
        "keypoint_offset_loss": reg_l1_loss(
            y_pred["keypoint_offset"],
            y_true["keypoint_indices"],
            y_true["keypoint_offset_mask"],
            y_true["keypoint_offset"],
        ),
    }
    total = (
        w["heatmap"] * terms["heatmap_loss"]
        + w["size"] * terms["size_loss"]
        + w["offset"] * (terms["offset_loss"] + terms["keypoint_offset_loss"])
        + w["keypoint"] * terms["keypoint_loss"]
        + w["keypoint_heatmap"] * terms["keypoint_heatmap_loss"]
    )
    return {"loss": total, **terms}
