"""FCOS training losses in ``keras.ops`` (TF, JAX and PyTorch backends).

The element-wise losses follow torchvision 0.28 (``tests/data/reference/README.md``, section 13):

* :func:`sigmoid_focal_loss` — ``torchvision.ops.sigmoid_focal_loss`` (α = 0.25, γ = 2);
* :func:`giou_loss` — ``torchvision.ops.generalized_box_iou_loss`` (eps 1e-7, no clamping of
  inverted boxes: their negative areas enter the union as they are);
* :func:`centerness_loss` — ``binary_cross_entropy_with_logits``.

:func:`fcos_loss` combines them as ``FCOSHead.compute_loss`` does: each term summed, over the
foreground only for the box and centerness terms, and divided by ``max(1, number of foreground
locations in the batch)``.

All math is done in float32, whatever the dtype of the inputs (mixed precision safe).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import keras
from keras import ops

REDUCTIONS = ("none", "mean", "sum")
FCOS_LOSS_TERMS = ("class_loss", "box_loss", "centerness_loss")
_GIOU_EPS = 1e-7


def _reduce(loss: keras.KerasTensor, reduction: str) -> keras.KerasTensor:
    """``loss`` as it is (``"none"``), its mean or its sum."""
    if reduction == "none":
        return loss
    if reduction == "mean":
        return ops.mean(loss)
    if reduction == "sum":
        return ops.sum(loss)
    raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _bce_with_logits(logits: keras.KerasTensor, targets: keras.KerasTensor) -> keras.KerasTensor:
    """Element-wise ``−z·log σ(x) − (1 − z)·log(1 − σ(x))``, stable for any logit.

    Written as ``max(x, 0) − x·z + log1p(exp(−|x|))`` (torch's and TensorFlow's form).
    """
    return ops.relu(logits) - logits * targets + ops.log1p(ops.exp(-ops.abs(logits)))


def sigmoid_focal_loss(
    logits: keras.KerasTensor,
    targets: keras.KerasTensor,
    alpha: float = 0.25,
    gamma: float = 2.0,
    reduction: str = "none",
) -> keras.KerasTensor:
    """RetinaNet focal loss on logits (torchvision ``sigmoid_focal_loss``).

    ``loss = α_t · (1 − p_t)^γ · BCE(x, z)`` with ``p = σ(x)``, ``p_t = p·z + (1 − p)(1 − z)``,
    ``α_t = α·z + (1 − α)(1 − z)``; ``alpha < 0`` switches the α weighting off. ``1 − p_t`` is
    computed as ``σ(−x)·z + σ(x)(1 − z)``, which is the same number without the float32
    cancellation of ``1 − p_t`` near 1.

    Args:
        logits: ``[...]`` raw predictions.
        targets: ``[...]`` binary (or soft) targets, same shape.
        alpha: Weight of the positives in ``(0, 1)``, or negative for none.
        gamma: Focusing exponent.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.

    Returns:
        float32, ``[...]`` for ``"none"``, else a scalar.
    """
    x = ops.cast(logits, "float32")
    z = ops.cast(targets, "float32")
    one_minus_pt = ops.sigmoid(-x) * z + ops.sigmoid(x) * (1.0 - z)
    loss = _bce_with_logits(x, z) * ops.power(one_minus_pt, gamma)
    if alpha >= 0:
        loss = (alpha * z + (1.0 - alpha) * (1.0 - z)) * loss
    return _reduce(loss, reduction)


def giou_loss(
    boxes1: keras.KerasTensor, boxes2: keras.KerasTensor, reduction: str = "none"
) -> keras.KerasTensor:
    """``1 − GIoU`` of paired ``xyxy`` boxes (torchvision ``generalized_box_iou_loss``).

    ``iou = inter / (union + eps)``, ``giou = iou − (C − union) / (C + eps)`` with ``C`` the
    area of the smallest enclosing box and ``eps = 1e-7``. Symmetric; in ``[0, 2)``. Two equal
    zero-area boxes give 1 (union and ``C`` are 0).

    Args:
        boxes1: ``[..., 4]`` boxes ``[x1, y1, x2, y2]``.
        boxes2: ``[..., 4]`` boxes, paired element-wise with ``boxes1``.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.

    Returns:
        float32, ``[...]`` for ``"none"``, else a scalar.
    """
    b1 = ops.cast(boxes1, "float32")
    b2 = ops.cast(boxes2, "float32")
    x1, y1, x2, y2 = (b1[..., i] for i in range(4))
    x1g, y1g, x2g, y2g = (b2[..., i] for i in range(4))
    inter_w = ops.relu(ops.minimum(x2, x2g) - ops.maximum(x1, x1g))
    inter_h = ops.relu(ops.minimum(y2, y2g) - ops.maximum(y1, y1g))
    inter = inter_w * inter_h
    union = (x2 - x1) * (y2 - y1) + (x2g - x1g) * (y2g - y1g) - inter
    iou = inter / (union + _GIOU_EPS)
    enclosing = (ops.maximum(x2, x2g) - ops.minimum(x1, x1g)) * (
        ops.maximum(y2, y2g) - ops.minimum(y1, y1g)
    )
    giou = iou - (enclosing - union) / (enclosing + _GIOU_EPS)
    return _reduce(1.0 - giou, reduction)


def centerness_loss(
    logits: keras.KerasTensor, targets: keras.KerasTensor, reduction: str = "none"
) -> keras.KerasTensor:
    """Binary cross-entropy with logits of the centerness (torch ``BCEWithLogits``).

    Every element counts (a target of 0 is a target, not "ignore"); :func:`fcos_loss` keeps
    the foreground locations only.

    Args:
        logits: ``[...]`` raw centerness predictions.
        targets: ``[...]`` centerness in ``[0, 1]``.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.

    Returns:
        float32, ``[...]`` for ``"none"``, else a scalar.
    """
    x = ops.cast(logits, "float32")
    z = ops.cast(targets, "float32")
    return _reduce(_bce_with_logits(x, z), reduction)


def _ltrb_boxes(deltas: keras.KerasTensor) -> keras.KerasTensor:
    """``[..., 4]`` ``(l, t, r, b)`` → the box ``(−l, −t, r, b)`` around the origin."""
    return ops.concatenate([-deltas[..., :2], deltas[..., 2:]], axis=-1)


def fcos_loss(
    y_true: Mapping[str, keras.KerasTensor],
    y_pred: Mapping[str, keras.KerasTensor],
    weights: Sequence[float] = (1.0, 1.0, 1.0),
) -> dict[str, keras.KerasTensor]:
    """Total FCOS loss (torchvision ``FCOSHead.compute_loss``).

    With ``F = max(1, number of foreground locations in the batch)`` (``classes >= 0``):

    * ``class_loss = Σ sigmoid_focal_loss(logits, one-hot classes) / F`` over all locations and
      classes (background rows all zero);
    * ``box_loss = Σ_fg giou_loss(predicted box, target box) / F``;
    * ``centerness_loss = Σ_fg centerness_loss(centerness logits, target centerness) / F``.

    The boxes are compared in stride units around each location — ``(−l, −t, r, b)`` of the
    predicted and of the target deltas — instead of input pixels: GIoU is unchanged when both
    boxes move or scale together, and both sit at the same location and are scaled by the same
    stride, so the value is torchvision's (up to its ``eps``) and the loss needs neither the
    locations nor the image size.

    Args:
        y_true: Batched :func:`centernet_keras.targets.encode_fcos_targets` output:
            ``classes [B, L]`` int (−1 background), ``deltas [B, L, 4]`` (``(l, t, r, b) /
            stride``), ``centerness [B, L]`` (``boxes`` is not read).
        y_pred: ``classes [B, L, C]`` logits, ``deltas [B, L, 4]`` (non-negative, stride
            units), ``centerness [B, L]`` logits.
        weights: ``(class, box, centerness)`` weights of the total.

    Returns:
        Dict of float32 scalars ``loss``, ``class_loss``, ``box_loss``, ``centerness_loss``;
        ``loss = w0·class_loss + w1·box_loss + w2·centerness_loss``.
    """
    w_cls, w_box, w_ctr = (float(w) for w in weights)
    classes = ops.cast(y_true["classes"], "int32")  # [B, L]
    foreground = classes >= 0
    num_fg = ops.maximum(ops.sum(ops.cast(foreground, "float32")), 1.0)

    logits = ops.cast(y_pred["classes"], "float32")  # [B, L, C]
    one_hot = ops.one_hot(ops.maximum(classes, 0), ops.shape(logits)[-1], dtype="float32")
    one_hot = one_hot * ops.expand_dims(ops.cast(foreground, "float32"), -1)
    class_loss = sigmoid_focal_loss(logits, one_hot, reduction="sum") / num_fg

    # Background rows get a harmless unit box, so no NaN reaches the gradient through `where`.
    fg4 = ops.expand_dims(foreground, -1)
    pred_deltas = ops.where(fg4, ops.cast(y_pred["deltas"], "float32"), 1.0)
    true_deltas = ops.where(fg4, ops.cast(y_true["deltas"], "float32"), 1.0)
    giou = giou_loss(_ltrb_boxes(pred_deltas), _ltrb_boxes(true_deltas))  # [B, L]
    box_loss = ops.sum(ops.where(foreground, giou, 0.0)) / num_fg

    true_ctr = ops.where(foreground, ops.cast(y_true["centerness"], "float32"), 0.0)
    bce = centerness_loss(y_pred["centerness"], true_ctr)  # [B, L]
    ctr_loss = ops.sum(ops.where(foreground, bce, 0.0)) / num_fg

    total = w_cls * class_loss + w_box * box_loss + w_ctr * ctr_loss
    return {
        "loss": total,
        "class_loss": class_loss,
        "box_loss": box_loss,
        "centerness_loss": ctr_loss,
    }
