"""Necks: a backbone's feature pyramid → the map(s) a detector's heads read.

Each neck is a function ``neck(pyramid, **options)`` over the Keras tensors of a backbone's
``{"P2": …, "P5": …}`` (built inside the detector's graph, so its layers are the detector's, not
the backbone's). ``NECKS`` names them for ``build_neck`` and the detectors' ``neck=`` option.

A neck returns either **one map** (a Keras tensor: ``deconv``, ``skip``, ``dla_up*``, the
stride-4 map CenterNet's heads read) or **a pyramid** (a dict of Keras tensors keyed by level,
``{"P3": …, "P5": …}``: ``fpn``, which FCOS's shared head reads level by level).
``models.features.neck_output`` and ``neck_pyramid`` apply a neck and check which of the two
it gave, and the strides.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from centernet_keras.necks.deconv import deconv_neck
from centernet_keras.necks.dla_up import dla_up_neck
from centernet_keras.necks.fpn import FPN_LEVELS, fpn_neck
from centernet_keras.necks.skip import skip_neck

#: name → function ``(pyramid, **options) -> Keras tensor | dict`` (``filters=`` for deconv /
#: skip, ``channels=`` for fpn).
NECKS: dict[str, Callable] = {
    "deconv": deconv_neck,  # P5 → three 2x transposed convs → stride 4 (the Keras ports')
    "skip": skip_neck,  # P5 up to stride 4 with lateral skips from P4, P3, P2 (FPN-lite)
    "dla_up": lambda pyramid, **kw: dla_up_neck(pyramid, "dcn", **kw),  # CenterNet's dla_34
    "dla_up_plain": lambda pyramid, **kw: dla_up_neck(pyramid, "plain", **kw),  # dlav0_34
    "fpn": fpn_neck,  # P5–P3 top-down with 1x1 laterals → {"P3", "P4", "P5"} (FCOS)
}
#: The necks of ``NECKS`` that return a pyramid (a dict of levels); the others return one map.
PYRAMID_NECKS = frozenset({"fpn"})


def build_neck(name: str, pyramid: Mapping, **options):
    """Apply the neck ``name`` to a backbone's ``pyramid`` (Keras tensors).

    Returns:
        One map (a Keras tensor) or a pyramid (a dict of Keras tensors by level), per neck.

    Raises:
        ValueError: unknown neck name (the message lists the known ones).
    """
    if name not in NECKS:
        raise ValueError(f"Unknown neck {name!r}; choose one of {sorted(NECKS)}")
    return NECKS[name](pyramid, **options)


__all__ = [
    "FPN_LEVELS",
    "NECKS",
    "PYRAMID_NECKS",
    "build_neck",
    "deconv_neck",
    "dla_up_neck",
    "fpn_neck",
    "skip_neck",
]
