"""What ``--resume`` does with settings other than those the run was set up with.

A resumed run continues from its ``last.keras`` (model and optimizer state) and its
``train_state.json``, which holds the settings its last committed epoch trained with
(``config``; a state of an earlier version has none: then the run's ``config.json``). Each
setting of ``TrainConfig`` is one of four kinds here (``KINDS``; every field is classified, a
test checks it):

- ``"fixed"``: the resumed run cannot honour another value, so ``--resume`` refuses it (one
  line naming the flag, the value given and the run's): the model section (the model is loaded
  from ``last.keras``, built as it was), ``--mixed-precision`` (its layers keep their saved
  dtype), the optimizer and every LR schedule setting (the optimizer continues with its state
  and schedule), ``--epochs`` and ``--freeze-epochs`` (the schedule and phases span them).
- ``"rebuilt"``: ``--batch-size``, ``--freeze-batch-size``, ``--steps-per-epoch`` change the
  steps per epoch; accepted with a warning that the run is no longer exact, and the LR schedule
  of the continuing phase is rebuilt for the new steps (``trainer``), so that the LR still
  follows the run's epochs (with ``--scale-lr``, at the LR of the new batch).
- ``"inexact"``: the training data, augmentation, seed, ``--max-objects``; accepted with the
  same warning (the batches differ from the unbroken run's).
- ``"free"``: validation data, evaluation settings, ``--strategy``, ``--save-dir``: accepted
  silently (the training arithmetic does not depend on them).

Accepted changes are written to ``config.json`` (the warning says so) and recorded in
``train_state.json`` (``resumed_with_changes``: epoch, flag, run's value, new value) with the
next committed epoch.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from pathlib import Path

from centernet_keras.training.config import TrainConfig, flag_name

#: Kind of every setting (``TrainConfig`` field; ``model.*`` / ``augment.*`` for the sections).
KINDS: dict[str, str] = {
    **dict.fromkeys(("epochs", "freeze_epochs", "mixed_precision", "optimizer", "lr"), "fixed"),
    **dict.fromkeys(("min_lr", "scale_lr", "momentum", "weight_decay"), "fixed"),
    **dict.fromkeys(("lr_schedule", "warmup_epochs"), "fixed"),
    **dict.fromkeys(("batch_size", "freeze_batch_size", "steps_per_epoch"), "rebuilt"),
    **dict.fromkeys(("classes_path", "train_annotations", "train_json"), "inexact"),
    **dict.fromkeys(("train_images", "flip_pairs", "max_objects", "seed"), "inexact"),
    **dict.fromkeys(("val_annotations", "val_json", "val_images", "save_dir"), "free"),
    **dict.fromkeys(("train_tfds", "data_dir", "tfds_download"), "inexact"),
    "val_tfds": "free",
    **dict.fromkeys(("eval_every", "eval_score_threshold", "strategy"), "free"),
    "model": "fixed",
    "augment": "inexact",
}
#: The flag forms of the boolean settings: ``(when True, when False)``.
SWITCHES = {
    "scale_lr": ("--scale-lr", "--no-scale-lr"),
    "mixed_precision": ("--mixed-precision", "no --mixed-precision"),
    "augment.enabled": ("augmentation on", "--no-augment"),
}


class ResumeSettingsError(ValueError):
    """``--resume`` with a setting the resumed run cannot honour (see the module doc)."""


@dataclasses.dataclass(frozen=True)
class Change:
    """One setting given to ``--resume`` other than the run's.

    Attributes:
        key: the field (``model.input_size`` for a section's).
        run: the run's value (``run_config``).
        given: the value given now.
    """

    key: str
    run: object
    given: object

    @property
    def kind(self) -> str:
        """``"fixed"``, ``"rebuilt"``, ``"inexact"`` or ``"free"`` (``KINDS``)."""
        return KINDS.get(self.key, KINDS.get(self.key.split(".")[0], "fixed"))

    def describe(self) -> str:
        """e.g. ``--batch-size 2 (the run's: 4)``."""
        return f"{_phrase(self.key, self.given)} (the run's: {_phrase(self.key, self.run, False)})"

    def to_dict(self) -> dict:
        """JSON-ready, for ``train_state.json``."""
        return {"flag": flag_name(self.key), "run": _json(self.run), "given": _json(self.given)}


def _value(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, tuple | list):
        return ",".join(_value(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _phrase(key: str, value: object, with_flag: bool = True) -> str:
    if key in SWITCHES and isinstance(value, bool):
        return SWITCHES[key][0 if value else 1]
    return f"{flag_name(key)} {_value(value)}" if with_flag else _value(value)


def _json(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


def _flat(config: TrainConfig) -> dict:
    """``{key: value}`` with the sections' fields as ``model.x`` / ``augment.x``."""
    out = {}
    for key, value in config.to_dict().items():
        if isinstance(value, Mapping):
            out.update({f"{key}.{name}": v for name, v in value.items()})
        else:
            out[key] = value
    return out


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0)
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def config_changes(run: TrainConfig, given: TrainConfig, epochs_done: int) -> list[Change]:
    """The settings of ``given`` other than the ``run``'s that matter after ``epochs_done``
    epochs (``--freeze-batch-size`` no longer does once the freeze phase is over)."""
    ours, theirs = _flat(run), _flat(given)
    changes = [
        Change(key, ours.get(key), value)
        for key, value in theirs.items()
        if not _same(ours.get(key), value)
    ]
    if epochs_done >= run.freeze_epochs:
        changes = [c for c in changes if c.key != "freeze_batch_size"]
    return changes


def run_config(state: Mapping, config_path: str | Path) -> TrainConfig | None:
    """The settings the run's last committed epoch trained with: the state's ``config``, else
    (a state of an earlier version) the run's ``config.json``, else ``None``."""
    if state.get("config") is not None:
        return TrainConfig.from_dict(state["config"], source="train_state.json")
    path = Path(config_path)
    return TrainConfig.from_json(path) if path.exists() else None


def check_resume(
    given: TrainConfig, run: TrainConfig | None, save_dir: str | Path, epochs_done: int
) -> list[Change]:
    """Compare the settings given to ``--resume`` with the run's (``run_config``).

    Args:
        given: the settings given now.
        run: the run's settings (``None``: nothing to compare).
        save_dir: the run's folder (for the messages).
        epochs_done: the epochs the run committed.

    Returns:
        The accepted changes that alter the training (``"rebuilt"`` and ``"inexact"``; the
        caller warns, see ``warning``); ``"free"`` ones are left out.

    Raises:
        ResumeSettingsError: a ``"fixed"`` setting differs (one line: flag, given, the run's).
    """
    if run is None:
        return []
    changes = config_changes(run, given, epochs_done)
    fixed = [c for c in changes if c.kind == "fixed"]
    if fixed:
        listed = "; ".join(c.describe() for c in fixed)
        raise ResumeSettingsError(
            f"--resume cannot change how the run in {save_dir} was set up: {listed}; its model, "
            f"optimizer and LR schedule continue from {Path(save_dir) / 'last.keras'}. Resume "
            f"without {'these flags' if len(fixed) > 1 else 'this flag'}, or start a new run "
            f"from its weights: --model-path {Path(save_dir) / 'last.keras'} --save-dir "
            f"<new folder>"
        )
    return [c for c in changes if c.kind in ("rebuilt", "inexact")]


def warning(changes: list[Change], save_dir: str | Path) -> str:
    """The one-line warning of accepted ``changes``."""
    listed = "; ".join(c.describe() for c in changes)
    rebuilt = any(c.kind == "rebuilt" for c in changes)
    schedule = (
        " The LR schedule is rebuilt for the new steps per epoch, so the LR still follows the "
        "run's epochs." if rebuilt else ""
    )  # fmt: skip
    return (
        f"--resume with other settings than the run in {save_dir} was set up with: {listed}. "
        f"The run is no longer exact (an unbroken run would have trained on other batches)."
        f"{schedule} {Path(save_dir) / 'config.json'} now holds the new settings; "
        f"train_state.json lists the change."
    )
