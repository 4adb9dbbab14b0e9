"""Backbone + neck by name: the feature extractor every detector starts from.

Backbones (``centernet_keras.backbones``) give a pyramid, necks (``centernet_keras.necks``)
turn it into what the heads read; this module pairs them. Names of earlier versions that meant a
backbone with a neck built in (``resnet18_fpn``, ``mobilenetv3_*_fpn``, ``dla34_plain``) stay
accepted as aliases of a (backbone, neck) pair, so saved training configs keep working.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import keras

from centernet_keras.backbones import build_backbone
from centernet_keras.choices import BACKBONE_ALIASES  # former backbone names → (backbone, neck)
from centernet_keras.necks import NECKS, PYRAMID_NECKS, build_neck, deconv_neck

#: The neck of a non-DLA backbone given without one (else ``"deconv"``): the skip neck's lateral
#: P4–P2 inputs suit the light RegNet better than three wide transposed convs on its P5.
_DEFAULT_NECKS = {"regnetx_400mf": "skip"}
#: ``filters`` of the upsampling necks when none are given (skip: per backbone width).
_NECK_FILTERS = {"deconv": (256, 128, 64), "skip": (96, 64, 64), "resnet18/skip": (128, 64, 64)}


def resolve(backbone: str, neck: str | None = None) -> tuple[str, str]:
    """``(backbone, neck)`` names for a backbone name (alias or not) and an optional neck.

    Without ``neck``: the alias's neck, ``"dla_up"`` for ``dla34``, ``"skip"`` for
    ``regnetx_400mf``, else ``"deconv"``.

    Raises:
        ValueError: an alias given together with a different neck, or an unknown neck.
    """
    if backbone in BACKBONE_ALIASES:
        base, implied = BACKBONE_ALIASES[backbone]
        if neck not in (None, implied):
            raise ValueError(
                f"backbone {backbone!r} is the former name of backbone={base!r} with "
                f"neck={implied!r}; pass backbone={base!r}, neck={neck!r} instead"
            )
        return base, implied
    if neck is None:
        neck = "dla_up" if backbone.startswith("dla") else _DEFAULT_NECKS.get(backbone, "deconv")
    if neck not in NECKS:
        raise ValueError(f"Unknown neck {neck!r}; choose one of {sorted(NECKS)}")
    return backbone, neck


def default_neck_filters(backbone: str, neck: str) -> tuple[int, ...]:
    """The ``filters`` of an upsampling neck by default (``()`` for the DLA necks)."""
    return _NECK_FILTERS.get(f"{backbone}/{neck}", _NECK_FILTERS.get(neck, ()))


def neck_options(neck: str, filters: Sequence[int]) -> dict:
    """Keyword options of ``build_neck(neck, …)`` for a detector's ``neck_filters``."""
    if neck in ("deconv", "skip"):
        return {"filters": tuple(filters)}
    if filters:
        raise ValueError(f"neck {neck!r} has fixed widths; pass neck_filters=() (got {filters})")
    return {}


def feature_model(
    backbone: str,
    neck: str | None = None,
    input_shape: tuple[int | None, int | None, int] = (512, 512, 3),
    weights: str | None = None,
    neck_filters: Sequence[int] | None = None,
) -> keras.Model:
    """Backbone + neck as one model: raw RGB ``[B, H, W, 3]`` → the neck's output.

    E.g. ``feature_model("dla34", "dla_up_plain")`` is the reference ``dlav0`` DLASeg without
    heads: ``[B, H/4, W/4, 64]``.
    """
    backbone, neck = resolve(backbone, neck)
    filters = default_neck_filters(backbone, neck) if neck_filters is None else neck_filters
    base = build_backbone(backbone, input_shape, weights)  # its layers become this model's
    out = build_neck(neck, base.output, **neck_options(neck, filters))
    return keras.Model(base.input, out, name=f"{backbone}_{neck}")


def backbone_and_neck(
    backbone: str | keras.Model,
    neck: str | None,
    input_shape: tuple[int | None, int | None, int],
    weights: str | None,
    kwargs: dict,
) -> tuple[keras.Model, str]:
    """The built backbone and the neck name of a detector builder's arguments.

    A name (or alias) is resolved and built; ``kwargs`` (the detector's other arguments) get the
    neck's default ``neck_filters`` and, for the DLA necks, the reference's ``head_channels``
    256 unless given. A ready model keeps its neck (default ``"deconv"``).
    """
    if not isinstance(backbone, str):
        return backbone, neck or "deconv"
    name, neck = resolve(backbone, neck)
    if kwargs.get("neck_filters") is None:
        kwargs["neck_filters"] = default_neck_filters(name, neck)
    if neck.startswith("dla_up"):
        kwargs.setdefault("head_channels", 256)
    return build_backbone(name, input_shape, weights), neck


