"""Training configuration: typed dataclasses, loadable from JSON, saved next to the weights.

``TrainConfig`` holds the run's settings and two sections: ``model`` (``ModelConfig``: which
detector to build) and ``augment`` (``AugmentConfig``, the one the ``tf.data`` pipeline uses).
``save`` writes the sections as nested objects; ``from_json`` / ``from_dict`` read that and the
flat form of earlier versions (every field at the top level, ``augment`` a bool,
``eval_confidence``), which is also the form of ``train.py``'s flags (``FLAT_KEYS``).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from centernet_keras.choices import OPTIMIZERS, STRATEGIES
from centernet_keras.data.augment_config import AugmentConfig
from centernet_keras.io import atomic_write_text
from centernet_keras.models.registry import detector_class, detector_names


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

    detector: str = "centernet"
    backbone: str = "resnet50"
    neck: str | None = None
    input_size: tuple[int, int] = (512, 512)
    weights: str | None = "imagenet"
    model_path: str | None = None
    neck_filters: tuple[int, ...] | None = None
    head_channels: int | None = None
    image_resize: str = "letterbox"

    def __post_init__(self) -> None:
        self.input_size = tuple(int(v) for v in self.input_size)
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
    the line fields are then unused and saved as ``None``. See ``training.data``.
    ``flip_pairs`` (``--flip-pairs``, keypoints files only) overrides the file's left/right
    joint pairs (``keypoints.parse_flip_pairs``).
    """

    classes_path: str | None = None
    train_annotations: str | None = "2007_train.txt"
    val_annotations: str | None = "2007_val.txt"
    train_json: str | None = None
    train_images: str | None = None
    val_json: str | None = None
    val_images: str | None = None
    flip_pairs: str | None = None
    save_dir: str = "logs"
    model: ModelConfig = field(default_factory=ModelConfig)
    max_objects: int = 100
    # schedule
    freeze_epochs: int = 50
    freeze_batch_size: int = 16
    epochs: int = 100
    batch_size: int = 8
    optimizer: str = "adam"
    lr: float = 5e-4
    min_lr: float | None = None
    scale_lr: bool = True
    momentum: float = 0.9
    weight_decay: float = 0.0
    lr_schedule: str = "cos"
    warmup_epochs: float = 1.0
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    # bookkeeping
    eval_every: int = 0
    eval_score_threshold: float = 0.01
    seed: int = 0
    mixed_precision: bool = False
    strategy: str = "none"
    steps_per_epoch: int | None = None

    def __post_init__(self) -> None:
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
#: Flat keys (``train.py`` flags, configs of earlier versions) that live in a section:
#: key → ``(section, field)``. Every other key is a field of ``TrainConfig`` itself.
FLAT_KEYS: dict[str, tuple[str, str]] = {
    **{f.name: ("model", f.name) for f in dataclasses.fields(ModelConfig)},
    **{
        f.name: ("augment", f.name)
        for f in dataclasses.fields(AugmentConfig)
        if f.name != "enabled"
    },
    "augment": ("augment", "enabled"),  # a bool in a flat config
}
#: Settings whose ``train`` flag is not ``--`` + the field's name with dashes.
FLAG_NAMES = {
    "classes_path": "--classes",
    "train_annotations": "--train",
    "val_annotations": "--val",
    "model.image_resize": "--resize",
    "eval_score_threshold": "eval_score_threshold (--config)",
}


def flag_name(key: str) -> str:
    """The ``train`` flag of a setting (``model.input_size`` → ``--input-size``): how messages
    name it (a ``--config`` JSON uses the same names with underscores); a setting without a
    flag is named as in ``config.json`` (``augment.jitter``)."""
    if key in FLAG_NAMES:
        return FLAG_NAMES[key]
    if key.startswith("augment."):
        return f"{key} (--config)"
    return "--" + key.split(".")[-1].replace("_", "-")


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
