"""RegNetX-400MF (torchvision ``regnet_x_400mf``): raw RGB in, the pyramid ``{"P2": …, "P5": …}``
out — FCOS's backbone (C3, C4, C5 = P3, P4, P5 at strides 8, 16, 32).

The torchvision layout exactly: stem 3×3 stride-2 conv (32) + BN + ReLU; four stages of depths
``(1, 2, 7, 12)`` and widths ``(32, 64, 160, 400)``, group width 16, bottleneck multiplier 1, no
SE. A block is 1×1 → grouped 3×3 (stride 2 in a stage's first block) → 1×1, each conv bias-free
with BN, ReLU after the first two; the residual (a 1×1 projection + BN in a stage's first block,
which changes the stride) is added before the block's ReLU. BN eps 1e-5, momentum 0.9 (torch's
0.1). A strided 3×3 conv pads explicitly (``ZeroPadding2D(1)`` + ``"valid"``) like torch's
``padding=1``; Keras ``"same"`` would pad only after on even sizes. Convs start from torchvision's
init (normal, std ``sqrt(2 / fan_out)``); torch (ImageNet mean / std) preprocessing is inside.

**Layer names** are the torchvision module paths with ``.`` and ``-`` replaced by ``_``
(``layer_name``): the conv of ``state_dict`` key ``stem.0.weight`` is layer ``stem_0``, and
``trunk_output.block2.block2-0.f.b.1.running_mean`` lives in BN layer
``trunk_output_block2_block2_0_f_b_1``. Modules without weights follow the same rule
(``stem.2`` ReLU → ``stem_2``; a block's ``activation`` → ``…_activation``); the residual sum
is ``…_add`` and a strided conv's padding ``<conv>_pad``. ``torchvision_modules()`` lists the
weighted modules in ``state_dict`` order; ``load_torchvision_weights`` loads a torchvision
``state_dict`` (its ``fc`` classifier is not part of the backbone and is skipped).

**Weights:** there are no Keras ImageNet weights; torchvision's are loaded with
``load_torchvision_weights`` (see ``IMAGENET_HELP``).
"""

from __future__ import annotations

from collections.abc import Mapping

import keras
from keras import layers

from centernet_keras.backbones.preprocessing import ImagePreprocessing
from centernet_keras.backbones.torch_weights import load_torch_state_dict
from centernet_keras.backbones.weights import load_local_weights, mark_pretrained
from centernet_keras.layers.conv_bn import batch_norm
from centernet_keras.layers.grouped_conv import GroupedConv2D

STEM_WIDTH = 32
DEPTHS = (1, 2, 7, 12)
WIDTHS = (32, 64, 160, 400)
GROUP_WIDTH = 16
#: torchvision's ImageNet checkpoints of ``regnet_x_400mf`` (``RegNet_X_400MF_Weights``).
TORCHVISION_URLS = {
    "IMAGENET1K_V1": "https://download.pytorch.org/models/regnet_x_400mf-adf1edd5.pth",
    "IMAGENET1K_V2": "https://download.pytorch.org/models/regnet_x_400mf-62229a5f.pth",
}
IMAGENET_HELP = (
    "There are no Keras ImageNet weights for RegNetX-400MF: its ImageNet weights are "
    "torchvision's. Where torch is installed, get the state_dict of regnet_x_400mf "
    "(torchvision.models.regnet_x_400mf(weights='IMAGENET1K_V1').state_dict(), or "
    f"torch.load of {TORCHVISION_URLS['IMAGENET1K_V1']}; IMAGENET1K_V2 is "
    f"{TORCHVISION_URLS['IMAGENET1K_V2']}), then load it into a built backbone: "
    "load_torchvision_weights(backbone, {k: v.numpy() for k, v in state_dict.items()}). "
    "Pass that backbone to the detector, or save it with "
    "backbone.save_weights('regnetx_400mf.weights.h5') and pass "
    "weights='regnetx_400mf.weights.h5' (--weights regnetx_400mf.weights.h5). Use "
    "weights=None (--weights none) to train from scratch."
)


def _conv_init() -> keras.initializers.Initializer:
    """torchvision's conv init: normal with std sqrt(2 / fan_out), fan_out = kh·kw·out.

    A new initializer per layer: one shared instance carries one seed, drawn when it is made
    (at import, before ``keras.utils.set_random_seed``), and gives every same-shaped kernel the
    same values.
    """
    return keras.initializers.VarianceScaling(2.0, "fan_out", "untruncated_normal")


def layer_name(module_path: str) -> str:
    """Keras layer name of a torchvision module path (``"stem.0"`` → ``"stem_0"``)."""
    return module_path.replace(".", "_").replace("-", "_")


def _block_path(stage: int, index: int) -> str:
    """torchvision path of block ``index`` (0-based) of stage ``stage`` (1-based)."""
    return f"trunk_output.block{stage}.block{stage}-{index}"


def torchvision_modules() -> dict[str, str]:
    """torchvision module path → Keras layer name of every weighted module (state_dict order)."""
    paths = ["stem.0", "stem.1"]
    for stage, depth in enumerate(DEPTHS, start=1):
        for index in range(depth):
            block = _block_path(stage, index)
            if index == 0:
                paths += [f"{block}.proj.0", f"{block}.proj.1"]
            paths += [f"{block}.f.{part}.{i}" for part in "abc" for i in (0, 1)]
    return {path: layer_name(path) for path in paths}


