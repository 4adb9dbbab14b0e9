"""DLA-34 (Deep Layer Aggregation): the base network and the backbone (levels 2–5 as a pyramid).

DLASeg (CenterNet's ``dla_34`` / ``dlav0_34``) is this backbone + ``necks.dla_up``.

``dla34_base`` is the reference ``dlav0.dla34`` without its classifier: levels
``[1, 1, 1, 2, 2, 1]``, channels ``[16, 32, 64, 128, 256, 512]``, ``Tree`` / ``Root`` /
``BasicBlock`` hierarchical aggregation, max-pool downsampling with a 1×1 conv + BN projection.
BN eps 1e-5, momentum 0.9 (torch's 0.1); explicit zero padding where Keras' "same" would pad
differently from torch (stride 2).

Layer names are the reference module paths with ``.`` replaced by ``_`` (``level3.tree1.
tree1.conv1`` → ``level3_tree1_tree1_conv1``; ``base_layer.0`` / ``.1`` → ``base_layer_0`` /
``base_layer_1``), so a torch ``state_dict`` maps onto the layers mechanically: conv
``weight [O, I, kh, kw]`` → ``kernel`` transposed ``(2, 3, 1, 0)``; BN ``weight, bias,
running_mean, running_var`` → ``gamma, beta, moving_mean, moving_variance``.

A ``Tree`` with ``levels > 1`` that changes width computes a ``project`` (1×1 conv + BN) whose
output its ``tree1`` ignores (it recomputes its own): 41,728 parameters (``level3.project``,
``level4.project``) that never affect an output. They are kept, joined to the graph by a
``PassThrough`` layer, so the parameter count and the ``state_dict`` keys equal the reference's
exactly (and their BN statistics update as there); a traced graph prunes the computation.
"""

from __future__ import annotations

import warnings

import keras
from keras import layers

from centernet_keras.backbones.preprocessing import ImagePreprocessing
from centernet_keras.backbones.weights import load_local_weights, mark_pretrained
from centernet_keras.layers.conv_bn import batch_norm, conv_bn
from centernet_keras.layers.passthrough import PassThrough

# The discarded projections get no gradient (torch's optimizers skip them silently); silence
# Keras's warning about exactly those variables, and only when they are the whole list.
warnings.filterwarnings(
    "ignore",
    message=r"Gradients do not exist for variables \[('level[34]_project_[01]/\w+'(, )?)+\]",
    category=UserWarning,
)
DLA34_LEVELS = (1, 1, 1, 2, 2, 1)
DLA34_CHANNELS = (16, 32, 64, 128, 256, 512)


def _conv(x, filters: int, kernel: int, stride: int, name: str):
    """Bias-free conv with torch padding ``kernel // 2``."""
    return conv_bn(x, filters, kernel, stride, conv=name, bn=None)


_bn = batch_norm


def _conv_level(x, filters: int, convs: int, stride: int, name: str):
    """``_make_conv_level``: ``convs`` × (3×3 conv → BN → ReLU), the first with ``stride``."""
    for i in range(convs):
        x = _conv(x, filters, 3, stride if i == 0 else 1, f"{name}_{3 * i}")
        x = _bn(x, f"{name}_{3 * i + 1}")
        x = layers.ReLU(name=f"{name}_{3 * i + 2}")(x)
    return x


def _basic_block(x, filters: int, stride: int, name: str, residual=None):
    """``BasicBlock``: conv3×3(stride) → BN → ReLU → conv3×3 → BN, + residual, ReLU."""
    residual = x if residual is None else residual
    y = _conv(x, filters, 3, stride, f"{name}_conv1")
    y = layers.ReLU(name=f"{name}_relu1")(_bn(y, f"{name}_bn1"))
    y = _bn(_conv(y, filters, 3, 1, f"{name}_conv2"), f"{name}_bn2")
    y = layers.Add(name=f"{name}_add")([y, residual])
    return layers.ReLU(name=f"{name}_relu2")(y)


def _root(children: list, filters: int, name: str):
    """``Root``: 1×1 conv over the channel concatenation → BN → ReLU (no residual in DLA-34)."""
    x = layers.Concatenate(name=f"{name}_cat")(children)
    x = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_conv")(x)
    return layers.ReLU(name=f"{name}_relu")(_bn(x, f"{name}_bn"))


