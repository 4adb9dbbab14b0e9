"""Training configuration: typed dataclasses, loadable from JSON, saved next to the weights.

``TrainConfig`` holds the run's settings and two sections: ``model`` (``ModelConfig``: which
detector to build) and ``augment`` (``AugmentConfig``, the one the ``tf.data`` pipeline uses).
``save`` writes the sections as nested objects; ``from_json`` / ``from_dict`` read that and the
flat form of earlier versions (every field at the top level, ``augment`` a bool,
``eval_confidence``), which is also the form of ``train.py``'s flags (``FLAT_KEYS``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from centernet_keras.choices import (
    BACKBONE_ALIASES,
    BACKBONE_NAMES,
    NECK_NAMES,
    OPTIMIZERS,
    STRATEGIES,
)
from centernet_keras.data.augment_config import AugmentConfig
from centernet_keras.io import atomic_write_text
from centernet_keras.models.registry import detector_class, detector_names
from centernet_keras.training.settings import comma_ints, flag_of, flat_key, setting


def __getattr__(name: str) -> Any:
    """The former names of the detector list, now the registry's (``models.registry``):
    ``DETECTORS`` (name → builder) and ``KEYPOINT_DETECTORS`` (the names that train on
    keypoints); derived on use, since they import the detectors (Keras)."""
    if name == "DETECTORS":
        return {n: detector_class(n).from_settings for n in detector_names()}
    if name == "KEYPOINT_DETECTORS":
        return frozenset(n for n in detector_names() if detector_class(n).keypoint_spec is not None)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass
class ModelConfig:
    """The detector to build: the ``model`` section of ``TrainConfig``.

    Attributes:
        detector: a registered detector's name (``models.registry.detector_names()``).
        backbone: a backbone name (``centernet_keras.backbones.BACKBONES``).
        neck: a neck name, or ``None`` for the detector's / backbone's default neck.
        input_size: network input ``(height, width)``, multiples of 32.
        weights: the backbone's weights: ``"imagenet"``, a file, or ``None``.
        model_path: start from a full ``.keras`` model (fine-tuning), or ``None``.
        neck_filters: the neck's filters (FCOS: the FPN's one width), or ``None`` for the
            default.
        head_channels: width of each head's conv (FCOS: of each stem conv), or ``None`` for
            the default.
        image_resize: ``"letterbox"`` (keep aspect, gray padding) or ``"resize"`` (stretch).
    """

    detector: str = setting("centernet", help="the detector to train", choices=detector_names)
    backbone: str = setting(
        "resnet50", help=f"one of: {' | '.join(sorted(BACKBONE_NAMES) + sorted(BACKBONE_ALIASES))}"
    )
    neck: str | None = setting(
        None,
        help="the neck between backbone and heads (default: fpn for --detector fcos, the only "
        "one it takes; else per backbone: dla_up for dla34, skip for regnetx_400mf and the "
        "former *_fpn names, else deconv)",
        choices=sorted(NECK_NAMES),
    )
    input_size: tuple[int, int] = setting(
        (512, 512), help="network input 'H,W', or 'S' for SxS; multiples of 32", type=comma_ints
    )
    weights: str | None = setting(
        "imagenet", help="backbone weights: imagenet | none | path to a weights file"
    )
    model_path: str | None = setting(None, help="start from a full .keras model (default: none)")
    neck_filters: tuple[int, ...] | None = setting(
        None,
        help="filters of the deconv / skip neck's 3 upsampling stages, e.g. '256,128,64', or "
        "the fpn's one width, e.g. '64' (default: per backbone and neck; fpn 64)",
        type=comma_ints,
    )
    head_channels: int | None = setting(
        None,
        help="width of each head's 3x3 conv (default: 64; 256 for dla34*; fcos: of both stem "
        "convs, default 64)",
        type=int,
    )
    image_resize: str = setting(
        "letterbox", help="letterbox (keep aspect, gray pad) | resize (stretch)", flag="--resize"
    )

    def __post_init__(self) -> None:
        size = (self.input_size,) if isinstance(self.input_size, int) else tuple(self.input_size)
        self.input_size = tuple(int(v) for v in (size * 2 if len(size) == 1 else size))  # 'S'
        if self.neck_filters is not None:
            self.neck_filters = tuple(int(v) for v in self.neck_filters)
        if self.weights in ("none", "None", ""):
            self.weights = None
        problems = []
        if self.detector not in detector_names():
            problems.append(
                f"{flag_name('detector')} must be one of {detector_names()}, got {self.detector!r}"
            )
        if len(self.input_size) != 2 or any(v % 32 for v in self.input_size):
            size = ",".join(str(v) for v in self.input_size)
            problems.append(
                f"{flag_name('input_size')} must be 'H,W' or 'S', multiples of 32, got {size}"
            )
        if problems:
            raise ValueError("; ".join(problems))

    def options(self) -> dict:
        """The builder's optional arguments that are set (``neck``, ``neck_filters``,
        ``head_channels``); unset ones keep the builder's per-backbone defaults."""
        names = ("neck", "neck_filters", "head_channels")
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}


