"""Training configuration: one typed dataclass, loadable from JSON, saved next to the weights."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path

from centernet_keras.io import atomic_write_text


@dataclass
class TrainConfig:
    """Everything ``train`` needs; ``train.py`` flags and ``--config`` JSON map onto it.

    Paths are as given (relative to the working directory). ``weights`` is the backbone's
    (``"imagenet"``, a file, or ``None``); ``model_path`` optionally starts from a full
    ``.keras`` model (fine-tuning).
    """

    classes_path: str = "model_data/voc_classes.txt"
    train_annotations: str = "2007_train.txt"
    val_annotations: str | None = "2007_val.txt"
    save_dir: str = "logs"
    # model
    backbone: str = "resnet50"
    input_size: tuple[int, int] = (512, 512)
    weights: str | None = "imagenet"
    model_path: str | None = None
    neck_filters: tuple[int, ...] | None = None
    head_channels: int | None = None
    image_resize: str = "letterbox"
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
    # augmentation
    augment: bool = True
    jitter: float = 0.3
    scale_range: tuple[float, float] = (0.25, 2.0)
    flip_prob: float = 0.5
    hue: float = 0.1
    sat: float = 1.5
    val: float = 1.5
    # bookkeeping
    eval_every: int = 0
    eval_confidence: float = 0.01
    seed: int = 0
    mixed_precision: bool = False
    strategy: str = "none"
    steps_per_epoch: int | None = None

    def __post_init__(self) -> None:
        self.input_size = tuple(int(v) for v in self.input_size)
        self.scale_range = tuple(float(v) for v in self.scale_range)
        if self.neck_filters is not None:
            self.neck_filters = tuple(int(v) for v in self.neck_filters)
        if self.weights in ("none", "None", ""):
            self.weights = None
        problems = []
        if self.optimizer not in ("adam", "sgd"):
            problems.append(f"optimizer must be 'adam' or 'sgd', got {self.optimizer!r}")
        if self.lr_schedule not in ("cos", "step"):
            problems.append(f"lr_schedule must be 'cos' or 'step', got {self.lr_schedule!r}")
        if self.strategy not in ("none", "mirrored"):
            problems.append(f"strategy must be 'none' or 'mirrored', got {self.strategy!r}")
        if not 0 <= self.freeze_epochs <= self.epochs:
            problems.append(f"need 0 <= freeze_epochs ({self.freeze_epochs}) <= epochs")
        if len(self.input_size) != 2 or any(v % 32 for v in self.input_size):
            problems.append(f"input_size must be (h, w), multiples of 32: {self.input_size}")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def resolved_min_lr(self) -> float:
        """``min_lr``, or ``lr / 100`` when it is not set."""
        return self.lr * 0.01 if self.min_lr is None else self.min_lr

    @classmethod
    def from_json(cls, path: str | Path, **overrides) -> TrainConfig:
        """Load a JSON config; ``overrides`` (e.g. from CLI flags) win. Unknown keys raise."""
        data = json.loads(Path(path).read_text())
        if data.get("extra") == {}:  # an unused field of earlier versions
            del data["extra"]
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{path}: unknown config keys {unknown}")
        saved_min = data.get("min_lr")
        if "lr" in overrides and "min_lr" not in overrides and saved_min is not None:
            # configs saved before min_lr stayed unresolved hold lr/100: follow the new --lr
            data["min_lr"] = (
                None if math.isclose(saved_min, data.get("lr", cls.lr) * 0.01) else saved_min
            )
        data.update(overrides)
        return cls(**data)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def save(self, path: str | Path) -> None:
        """Write the resolved config as JSON (atomically)."""
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")
