"""Torch ``state_dict`` → Keras layers: layout conversion and a strict, all-or-nothing load.

A ``state_dict`` is a mapping of torch key (``"<module path>.<param>"``) → array (NumPy, or
anything ``np.asarray`` takes, e.g. a CPU torch tensor). ``modules`` says which Keras layer holds
each torch module. Layouts:

- ``Conv2d.weight [out, in/groups, kh, kw]`` → ``Conv2D.kernel [kh, kw, in/groups, out]``;
  ``Conv2d.bias`` → ``Conv2D.bias``.
- ``BatchNorm2d.weight, bias, running_mean, running_var`` → ``gamma, beta, moving_mean,
  moving_variance``; ``num_batches_tracked`` has no Keras counterpart and is ignored.
- ``Linear.weight [out, in]`` → ``Dense.kernel [in, out]``; ``Linear.bias`` → ``Dense.bias``.
- DCNv2 ``DCN.weight, bias, conv_offset_mask.weight, conv_offset_mask.bias`` → ``DeformConv2D``
  ``kernel, bias, offset_kernel, offset_bias`` (convs as above).
- Depthwise ``ConvTranspose2d.weight [C, 1, k, k]`` (``groups=C``) →
  ``DepthwiseConv2DTranspose.kernel [k, k, C, 1]``.

Grouped convs need nothing special: torch's ``[out, in/groups, kh, kw]`` and Keras'
``[kh, kw, in/groups, out]`` hold the same groups in the same order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import keras
import numpy as np

from centernet_keras.layers.deform_conv import DeformConv2D
from centernet_keras.layers.depthwise_conv_transpose import DepthwiseConv2DTranspose

#: Keras conv kernel axes of torch's ``[out, in/groups, kh, kw]`` (and back: ``(2, 3, 1, 0)``).
_CONV_TO_TORCH = (3, 2, 0, 1)
#: Keras ``DepthwiseConv2DTranspose`` kernel ``[k, k, C, 1]`` axes of torch's ``[C, 1, k, k]``.
_DEPTHWISE_UP_TO_TORCH = (2, 3, 0, 1)
_BN_PARAMS = {
    "weight": "gamma",
    "bias": "beta",
    "running_mean": "moving_mean",
    "running_var": "moving_variance",
}


def _layer_params(layer: keras.layers.Layer) -> dict[str, tuple[keras.Variable, tuple | None]]:
    """torch param name → (Keras variable, axes taking the Keras array to torch's layout)."""
    if isinstance(layer, keras.layers.BatchNormalization):
        return {p: (getattr(layer, name), None) for p, name in _BN_PARAMS.items()}
    if isinstance(layer, DepthwiseConv2DTranspose):
        return {"weight": (layer.kernel, _DEPTHWISE_UP_TO_TORCH)}
    if isinstance(layer, DeformConv2D):
        params = {
            "weight": (layer.kernel, _CONV_TO_TORCH),
            "conv_offset_mask.weight": (layer.offset_kernel, _CONV_TO_TORCH),
            "conv_offset_mask.bias": (layer.offset_bias, None),
        }
    elif isinstance(layer, keras.layers.Conv2D):
        params = {"weight": (layer.kernel, _CONV_TO_TORCH)}
    elif isinstance(layer, keras.layers.Dense):
        params = {"weight": (layer.kernel, (1, 0))}
    else:
        raise ValueError(f"layer {layer.name!r} ({type(layer).__name__}) has no torch layout here")
    if layer.use_bias:
        params["bias"] = (layer.bias, None)
    return params


def _expected(
    model: keras.Model,
    modules: Mapping[str, str | keras.layers.Layer],
    keep: Iterable[keras.layers.Layer] = (),
) -> dict[str, tuple[keras.Variable, tuple | None]]:
    """Every torch key the model needs → (variable, axes); each model weight claimed once."""
    expected: dict[str, tuple[keras.Variable, tuple | None]] = {}
    for path, layer in modules.items():
        if isinstance(layer, str):
            try:
                layer = model.get_layer(layer)
            except ValueError as err:
                raise ValueError(
                    f"model {model.name!r} has no layer {layer!r} for torch module {path!r}"
                ) from err
        for param, home in _layer_params(layer).items():
            expected[f"{path}.{param}"] = home
    claimed = {id(variable) for variable, _ in expected.values()}
    if len(claimed) != len(expected):
        raise ValueError("two torch modules map onto the same Keras layer")
    claimed |= {id(v) for layer in keep for v in layer.weights}
    unclaimed = [v.path for v in model.weights if id(v) not in claimed]
    if unclaimed:
        raise ValueError(
            f"model {model.name!r} does not have the torch model's layout: {len(unclaimed)} "
            f"weight(s) without a torch key, e.g. {unclaimed[:3]}"
        )
    return expected


def load_torch_state_dict(
    model: keras.Model,
    state_dict: Mapping[str, object],
    modules: Mapping[str, str | keras.layers.Layer],
    ignore_prefixes: Iterable[str] = (),
    keep: Iterable[keras.layers.Layer] = (),
) -> tuple[str, ...]:
    """Set every weight of ``model`` from a torch ``state_dict``, or change nothing.

    All keys and shapes are checked before the first weight is assigned, so a failed load
    leaves ``model`` as it was.

    Args:
        model: the Keras model; each of its weights must belong to a layer of ``modules``.
        state_dict: torch key → array in torch layout.
        modules: torch module path (``"stem.0"``) → Keras layer name (``"stem_0"``, a layer of
            ``model``) or the layer itself (e.g. one inside a nested model).
        ignore_prefixes: keys starting with one of these are skipped (e.g. ``"fc."``, a
            classifier the Keras model does not have); so are ``*.num_batches_tracked``.
        keep: layers whose weights are not loaded and stay as they are (e.g. a head whose
            class count differs from the checkpoint's).

    Returns:
        The names of the top-level layers of ``model`` that received weights, in
        ``model.layers`` order (a nested model counts as one layer).

    Raises:
        ValueError: a model weight without a torch key; a key the model needs is missing; a
            key that is neither needed nor ignored; an array whose shape is not the torch shape
            of its Keras weight. The message names the key(s).
    """
    expected = _expected(model, modules, keep)
    ignore = tuple(ignore_prefixes)
    given = {
        key: value
        for key, value in state_dict.items()
        if not key.endswith(".num_batches_tracked") and not key.startswith(ignore)
    }
    missing = [key for key in expected if key not in given]
    if missing:
        raise ValueError(f"state_dict is missing {len(missing)} key(s): {missing}")
    unexpected = [key for key in given if key not in expected]
    if unexpected:
        raise ValueError(f"state_dict has {len(unexpected)} unexpected key(s): {unexpected}")
    arrays = {}
    for key, (variable, axes) in expected.items():
        array = np.asarray(given[key])
        shape = tuple(variable.shape)
        torch_shape = shape if axes is None else tuple(shape[a] for a in axes)
        if array.shape != torch_shape:
            raise ValueError(
                f"state_dict[{key!r}] has shape {array.shape}, expected {torch_shape} (torch "
                f"layout of Keras weight {variable.path} {shape})"
            )
        if axes is not None:
            array = np.transpose(array, np.argsort(axes))
        arrays[key] = array
    for key, (variable, _) in expected.items():
        variable.assign(arrays[key].astype(variable.dtype))
    loaded = {id(variable) for variable, _ in expected.values()}
    return tuple(
        layer.name for layer in model.layers if any(id(v) in loaded for v in layer.weights)
    )
