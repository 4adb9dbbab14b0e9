"""Examine a data set's splits for a built detector: survey, round trip, findings, in one call
(``centernet check`` prints its tables; ``centernet train`` logs its summary at start)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from centernet_keras.data.annotations import ImageRecord
from centernet_keras.doctor.findings import Finding, findings, finest_stride, leaked, summary, table
from centernet_keras.doctor.learnable import learnable
from centernet_keras.doctor.survey import Survey, survey


@dataclass
class Examination:
    """The doctor's result: per split its survey and findings (the validation split's include
    the images it shares with training)."""

    surveys: dict[str, Survey]
    found: dict[str, list[Finding]]
    class_names: list[str]
    stride: int
    joint_names: tuple[str, ...] = ()

    @property
    def fails(self) -> bool:
        """Whether a finding fails the check (``findings`` says which do)."""
        return any(f.fails for found in self.found.values() for f in found)

    def tables(self) -> str:
        """Every split's table."""
        return "\n\n".join(
            table(split, self.surveys[split], found, self.class_names, self.joint_names)
            for split, found in self.found.items()
        )

    def summary(self) -> str:
        """The first split's one-paragraph summary."""
        split = next(iter(self.found))
        return summary(split, self.surveys[split], self.found[split], len(self.class_names))


def examine(
    model,
    splits: Mapping[str, Sequence[ImageRecord] | None],
    class_names: Sequence[str],
    max_objects: int = 100,
    limit: int | None = None,
) -> Examination:
    """Survey and round trip each split for ``model`` at its input size and resize mode.

    Args:
        model: a built detector with a fixed input size (weights do not matter).
        splits: split name → its records (``None``: no such split); the first is the training
            split, and the validation split (``"validation"``) is checked against it for
            shared images.
        class_names: the data's classes.
        max_objects: the target slots per image (``--max-objects``).
        limit: round trip only the first ``limit`` images of each split (``None``: all).
    """
    input_hw = model.input_hw()
    letterbox = model.image_resize == "letterbox"
    stride = finest_stride(type(model))
    surveys, found = {}, {}
    for index, (split, records) in enumerate(splits.items()):
        if records is None:
            continue
        data = survey(records, input_hw, letterbox)
        keep = learnable(model, data, max_objects, limit)
        surveys[split] = data
        found[split] = findings(data, keep, stride, len(class_names), training=index == 0)
    names = list(surveys)
    if len(names) > 1:
        found[names[1]].append(leaked(surveys[names[0]], surveys[names[1]]))
    spec = model.keypoint_spec
    joints = () if spec is None else tuple(spec.names)
    return Examination(surveys, found, list(class_names), stride, joints)