@dataclass
class TrainConfig:
    """Everything ``train`` needs; ``train.py`` flags and ``--config`` JSON map onto it.

    Paths are as given (relative to the working directory). Build one from flat or sectioned
    settings with ``from_dict`` / ``from_json``.

    The data is annotation lines (``train_annotations`` / ``val_annotations``; classes from
    ``classes_path``, default ``model_data/voc_classes.txt``) or, when ``train_json`` is set,
    COCO JSON files with their image folders (``train_json`` + ``train_images``, optional
    ``val_json`` + ``val_images``; classes from the categories unless ``classes_path`` is set):
    the line fields are then unused and saved as ``None``; or, when ``train_tfds`` is set, TFDS
    splits (``train_tfds``, optional ``val_tfds``, in ``data_dir``). See ``training.data``.
    ``flip_pairs`` (``--flip-pairs``, keypoints files only) overrides the file's left/right
    joint pairs (``keypoints.parse_flip_pairs``).
    """

    classes_path: str | None = setting(
        None,
        help="class names file, one per line (default: model_data/voc_classes.txt with --train; "
        "the file's categories with --train-json, or, given, the categories of these names)",
        flag="--classes",
    )
    train_annotations: str | None = setting(
        "2007_train.txt",
        help="training annotation lines (path x1,y1,x2,y2,cls ...)",
        flag="--train",
    )
    val_annotations: str | None = setting(
        "2007_val.txt", help="validation annotation lines ('' for none)", flag="--val"
    )
    train_json: str | None = setting(
        None,
        help="COCO JSON of the training split (instances_*.json, or person_keypoints_*.json for "
        "--detector pose), instead of --train/--val",
    )
    train_images: str | None = setting(None, help="image folder of --train-json")
    val_json: str | None = setting(
        None, help="COCO JSON of the validation split (with --train-json)"
    )
    val_images: str | None = setting(None, help="image folder of --val-json")
    train_tfds: str | None = setting(
        None,
        help="a TensorFlow Datasets split NAME:SPLIT with the VOC/COCO 'objects' layout (e.g. "
        "voc/2007:train, coco/2017:train), prepared in --data-dir; instead of --train/--val",
        metavar="NAME:SPLIT",
    )
    val_tfds: str | None = setting(
        None,
        help="the validation split NAME:SPLIT (with --train-tfds), e.g. voc/2007:validation",
        metavar="NAME:SPLIT",
    )
    data_dir: str | None = setting(
        None,
        help="TFDS data folder of --train-tfds/--val-tfds (default: ~/tensorflow_datasets)",
        metavar="DIR",
    )
    tfds_download: bool = setting(
        False,
        help="download and prepare a TFDS dataset missing from --data-dir (needs the internet)",
        action="store_true",
    )
    flip_pairs: str | None = setting(
        None,
        help="left/right joints the training flip swaps, saved with the model (flip test too): "
        "'A:B,C:D', each joint a 1-based index or a name (e.g. '2:3,4:5' or 'l_eye:r_eye'), or "
        "'none' (default: the keypoints file's 'flip_pairs', else from the names: "
        "left_X/right_X, l_X/r_X, X_left, LeftX…)",
    )
    save_dir: str = setting("logs", help="output folder for checkpoints and logs")
    model: ModelConfig = field(default_factory=ModelConfig)
    max_objects: int = setting(
        100,
        help="centernet, pose: objects per image trained on (the first ones; images with more "
        "are reported); fcos trains on every box",
        type=int,
    )
    # schedule
    freeze_epochs: int = setting(
        50,
        help="epochs of phase 1, with the pretrained backbone layers frozen (with --weights none "
        "nothing is pretrained, so phase 1 trains all layers, with a warning)",
        type=int,
    )
    freeze_batch_size: int = setting(16, help="batch size of phase 1", type=int)
    epochs: int = setting(100, help="total epochs (phase 1 + phase 2)", type=int)
    batch_size: int = setting(8, help="batch size of phase 2 (backbone unfrozen)", type=int)
    optimizer: str = setting(
        "adam",
        help="adam (Keras' Adam, eps 1e-7 before the bias correction) | adam_torch "
        "(torch.optim.Adam as the reference trains: eps 1e-8 after it) | sgd (Nesterov)",
    )
    lr: float = setting(
        5e-4, help="initial learning rate (the rate for batch 64 with --scale-lr)", type=float
    )
    min_lr: float | None = setting(None, help="final learning rate (default: lr/100)", type=float)
    scale_lr: bool = setting(
        True,
        help="scale --lr (and --min-lr) by batch/64, clamped to Adam [2.5e-4, 5e-4] or SGD "
        "[5e-4, 5e-2] (min_lr: 1/100 of those), the Keras ports' rule; --no-scale-lr trains at "
        "--lr as given",
        action=argparse.BooleanOptionalAction,
    )
    momentum: float = setting(0.9, help="SGD momentum", type=float)
    weight_decay: float = setting(0.0, help="decoupled weight decay (0 = off)", type=float)
    lr_schedule: str = setting("cos", help="cos (warmup + cosine) | step")
    warmup_epochs: float = setting(1.0, help="linear warmup length (cos schedule)", type=float)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    # bookkeeping
    eval_every: int = setting(
        0,
        help="validation VOC mAP@0.5 (and a pose model's keypoint AP) every N epochs and after "
        "the last; best.keras is the evaluated epoch with the best of it (0 = off: best.keras "
        "by validation loss)",
        type=int,
    )
    eval_score_threshold: float = 0.01
    seed: int = setting(0, help="seed of shuffling, augmentation and initialisation", type=int)
    mixed_precision: bool = setting(
        False, help="float16 (GPU) / bfloat16 (CPU) compute, float32 weights", action="store_true"
    )
    strategy: str = setting(
        "none",
        help="none | mirrored (all GPUs, else all logical CPUs) | multiworker (several machines, "
        "from TF_CONFIG; README: Training on several machines)",
    )
    steps_per_epoch: int | None = setting(
        None, help="fixed steps per epoch (default: one pass)", type=int
    )

    def __post_init__(self) -> None:
        if self.val_annotations == "":  # --val '': no validation split
            self.val_annotations = None
        problems = []
        if self.optimizer not in OPTIMIZERS:
            problems.append(
                f"{flag_name('optimizer')} must be one of {list(OPTIMIZERS)}, got "
                f"{self.optimizer!r}"
            )
        if self.lr_schedule not in ("cos", "step"):
            problems.append(
                f"{flag_name('lr_schedule')} must be 'cos' or 'step', got {self.lr_schedule!r}"
            )
        if self.strategy not in STRATEGIES:
            problems.append(
                f"{flag_name('strategy')} must be one of {list(STRATEGIES)}, got {self.strategy!r}"
            )
        if not 0 <= self.freeze_epochs <= self.epochs:
            problems.append(
                f"{flag_name('freeze_epochs')} ({self.freeze_epochs}) must be from 0 to "
                f"{flag_name('epochs')} ({self.epochs})"
            )
        if self.train_tfds and self.train_json:
            problems.append(
                f"{flag_name('train_tfds')} and {flag_name('train_json')} exclude each other"
            )
        elif self.train_tfds:
            self.train_annotations = self.val_annotations = None
        elif self.val_tfds:
            problems.append(
                f"{flag_name('val_tfds')} needs {flag_name('train_tfds')} (one source per run)"
            )
        if self.train_json:
            self.train_annotations = self.val_annotations = None
            if not self.train_images:
                problems.append(
                    f"{flag_name('train_json')} needs {flag_name('train_images')} (its image "
                    "folder)"
                )
            if self.val_json and not self.val_images:
                problems.append(
                    f"{flag_name('val_json')} needs {flag_name('val_images')} (its image folder)"
                )
        elif self.val_json:
            problems.append(
                f"{flag_name('val_json')} needs {flag_name('train_json')} (with annotation lines, "
                f"{flag_name('val_annotations')} is the validation split)"
            )
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def resolved_min_lr(self) -> float:
        """``min_lr``, or ``lr / 100`` when it is not set."""
        return self.lr * 0.01 if self.min_lr is None else self.min_lr

    @classmethod
    def from_dict(cls, data: Mapping, source: str = "config") -> TrainConfig:
        """A config from settings, flat (``FLAT_KEYS``) or sectioned (as ``to_dict``).

        Raises:
            ValueError: unknown keys (named, with ``source``), or invalid values.
        """
        data = sectioned(data)
        sections = {}
        for name, section in SECTIONS.items():
            values = data.pop(name)
            _check_keys(section, values, source, f"{name}.")
            sections[name] = section(**values)
        _check_keys(cls, data, source)
        return cls(**data, **sections)

    @classmethod
    def from_json(cls, path: str | Path, **overrides) -> TrainConfig:
        """Load a JSON config; ``overrides`` (flat or sectioned, e.g. from CLI flags) win."""
        data = sectioned(json.loads(Path(path).read_text()))
        overrides = sectioned(overrides)
        saved_min = data.get("min_lr")
        if "lr" in overrides and "min_lr" not in overrides and saved_min is not None:
            # configs saved before min_lr stayed unresolved hold lr/100: follow the new --lr
            data["min_lr"] = (
                None if math.isclose(saved_min, data.get("lr", cls.lr) * 0.01) else saved_min
            )
        for key, value in overrides.items():
            data[key] = {**data[key], **value} if key in SECTIONS else value
        return cls.from_dict(data, source=str(path))

    def to_dict(self) -> dict:
        """The sectioned settings (JSON types but tuples)."""
        return dataclasses.asdict(self)

    def save(self, path: str | Path) -> None:
        """Write the resolved config as JSON (atomically)."""
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")


