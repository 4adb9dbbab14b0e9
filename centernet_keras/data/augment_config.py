"""``AugmentConfig``: the settings of the random training augmentation (``data.augment``), plain
data without TensorFlow, so a ``TrainConfig`` is built (and ``train --help`` shows its defaults)
before TensorFlow loads."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class AugmentConfig:
    """The random training augmentation: one section of ``TrainConfig`` and ``PipelineConfig``.

    Only ``enabled`` has a ``train`` flag (``--no-augment``; its field metadata as
    ``training.settings`` describes it); the others are set in a ``--config`` JSON.

    Attributes:
        enabled: augment training images; ``False`` trains on the deterministic letterbox /
            resize of validation (the other fields are then unused).
        jitter: aspect jitter ``j``: the aspect ratio is multiplied by ``U(1−j, 1+j) /
            U(1−j, 1+j)`` (``random_geometry``).
        scale_range: range of the random size, as a fraction of the input size.
        flip_prob: horizontal flip probability.
        hue, sat, val: HSV jitter limits (``hsv_jitter``).
    """

    enabled: bool = field(
        default=True,
        metadata={
            "help": "train without random augmentation",
            "flag": "--no-augment",
            "key": "augment",  # a bool in a flat config
            "action": "store_false",
        },
    )
    jitter: float = 0.3
    scale_range: tuple[float, float] = (0.25, 2.0)
    flip_prob: float = 0.5
    hue: float = 0.1
    sat: float = 1.5
    val: float = 1.5

    def __post_init__(self) -> None:
        self.enabled = bool(self.enabled)
        self.scale_range = tuple(float(v) for v in self.scale_range)
