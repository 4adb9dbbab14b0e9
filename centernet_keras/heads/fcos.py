"""The FCOS head: one small network shared by every pyramid level, outputs flat over locations.

The head is a functional sub-model (``fcos_head``, named ``"fcos_head"``) applied to each level
(``fcos_head_outputs``), so P3, P4 and P5 run through the same weights, as in FCOS and
torchvision. Per level:

- classification stem: ``len(stem_channels)`` × [3×3 conv → GroupNorm (optional) → ReLU], then
  a 3×3 conv to the class logits (bias ``−log((1 − 0.01) / 0.01)``: prior probability 0.01);
- box stem: the same layout with its own weights, then a 3×3 conv to the box deltas
  ``(l, t, r, b)`` in units of the level's stride, through a **ReLU** (non-negative; FCOS-imprv's
  ``norm_reg_targets`` and torchvision's choice for stride-normalised targets, which
  ``encode_fcos_targets`` gives), and a 3×3 conv to the centerness logit.

``fcos_loss`` reads these deltas as they are (GIoU of ``(−l, −t, r, b)`` boxes) and
``decode_fcos`` multiplies them by the stride; both treat them as non-negative stride units.

There is no BatchNorm in the head: a BN shared by levels of different statistics would learn
moving averages that fit none of them (FCOS uses GroupNorm for that reason). Convs are
initialised as torchvision's: normal(0, 0.01) weights, zero biases (except the class prior).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import keras
from keras import layers

PRIOR_PROBABILITY = 0.01
#: ``−log((1 − π) / π)`` for ``π = 0.01``: every class starts at probability 0.01.
CLASS_BIAS = -math.log((1.0 - PRIOR_PROBABILITY) / PRIOR_PROBABILITY)
#: GroupNorm's groups (FCOS, torchvision), fewer when a stem is narrower or not divisible.
GROUPS = 32


def _init() -> keras.initializers.Initializer:
    """FCOS's conv init, normal(0, 0.01): a new one per layer (one shared instance has one seed,
    drawn when made, and gives same-shaped kernels the same values)."""
    return keras.initializers.RandomNormal(stddev=0.01)


def _stem(x, channels: Sequence[int], group_norm: bool, name: str):
    """``[B, h, w, F]`` → ``[B, h, w, channels[-1]]`` by 3×3 conv [→ GroupNorm] → ReLU blocks."""
    for i, width in enumerate(channels):
        x = layers.Conv2D(
            int(width), 3, padding="same", kernel_initializer=_init(), name=f"{name}{i}_conv"
        )(x)
        if group_norm:
            groups = math.gcd(int(width), GROUPS)
            x = layers.GroupNormalization(groups, epsilon=1e-5, name=f"{name}{i}_gn")(x)
        x = layers.ReLU(name=f"{name}{i}_relu")(x)
    return x


def fcos_head(
    num_classes: int,
    in_channels: int,
    stem_channels: Sequence[int] = (64, 64),
    group_norm: bool = True,
    name: str = "fcos_head",
) -> keras.Model:
    """The head of one level as a model, to be applied to every level.

    Args:
        num_classes: class logits per location.
        in_channels: channels of the pyramid levels (the FPN's ``channels``).
        stem_channels: widths of the 3×3 convs of each stem (``()``: predictors on the level
            itself).
        group_norm: GroupNorm after each stem conv (``gcd(width, 32)`` groups).
        name: the model's name.

    Returns:
        A model ``[B, h, w, in_channels]`` (any ``h``, ``w``) → ``{"classes" [B, h, w, C]
        logits, "deltas" [B, h, w, 4] (l, t, r, b ≥ 0, stride units), "centerness"
        [B, h, w, 1] logits}``, the predictors in float32 (exact under mixed precision).
    """
    if int(num_classes) < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    if any(int(c) < 1 for c in stem_channels):
        raise ValueError(f"stem_channels must be positive, got {tuple(stem_channels)}")
    features = keras.Input((None, None, int(in_channels)), name="level")

    def predictor(x, filters: int, layer_name: str, bias="zeros"):
        return layers.Conv2D(
            filters, 3, padding="same", kernel_initializer=_init(), bias_initializer=bias,
            dtype="float32", name=layer_name,
        )(x)  # fmt: skip

    cls = _stem(features, stem_channels, group_norm, "cls_stem")
    box = _stem(features, stem_channels, group_norm, "box_stem")
    outputs = {
        "classes": predictor(cls, num_classes, "classes", keras.initializers.Constant(CLASS_BIAS)),
        "deltas": layers.ReLU(dtype="float32", name="deltas")(predictor(box, 4, "deltas_conv")),
        "centerness": predictor(box, 1, "centerness"),
    }
    return keras.Model(features, outputs, name=name)


def fcos_head_outputs(levels: Mapping, head: keras.Model) -> dict:
    """Apply the shared ``head`` to each level and flatten over the locations.

    Args:
        levels: the pyramid's maps ``{"P3": [B, H_3, W_3, F], …}`` (Keras tensors), in the
            location order (P3, P4, P5).
        head: ``fcos_head``'s model (one set of weights for every level).

    Returns:
        ``{"classes" [B, L, C] logits, "deltas" [B, L, 4], "centerness" [B, L] logits}`` with
        ``L = Σ H_l · W_l``, levels concatenated, row-major inside each (the order of
        ``centernet_keras.locations`` and ``encode_fcos_targets``); float32.
    """
    per_level = {level: head(x) for level, x in levels.items()}
    outputs = {}
    for key in ("classes", "deltas", "centerness"):
        flat = [
            layers.Reshape(
                (-1,) if key == "centerness" else (-1, out[key].shape[-1]),
                dtype="float32",
                name=f"{key}_{level}",
            )(out[key])
            for level, out in per_level.items()
        ]
        outputs[key] = layers.Concatenate(axis=1, dtype="float32", name=key)(flat)
    return outputs