#: The sections of ``TrainConfig``.
SECTIONS: dict[str, type] = {"model": ModelConfig, "augment": AugmentConfig}


def setting_fields() -> Iterator[tuple[str, dataclasses.Field]]:
    """Every setting, in ``TrainConfig``'s order with each section's fields in its place:
    ``(key, field)``, the key sectioned (``batch_size``, ``model.input_size``)."""
    for spec in dataclasses.fields(TrainConfig):
        if spec.name in SECTIONS:
            yield from (
                (f"{spec.name}.{f.name}", f) for f in dataclasses.fields(SECTIONS[spec.name])
            )
        else:
            yield spec.name, spec


#: Flat keys (``train.py`` flags, configs of earlier versions) that live in a section:
#: key → ``(section, field)``, e.g. ``augment`` (a bool) → ``("augment", "enabled")``. Every
#: other key is a field of ``TrainConfig`` itself.
FLAT_KEYS: dict[str, tuple[str, str]] = {
    flat_key(spec): tuple(key.split(".")) for key, spec in setting_fields() if "." in key
}
#: How messages name each setting (sectioned key → ``flag_name``).
FLAG_NAMES: dict[str, str] = {key: flag_of(spec, key) for key, spec in setting_fields()}


def flag_name(key: str) -> str:
    """The ``train`` flag of a setting (``model.input_size`` → ``--input-size``): how messages
    name it (a ``--config`` JSON uses the same names with underscores); a setting without a
    flag is named as in ``config.json`` (``augment.jitter (--config)``)."""
    return FLAG_NAMES.get(key) or "--" + key.split(".")[-1].replace("_", "-")