def _tree(x, levels: int, filters: int, stride: int, name: str, level_root=False, children=None):
    """``Tree``: two sub-trees (or blocks) whose outputs, plus ``children``, meet in a Root.

    Args:
        x: ``[B, H, W, C_in]``.
        levels: depth; 1 = two ``BasicBlock`` s and a ``Root``.
        filters: output channels.
        stride: 1 or 2 (applied by the first block; the shortcut is max-pooled).
        name: the reference module path, ``_``-joined.
        level_root: the (downsampled) input joins the root aggregation.
        children: earlier outputs that join the root (filled by the parent tree).

    Returns:
        ``[B, H/stride, W/stride, filters]``.
    """
    children = [] if children is None else children
    needs_bottom = levels == 1 or level_root
    bottom = x
    if stride > 1 and needs_bottom:
        bottom = layers.MaxPooling2D(stride, strides=stride, name=f"{name}_downsample")(x)
    if level_root:
        children.append(bottom)
    if levels == 1:
        residual = bottom
        if x.shape[-1] != filters:
            residual = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_project_0")(bottom)
            residual = _bn(residual, f"{name}_project_1")
        x1 = _basic_block(x, filters, stride, f"{name}_tree1", residual)
        x2 = _basic_block(x1, filters, 1, f"{name}_tree2")
        return _root([x2, x1, *children], filters, f"{name}_root")
    x1 = _tree(x, levels - 1, filters, stride, f"{name}_tree1")
    if x.shape[-1] != filters:  # the reference's discarded `project` (see the module docstring)
        if bottom is x and stride > 1:
            bottom = layers.MaxPooling2D(stride, strides=stride, name=f"{name}_downsample")(x)
        unused = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_project_0")(bottom)
        unused = _bn(unused, f"{name}_project_1")
        x1 = PassThrough(name=f"{name}_project_unused")([x1, unused])
    children.append(x1)
    return _tree(x1, levels - 1, filters, 1, f"{name}_tree2", children=children)


def dla34_base(
    input_shape: tuple[int | None, int | None, int] = (512, 512, 3),
    weights: str | None = None,
    name: str = "dla34_base",
) -> keras.Model:
    """DLA-34 base (``dlav0.dla34`` without ``avgpool`` / ``fc``), torch preprocessing inside.

    Args:
        input_shape: ``(H, W, 3)``, H and W multiples of 32; ``None`` dims allowed.
        weights: ``None`` or a local weights file saved from this model.
        name: model name.

    Returns:
        A model mapping raw RGB ``[B, H, W, 3]`` (0–255) to the six level features
        ``[B, H/s, W/s, C]`` for strides ``s = 1, 2, 4, 8, 16, 32`` and channels
        ``C = 16, 32, 64, 128, 256, 512``.
    """
    inputs = keras.Input(shape=input_shape, name="image")
    x = ImagePreprocessing("torch", name="preprocess")(inputs)
    c = DLA34_CHANNELS
    x = layers.Conv2D(c[0], 7, padding="same", use_bias=False, name="base_layer_0")(x)
    x = layers.ReLU(name="base_layer_2")(_bn(x, "base_layer_1"))
    outputs = [_conv_level(x, c[0], DLA34_LEVELS[0], 1, "level0")]
    outputs.append(_conv_level(outputs[-1], c[1], DLA34_LEVELS[1], 2, "level1"))
    for level in range(2, 6):
        outputs.append(
            _tree(outputs[-1], DLA34_LEVELS[level], c[level], 2, f"level{level}", level > 2)
        )
    model = keras.Model(inputs, outputs, name=name)
    if weights is not None:
        load_local_weights(model, weights)
    return model


def dla34_backbone(
    input_shape: tuple[int | None, int | None, int] = (512, 512, 3),
    weights: str | None = None,
) -> keras.Model:
    """DLA-34 backbone: the base's levels 2–5 as a feature pyramid (DLASeg's input).

    Args:
        input_shape: ``(H, W, 3)``, H and W multiples of 32; ``None`` dims allowed.
        weights: ``None`` or a local weights file saved from this backbone (there are no
            Keras ImageNet DLA weights; ``"imagenet"`` raises ValueError).

    Returns:
        A model mapping raw RGB ``[B, H, W, 3]`` (0–255) to ``{"P2": [B, H/4, W/4, 64],
        "P3": …128, "P4": …256, "P5": [B, H/32, W/32, 512]}``; the base is the nested model
        ``get_layer("dla34_base")``.
    """
    if weights == "imagenet":
        raise ValueError(
            "There are no Keras ImageNet weights for DLA-34. Pass weights=None (--weights "
            "none), or a local weights file saved from this backbone (--weights FILE; e.g. "
            "converted from the reference)."
        )
    inputs = keras.Input(shape=input_shape, name="image")
    levels = dla34_base(input_shape)(inputs)
    pyramid = {f"P{level}": levels[level] for level in range(2, 6)}
    model = keras.Model(inputs, pyramid, name="dla34")
    if weights is not None:
        load_local_weights(model, weights)
    return mark_pretrained(model, model if weights is not None else None)
