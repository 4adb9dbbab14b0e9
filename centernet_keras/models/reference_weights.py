"""Pretrained weights from the reference model zoos → this package's models.

``load_reference_weights(model, state_dict)`` fills a model from a torch ``state_dict`` of the
reference network it reproduces layer for layer, chosen from the model:

===========================================  ==================================================
Keras model                                  reference ``state_dict`` (``ARCHITECTURES``)
===========================================  ==================================================
CenterNet / CenterNetPose, ``dla34`` +       CenterNet ``pose_dla_dcn.DLASeg`` (arch
``dla_up`` (DCN)                             ``dla_34``): ``ctdet_coco_dla_2x.pth``,
                                             ``multi_pose_dla_3x.pth``
CenterNet / CenterNetPose, ``dla34`` +       CenterNet ``dlav0.DLASeg`` (arch ``dlav0_34``)
``dla_up_plain``
backbone ``dla34`` (or ``dla34_base``)       ImageNet DLA-34 ``dla34-ba72cf86.pth``
backbone ``resnet18``                        torchvision ``resnet18`` (``resnet18-f37072fd.pth``)
===========================================  ==================================================

Layer names are the reference module paths with ``.`` → ``_`` (the DLA base inside the nested
``dla34_base`` model, without DLASeg's ``base.`` prefix); heads are renamed
(``HEADS``: ``hm.0`` → ``heatmap_conv``, ``hm.2`` → ``heatmap``, …). The load is strict and
all-or-nothing (``backbones.torch_weights.load_torch_state_dict``): a missing, unexpected or
mis-shaped key is a ValueError naming it, and nothing is assigned. Ignored without a word:
``*.num_batches_tracked`` and the ImageNet classifier (``fc.*``, DLASeg's ``base.fc.*``).

Heads follow the rules of CenterNet's own ``load_model`` for fine-tuning, each with a warning:

* a head whose output count differs (``hm`` of 80 COCO classes into a 20-class model; joints
  other than 17) keeps its initial last conv; its 3×3 conv is loaded;
* heads that are not the reference layout (``head_batchnorm=True``: BN instead of the conv
  bias, or a width other than the checkpoint's ``head_conv``) are all left as initialised;
* a checkpoint head the model lacks (a pose checkpoint into a box model) is skipped, a model
  head the checkpoint lacks is left as initialised.

``heads=False`` loads the backbone and the neck only. The returned ``ReferenceLoad`` says what
was loaded and skipped.

CenterNet's detector checkpoints were trained on BGR images (``cv2``) normalised with its COCO
mean / std, not on RGB with ImageNet's; loading one sets the DLA base's ``preprocess`` layer to
``ImagePreprocessing("centernet")``, so the model still takes raw RGB and sees what the
reference saw (saved with the model). The ImageNet DLA-34 and torchvision files keep
``"torch"`` (RGB, ImageNet mean / std), as they were trained.
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from collections.abc import Mapping

import keras
import numpy as np

from centernet_keras.backbones.dla import DLA34_CHANNELS, DLA34_LEVELS
from centernet_keras.backbones.torch_weights import load_torch_state_dict

#: Our head name → the reference's (``opts.py``: ctdet ``hm, wh, reg``; multi_pose adds
#: ``hps, hm_hp, hp_offset``).
HEADS = {
    "heatmap": "hm",
    "size": "wh",
    "offset": "reg",
    "keypoints": "hps",
    "keypoint_heatmap": "hm_hp",
    "keypoint_offset": "hp_offset",
}
#: Model kind → the reference network whose ``state_dict`` it takes.
ARCHITECTURES = {
    "dlaseg_dcn": "CenterNet pose_dla_dcn.DLASeg('dla34', head_conv=256)",
    "dlaseg_plain": "CenterNet dlav0.DLASeg('dla34', head_conv=256)",
    "dla34": "DLA-34 ImageNet (CenterNet dla34 / dlav0.dla34)",
    "resnet18": "torchvision resnet18",
}
#: Where the reference checkpoints are published.
CHECKPOINT_URLS = {
    "model_zoo": "https://github.com/xingyizhou/CenterNet/blob/master/readme/MODEL_ZOO.md",
    "dla34": "http://dl.yf.io/dla/models/imagenet/dla34-ba72cf86.pth",
    "resnet18": "https://download.pytorch.org/models/resnet18-f37072fd.pth",
}
_HEAD_KEY = re.compile(r"^(\w+)\.([02])\.(weight|bias)$")


@dataclasses.dataclass(frozen=True)
class ReferenceLoad:
    """What ``load_reference_weights`` did.

    Attributes:
        architecture: the key of ``ARCHITECTURES`` the model was read as.
        loaded: the ``state_dict`` keys whose arrays were assigned.
        skipped: key → why it was not loaded (head rules, ``heads=False``).
        ignored: keys with no counterpart by design (``num_batches_tracked``, classifier).
        kept: Keras layers left as initialised (the skipped heads' layers).
    """

    architecture: str
    loaded: tuple[str, ...]
    skipped: dict[str, str]
    ignored: tuple[str, ...]
    kept: tuple[str, ...]


def layer_name(module_path: str) -> str:
    """Keras layer name of a reference module path (``"level2.tree1.conv1"`` →
    ``"level2_tree1_conv1"``)."""
    return module_path.replace(".", "_")


def _tree_modules(path: str, levels: int, c_in: int, c_out: int) -> list[str]:
    """Weighted modules of a DLA ``Tree`` (BasicBlock leaves, ``Root`` of conv + BN)."""
    if levels == 1:
        blocks = [
            f"{path}.{t}.{m}" for t in ("tree1", "tree2") for m in ("conv1", "bn1", "conv2", "bn2")
        ]
        paths = [*blocks, f"{path}.root.conv", f"{path}.root.bn"]
    else:
        paths = _tree_modules(f"{path}.tree1", levels - 1, c_in, c_out)
        paths += _tree_modules(f"{path}.tree2", levels - 1, c_out, c_out)
    if c_in != c_out:
        paths += [f"{path}.project.0", f"{path}.project.1"]
    return paths


def dla34_modules() -> list[str]:
    """Weighted module paths of the DLA-34 base (``dla34`` without ``fc``), reference order."""
    c = DLA34_CHANNELS
    paths = ["base_layer.0", "base_layer.1", "level0.0", "level0.1", "level1.0", "level1.1"]
    for level in range(2, 6):
        paths += _tree_modules(f"level{level}", DLA34_LEVELS[level], c[level - 1], c[level])
    return paths


def _ida_modules(path: str, widths: list[int], out: int, dcn: bool) -> list[str]:
    """Weighted modules of one ``IDAUp`` over inputs of ``widths`` (the first is the base)."""
    paths = []
    for k in range(1, len(widths)):
        if dcn:
            paths += [f"{path}.proj_{k}.conv", f"{path}.proj_{k}.actf.0"]
        elif widths[k] != out:
            paths += [f"{path}.proj_{k}.0", f"{path}.proj_{k}.1"]
        paths.append(f"{path}.up_{k}")
        paths += [f"{path}.node_{k}.conv", f"{path}.node_{k}.actf.0"] if dcn else []
    if not dcn:
        paths += [f"{path}.node_{k}.{i}" for k in range(1, len(widths)) for i in (0, 1)]
    return paths


def dla_up_modules(dcn: bool = True) -> list[str]:
    """Weighted module paths of DLASeg's ``dla_up`` (and, with DCN, ``ida_up``) for DLA-34."""
    widths = list(DLA34_CHANNELS[2:])
    paths = []
    for i in range(len(widths) - 1):
        j = len(widths) - i - 2
        paths += _ida_modules(f"dla_up.ida_{i}", widths[j:], widths[j], dcn)
        widths[j + 1 :] = [widths[j]] * (len(widths) - j - 1)
    if dcn:
        paths += _ida_modules("ida_up", list(DLA34_CHANNELS[2:5]), DLA34_CHANNELS[2], dcn)
    return paths


def _architecture(model: keras.Model) -> str:
    """The ``ARCHITECTURES`` key of ``model``, or ValueError naming what is not supported."""
    backbone = getattr(model, "backbone", None)
    if backbone is not None and hasattr(model, "neck"):
        kinds = {"dla_up": "dlaseg_dcn", "dla_up_plain": "dlaseg_plain"}
        if backbone.name == "dla34" and model.neck in kinds:
            return kinds[model.neck]
        raise ValueError(
            f"no reference checkpoint has the layout of a {type(model).__name__} with backbone "
            f"{backbone.name!r} and neck {model.neck!r}: whole detectors load from CenterNet's "
            f"DLA-34 (neck 'dla_up' or 'dla_up_plain'); for ImageNet weights of the backbone, "
            f"load into model.backbone"
        )
    if model.name in ("dla34", "dla34_base", "resnet18"):
        return "dla34" if model.name.startswith("dla34") else "resnet18"
    raise ValueError(
        f"model {model.name!r} has no reference checkpoint here: give a CenterNet / "
        f"CenterNetPose with a dla34 backbone, or a 'dla34' / 'resnet18' backbone"
    )


def _resnet18_modules() -> dict[str, str]:
    """torchvision ``resnet18`` module path → our ``resnet18_backbone`` layer name."""
    modules = {"conv1": "stem_conv", "bn1": "stem_bn"}
    for stage in range(1, 5):
        for block in range(2):
            torch_block, ours = f"layer{stage}.{block}", f"layer{stage}_{block}"
            for i in (1, 2):
                modules[f"{torch_block}.conv{i}"] = f"{ours}_{i}_conv"
                modules[f"{torch_block}.bn{i}"] = f"{ours}_{i}_bn"
            if stage > 1 and block == 0:
                modules[f"{torch_block}.downsample.0"] = f"{ours}_down_conv"
                modules[f"{torch_block}.downsample.1"] = f"{ours}_down_bn"
    return modules


def _base_model(model: keras.Model) -> keras.Model:
    """The nested ``dla34_base`` of a DLA model (or the model itself)."""
    return model if model.name == "dla34_base" else model.get_layer("dla34_base")


def _head_layers(model: keras.Model) -> dict[str, tuple]:
    """Reference head name → (our 3×3 conv layer, our last conv layer, BN layer or None)."""
    names = {layer.name for layer in model.layers}
    heads = {}
    for ours, ref in HEADS.items():
        if ours in names:
            bn = f"{ours}_bn"
            heads[ref] = (
                model.get_layer(f"{ours}_conv"),
                model.get_layer(ours),
                model.get_layer(bn) if bn in names else None,
            )
    return heads


def _plan_heads(model, state_dict, load_heads: bool, modules: dict, skipped: dict) -> list:
    """Add the loadable head modules to ``modules``, the others to ``skipped``; the kept layers.

    Raises:
        ValueError: a head-like key of an unknown head or part.
    """
    ours = _head_layers(model)
    given: dict[str, dict[str, tuple]] = {}
    for key, value in state_dict.items():
        if key.split(".", 1)[0] in set(HEADS.values()) | set(ours):
            match = _HEAD_KEY.match(key)
            if match is None:
                raise ValueError(f"state_dict key {key!r} is not a reference head parameter")
            given.setdefault(match[1], {})[f"{match[2]}.{match[3]}"] = np.shape(value)
    kept = []

    def skip(head: str, reason: str, parts=("0", "2"), layers=()):
        for part, param in ((p, q) for p in parts for q in ("weight", "bias")):
            if f"{part}.{param}" in given.get(head, {}):
                skipped[f"{head}.{part}.{param}"] = reason
        kept.extend(layers)

    extra = sorted(set(given) - set(ours))
    for head in extra:
        skip(head, "the model has no such head")
    if extra and load_heads:
        warnings.warn(f"the model has no head {extra}: skipped", stacklevel=3)
    for head in sorted(set(ours) - set(given)):
        kept.extend(layer for layer in ours[head] if layer is not None)
        if load_heads:
            warnings.warn(f"the checkpoint has no head {head!r}: left as initialised", stacklevel=3)
    common = sorted(set(ours) & set(given))
    if not load_heads:
        for head in common:
            skip(head, "heads=False", layers=[x for x in ours[head] if x is not None])
        return kept
    hidden = {head: given[head].get("0.weight", (0,))[0] for head in common}
    mismatch = [
        head
        for head in common
        if ours[head][2] is not None
        or ours[head][0].filters != hidden[head]
        or not ours[head][0].use_bias
    ]
    if mismatch:
        reason = (
            f"the model's heads are not the reference's 3x3 conv ({max(hidden.values())} wide, "
            f"with bias, no BN) + ReLU + 1x1 conv; build it with head_batchnorm=False, "
            f"head_channels={max(hidden.values())} to load them"
        )
        warnings.warn(f"heads left as initialised: {reason}", stacklevel=3)
        for head in common:
            skip(head, reason, layers=[x for x in ours[head] if x is not None])
        return kept
    for head in common:
        conv, last, _ = ours[head]
        modules[f"{head}.0"] = conv
        out = given[head].get("2.weight", (None,))[0]
        if out is not None and out != last.filters:
            reason = f"{out} outputs in the checkpoint, {last.filters} in the model"
            warnings.warn(
                f"head {head!r} ({last.name!r}): {reason}; its last conv is left as initialised "
                f"(fine-tuning), its 3x3 conv is loaded",
                stacklevel=3,
            )
            skip(head, reason, parts=("2",), layers=[last])
        else:
            modules[f"{head}.2"] = last
    return kept


def load_reference_weights(
    model: keras.Model, state_dict: Mapping[str, object], heads: bool = True
) -> ReferenceLoad:
    """Fill ``model`` from a reference ``state_dict`` (see the module docstring for which).

    Args:
        model: a CenterNet / CenterNetPose with a ``dla34`` backbone and a ``dla_up`` or
            ``dla_up_plain`` neck, or a ``dla34`` / ``dla34_base`` / ``resnet18`` backbone.
        state_dict: torch key → array in torch layout (NumPy, or CPU torch tensors); a
            checkpoint file's ``state_dict`` with any ``module.`` prefix removed
            (``checkpoint_state_dict``).
        heads: load the detector heads (by the rules of the module docstring); ``False``
            loads the backbone and the neck only.

    Returns:
        A ``ReferenceLoad``. ``model.pretrained_layers`` becomes the backbone's loaded layers
        (all of it for a detector), so the training's freeze phase freezes them.

    Raises:
        ValueError: a model without a reference layout; a missing, unexpected or mis-shaped
            key (named in the message). Nothing is assigned then.
    """
    architecture = _architecture(model)
    keys = list(state_dict)
    ignore = ("fc.",) if architecture in ("dla34", "resnet18") else ("base.fc.",)
    ignored = tuple(k for k in keys if k.endswith(".num_batches_tracked") or k.startswith(ignore))
    modules: dict[str, str | keras.layers.Layer] = {}
    skipped: dict[str, str] = {}
    kept: list = []
    if architecture == "resnet18":
        modules.update(_resnet18_modules())
    elif architecture == "dla34":
        base = _base_model(model)
        modules.update({path: base.get_layer(layer_name(path)) for path in dla34_modules()})
    else:
        base = _base_model(model.backbone)
        for path in dla34_modules():
            modules[f"base.{path}"] = base.get_layer(layer_name(path))
        for path in dla_up_modules(dcn=architecture == "dlaseg_dcn"):
            modules[path] = model.get_layer(layer_name(path))
        kept = _plan_heads(model, state_dict, heads, modules, skipped)
    load_torch_state_dict(model, state_dict, modules, (*ignore, *skipped), keep=kept)
    if architecture in ("dla34", "resnet18"):
        model.pretrained_layers = tuple(layer.name for layer in model.layers if layer.weights)
        if architecture == "dla34":  # ImageNet: RGB, ImageNet mean / std (also after a detector's)
            _base_model(model).get_layer("preprocess").mode = "torch"
    else:  # the detector checkpoints were trained on BGR images with CenterNet's COCO mean/std
        _base_model(model.backbone).get_layer("preprocess").mode = "centernet"
        model.pretrained_layers = tuple(x.name for x in model.backbone.layers if x.weights)
        model.backbone.pretrained_layers = model.pretrained_layers
    skip = set(ignored) | set(skipped)
    return ReferenceLoad(
        architecture=architecture,
        loaded=tuple(k for k in keys if k not in skip),
        skipped=skipped,
        ignored=ignored,
        kept=tuple(layer.name for layer in kept),
    )


def checkpoint_state_dict(checkpoint: Mapping[str, object]) -> dict[str, object]:
    """The ``state_dict`` of a loaded reference checkpoint file.

    CenterNet's files hold ``{"epoch": …, "state_dict": {…}}`` (and may carry DataParallel's
    ``module.`` prefix); torchvision's and DLA's ImageNet files are the ``state_dict`` itself.

    Args:
        checkpoint: what ``torch.load`` returned.

    Returns:
        key → array, ``module.`` prefixes removed.

    Raises:
        ValueError: ``checkpoint`` is not a mapping of names to arrays.
    """
    if not isinstance(checkpoint, Mapping):
        raise ValueError(f"a checkpoint is a dict, got {type(checkpoint).__name__}")
    state = checkpoint.get("state_dict", checkpoint)
    if not isinstance(state, Mapping):
        raise ValueError(f"checkpoint['state_dict'] is a {type(state).__name__}, not a dict")
    out = {}
    for key, value in state.items():
        if not hasattr(value, "shape"):
            raise ValueError(f"checkpoint entry {key!r} is a {type(value).__name__}, not an array")
        out[key.removeprefix("module.")] = value
    return out