#: Former names of ``TrainConfig`` fields, accepted when loading.
RENAMED = {"eval_confidence": "eval_score_threshold"}


def sectioned(data: Mapping) -> dict:
    """Flat or sectioned settings → sectioned, each section a (possibly empty) dict.

    Former names (``RENAMED``) are renamed; the empty ``extra`` of earlier versions is dropped.
    """
    out: dict = {name: {} for name in SECTIONS}
    for key, value in data.items():
        key = RENAMED.get(key, key)
        if key == "extra" and value == {}:  # an unused field of earlier versions
            continue
        if key in SECTIONS and isinstance(value, Mapping):
            out[key].update(value)
        elif key in FLAT_KEYS:
            section, name = FLAT_KEYS[key]
            out[section][name] = value
        else:
            out[key] = value
    return out


def flat_defaults() -> dict:
    """The default of every flat key (``train.py``'s flags show them)."""
    config = TrainConfig()
    defaults = {f.name: getattr(config, f.name) for f in dataclasses.fields(TrainConfig)}
    for key, (section, name) in FLAT_KEYS.items():
        defaults[key] = getattr(getattr(config, section), name)
    return defaults


def _check_keys(kind: type, values: Mapping, source: str, prefix: str = "") -> None:
    unknown = sorted(set(values) - {f.name for f in dataclasses.fields(kind)})
    if unknown:
        raise ValueError(f"{source}: unknown config keys {[prefix + k for k in unknown]}")
