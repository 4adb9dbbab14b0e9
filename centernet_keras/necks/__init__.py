"""Necks: a backbone's feature pyramid → the map(s) a detector's heads read.

Each neck is a function ``neck(pyramid, **options)`` over the Keras tensors of a backbone's
``{"P2": …, "P5": …}`` (built inside the detector's graph, so its layers are the detector's, not
the backbone's). ``NECKS`` names them for ``build_neck`` and the detectors' ``neck=`` option.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from centernet_keras.necks.deconv import deconv_neck
from centernet_keras.necks.dla_up import dla_up_neck
from centernet_keras.necks.skip import skip_neck

#: name → function ``(pyramid, **options) -> Keras tensor`` (``filters=`` for deconv / skip).
NECKS: dict[str, Callable] = {
    "deconv": deconv_neck,  # P5 → three 2x transposed convs → stride 4 (the Keras ports')
    "skip": skip_neck,  # P5 up to stride 4 with lateral skips from P4, P3, P2 (FPN-lite)
    "dla_up": lambda pyramid, **kw: dla_up_neck(pyramid, "dcn", **kw),  # CenterNet's dla_34
    "dla_up_plain": lambda pyramid, **kw: dla_up_neck(pyramid, "plain", **kw),  # dlav0_34
}


def build_neck(name: str, pyramid: Mapping, **options):
    """Apply the neck ``name`` to a backbone's ``pyramid`` (Keras tensors).

    Raises:
        ValueError: unknown neck name (the message lists the known ones).
    """
    if name not in NECKS:
        raise ValueError(f"Unknown neck {name!r}; choose one of {sorted(NECKS)}")
    return NECKS[name](pyramid, **options)


__all__ = ["NECKS", "build_neck", "deconv_neck", "dla_up_neck", "skip_neck"]