def _conv_bn(x, filters: int, kernel: int, stride: int, path: str, groups: int = 1, relu=True):
    """torchvision ``Conv2dNormActivation`` at ``path``: conv ``.0`` → BN ``.1`` [→ ReLU ``.2``].

    Args:
        x: ``[B, H, W, C_in]`` Keras tensor.
        filters, kernel, stride, groups: of the bias-free conv (torch padding ``kernel // 2``).
        path: the torchvision module path.
        relu: apply the ReLU.

    Returns:
        ``[B, ceil(H / stride), ceil(W / stride), filters]``.
    """
    conv = layer_name(f"{path}.0")
    padding = "same" if kernel > 1 and stride == 1 else "valid"  # "same": symmetric at stride 1
    if kernel > 1 and stride > 1:
        x = layers.ZeroPadding2D(kernel // 2, name=f"{conv}_pad")(x)
    conv_class = GroupedConv2D if groups > 1 else layers.Conv2D  # exportable to ONNX
    x = conv_class(
        filters,
        kernel,
        strides=stride,
        padding=padding,
        groups=groups,
        use_bias=False,
        kernel_initializer=_conv_init(),
        name=conv,
    )(x)
    x = batch_norm(x, layer_name(f"{path}.1"))
    return layers.ReLU(name=layer_name(f"{path}.2"))(x) if relu else x


def _block(x, width: int, stride: int, path: str):
    """``ResBottleneckBlock``: ``[B, H, W, C_in]`` → ``[B, H/stride, W/stride, width]``."""
    shortcut = x
    if x.shape[-1] != width or stride != 1:
        shortcut = _conv_bn(x, width, 1, stride, f"{path}.proj", relu=False)
    y = _conv_bn(x, width, 1, 1, f"{path}.f.a")
    y = _conv_bn(y, width, 3, stride, f"{path}.f.b", groups=width // GROUP_WIDTH)
    y = _conv_bn(y, width, 1, 1, f"{path}.f.c", relu=False)
    y = layers.Add(name=layer_name(f"{path}.add"))([shortcut, y])
    return layers.ReLU(name=layer_name(f"{path}.activation"))(y)


def regnetx_400mf(
    input_shape: tuple[int | None, int | None, int] = (None, None, 3),
    weights: str | None = None,
) -> keras.Model:
    """RegNetX-400MF (torchvision layout) with torch preprocessing inside.

    Args:
        input_shape: ``(H, W, 3)``; ``None`` dims allowed.
        weights: ``None`` (random init) or a local weights file saved from this backbone (e.g.
            after ``load_torchvision_weights``). ``"imagenet"`` raises ValueError with the
            steps to load torchvision's ImageNet weights.

    Returns:
        A model mapping raw RGB ``[B, H, W, 3]`` (0–255) to the pyramid ``{"P2": [B, H/4, W/4,
        32], "P3": [B, H/8, W/8, 64], "P4": [B, H/16, W/16, 160], "P5": [B, H/32, W/32,
        400]}`` (the output of each stage; sizes rounded up). The stride-2 stem output is layer
        ``stem_2``. ``pretrained_layers`` names the layers a weights file filled (``()`` for
        random init).

    Raises:
        ValueError: ``weights="imagenet"``, or a weights file that does not fit.
        FileNotFoundError: the weights file does not exist.
    """
    if weights == "imagenet":
        raise ValueError(IMAGENET_HELP)
    inputs = keras.Input(shape=input_shape, name="image")
    x = ImagePreprocessing("torch", name="preprocess")(inputs)
    x = _conv_bn(x, STEM_WIDTH, 3, 2, "stem")
    pyramid = {}
    for stage, (depth, width) in enumerate(zip(DEPTHS, WIDTHS, strict=True), start=1):
        for index in range(depth):
            x = _block(x, width, 2 if index == 0 else 1, _block_path(stage, index))
        pyramid[f"P{stage + 1}"] = x
    model = keras.Model(inputs, pyramid, name="regnetx_400mf")
    if weights is not None:
        load_local_weights(model, weights)
    return mark_pretrained(model, model if weights is not None else None)


def load_torchvision_weights(model: keras.Model, state_dict: Mapping[str, object]) -> keras.Model:
    """Load a torchvision ``regnet_x_400mf`` ``state_dict`` into a ``regnetx_400mf`` backbone.

    Every weight of ``model`` is set exactly once (conv ``[out, in/groups, kh, kw]`` → kernel
    ``[kh, kw, in/groups, out]``; BN ``weight, bias, running_mean, running_var`` → ``gamma,
    beta, moving_mean, moving_variance``). ``num_batches_tracked`` and the classifier ``fc.*``
    are ignored. Nothing is assigned unless the whole ``state_dict`` fits.

    Args:
        model: a backbone built by ``regnetx_400mf`` (any input shape).
        state_dict: torchvision key → array in torch layout (NumPy, or CPU torch tensors).

    Returns:
        ``model``, its ``pretrained_layers`` now every loaded layer (so a detector's freeze
        phase freezes them).

    Raises:
        ValueError: a missing key, an unexpected key (other than ``fc.*``), or an array of the
            wrong shape; the message names the key.
    """
    names = load_torch_state_dict(model, state_dict, torchvision_modules(), ("fc.",))
    model.pretrained_layers = names
    return model
