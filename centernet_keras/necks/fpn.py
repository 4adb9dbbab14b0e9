"""Feature Pyramid Network (Lin et al.) over C3–C5: the FCOS neck, P3–P5 at strides 8, 16, 32.

torchvision's ``FeaturePyramidNetwork`` without extra levels: a 1×1 lateral conv brings each
backbone level to ``channels``; from the top, each coarser merged map is upsampled 2× (nearest)
and added to the next lateral; a 3×3 conv smooths every merged map. Convs have biases and no
normalisation (as torchvision's FPN), so one BN-free pyramid feeds the shared FCOS head.

Unlike the other necks (one stride-4 map) this one returns a pyramid: a dict of Keras tensors
keyed ``"P3"``, ``"P4"``, ``"P5"`` (``FPN_LEVELS``).
"""

from __future__ import annotations

from collections.abc import Mapping

import keras
from keras import layers

#: The levels the FPN reads from the backbone and returns, fine to coarse (stride ``2**l``).
FPN_LEVELS = ("P3", "P4", "P5")


def fpn_neck(pyramid: Mapping, channels: int = 64, name: str = "fpn") -> dict:
    """Build the FPN on a backbone's pyramid.

    Args:
        pyramid: the backbone's levels; ``"P3"`` ``[B, H/8, W/8, C3]``, ``"P4"``
            ``[B, H/16, W/16, C4]`` and ``"P5"`` ``[B, H/32, W/32, C5]`` are used (H and W
            multiples of 32, so each level is exactly twice the next).
        channels: width of every lateral and output conv (``fpn_channels``).
        name: layer-name prefix (``fpn_lateral3``, ``fpn_output3``, ``fpn_up4``, ``fpn_merge3``…).

    Returns:
        ``{"P3": [B, H/8, W/8, channels], "P4": [B, H/16, W/16, channels],
        "P5": [B, H/32, W/32, channels]}``.

    Raises:
        ValueError: ``channels`` < 1, or the pyramid lacks one of the levels.
    """
    if int(channels) < 1:
        raise ValueError(f"the FPN needs channels >= 1, got {channels}")
    missing = [level for level in FPN_LEVELS if level not in pyramid]
    if missing:
        raise ValueError(
            f"the FPN reads {list(FPN_LEVELS)} of the backbone's pyramid; it has no {missing} "
            f"(a backbone with a single stride-32 output cannot feed an FPN)"
        )
    # torchvision's kaiming_uniform_(a=1); a new initializer per layer (a shared one has one
    # seed, drawn when made, and gives same-shaped kernels the same values)
    init = keras.initializers.LecunUniform
    merged = None
    outputs = {}
    for level in reversed(FPN_LEVELS):  # P5, P4, P3
        n = level[1:]
        x = layers.Conv2D(int(channels), 1, kernel_initializer=init(), name=f"{name}_lateral{n}")(
            pyramid[level]
        )
        if merged is not None:
            up = layers.UpSampling2D(2, interpolation="nearest", name=f"{name}_up{int(n) + 1}")
            x = layers.Add(name=f"{name}_merge{n}")([x, up(merged)])
        merged = x
        outputs[level] = layers.Conv2D(
            int(channels), 3, padding="same", kernel_initializer=init(), name=f"{name}_output{n}"
        )(x)
    return {level: outputs[level] for level in FPN_LEVELS}