def neck_output(backbone: keras.Model, inputs, neck: str | None, neck_filters, stride: int):
    """Apply ``backbone`` and a one-map neck to ``inputs``; the map the heads read.

    ``neck=None``: the backbone's single output, through ``deconv`` if ``neck_filters`` are given
    (models saved before necks had names). A single-output backbone with a named neck is read as
    ``{"P5": output}``.

    Raises:
        ValueError: the neck gives a pyramid (``fpn``), or the result's stride is not ``stride``
            (checked on a probe of the static input shape, a multiple-of-32 square when dynamic).
    """
    features = backbone(inputs)
    if neck is None:
        x = deconv_neck({"P5": features}, neck_filters) if neck_filters else features
    else:
        pyramid = features if isinstance(features, dict) else {"P5": features}
        x = build_neck(neck, pyramid, **neck_options(neck, neck_filters))
    if isinstance(x, dict) and neck is not None:
        raise ValueError(
            f"the neck {neck!r} gives a pyramid {sorted(x)}, not the one stride-{stride} map "
            f"this detector's heads read; choose one of {sorted(set(NECKS) - PYRAMID_NECKS)}"
        )
    found = () if isinstance(x, dict) else _probe_strides(inputs, {"map": x})["map"]
    if found == ():
        raise ValueError("the backbone must have a single output (a feature map)")
    if found != stride:
        raise ValueError(
            f"the neck's output has stride {found}, not the output stride {stride}: use 3 "
            f"neck_filters for the deconv / skip necks of a stride-32 backbone, and none for a "
            f"stride-4 backbone"
        )
    return x


def neck_pyramid(
    backbone: keras.Model, inputs, neck: str, strides: Mapping[str, int], **options
) -> dict:
    """Apply ``backbone`` and a pyramid neck (``fpn``) to ``inputs``; the levels the heads read.

    Args:
        backbone: a model giving a pyramid ``{"P2": …, "P5": …}``.
        inputs: the detector's image input (Keras tensor).
        neck: a name of ``NECKS`` whose output is a pyramid.
        strides: the levels wanted and their strides, e.g. ``{"P3": 8, "P4": 16, "P5": 32}``.
        **options: the neck's options (``channels=`` for ``fpn``).

    Returns:
        ``{level: [B, H/stride, W/stride, F]}`` for the levels of ``strides``, in that order.

    Raises:
        ValueError: a single-output backbone, a one-map neck, a missing level, or a level of
            another stride (checked on a probe of the static input shape).
    """
    if neck not in PYRAMID_NECKS:
        raise ValueError(
            f"the neck {neck!r} gives one map, not the pyramid {sorted(strides)} this "
            f"detector's head reads; use one of {sorted(PYRAMID_NECKS)}"
        )
    features = backbone(inputs)
    if not isinstance(features, dict):
        raise ValueError(
            f"the neck {neck!r} reads a backbone pyramid (P3–P5); this backbone has one output"
        )
    levels = build_neck(neck, features, **options)
    if not isinstance(levels, dict):
        raise ValueError(
            f"the neck {neck!r} gives one map, not the pyramid {sorted(strides)} this "
            f"detector's head reads; use one of {sorted(PYRAMID_NECKS)}"
        )
    missing = sorted(set(strides) - set(levels))
    if missing:
        raise ValueError(f"the neck {neck!r} gives no level {missing}")
    levels = {name: levels[name] for name in strides}
    found = _probe_strides(inputs, levels)
    wrong = {name: s for name, s in found.items() if s != strides[name]}
    if wrong:
        raise ValueError(f"the neck's levels have strides {wrong}, not {dict(strides)}")
    return levels


def _probe_strides(inputs, outputs: Mapping) -> dict:
    """The stride of each output map of the graph ``inputs → outputs``, from the shapes Keras
    computes for a probe input (the static size, 64 where dynamic); ``(…)`` for an output that
    is not one map."""
    probe_model = keras.Model(inputs, dict(outputs))
    probe = tuple(d if d is not None else 64 for d in probe_model.input_shape[1:3])
    shapes = probe_model.compute_output_shape((1, *probe, 3))
    found = {}
    for name, shape in shapes.items():
        if isinstance(shape, dict) or isinstance(shape[0], list | tuple):
            found[name] = ()
        else:
            found[name] = probe[0] // shape[1] if shape[1] else None
    return found
