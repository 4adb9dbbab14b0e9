"""A run's folder at the start of ``train``: recovered to its last committed epoch
(``--resume``) or cleared for a new run, and the resumed run's changed settings."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from centernet_keras.training.artefacts import PICTURES
from centernet_keras.training.callbacks import LAST, read_state, recover, start_fresh
from centernet_keras.training.config import TrainConfig
from centernet_keras.training.resume import Change, check_resume, run_config
from centernet_keras.training.resume import warning as resume_warning

log = logging.getLogger("centernet_keras.training")
CONFIG_FILE = "config.json"
TENSORBOARD = "tensorboard"
#: What a run writes besides its checkpoints, state and log (a new run removes them first).
RUN_OUTPUTS = (*PICTURES, f"{TENSORBOARD}/**/events.out.tfevents.*")


def nothing_to_resume(save_dir: Path, chief: bool = True) -> str:
    """The ``--resume`` error for a ``save_dir`` that holds no run (or does not exist)."""
    shared = "" if chief else " (every worker resumes from the chief's --save-dir: put it "
    shared += "" if chief else "on storage that all machines share)"
    return (
        f"nothing to resume in {save_dir}: no run there (no {CONFIG_FILE}, {LAST} or "
        f"train_state.json); start the run without --resume{shared}"
    )


def resume_state(
    config: TrainConfig, save_dir: Path, resume: bool, chief: bool = True
) -> dict | None:
    """Recover ``save_dir`` to its last committed epoch (``--resume``) or clear it (new run).

    The other workers of a multi-worker run (``chief=False``) change nothing: they read the
    state the chief recovered.

    Raises:
        FileNotFoundError: ``--resume`` with no run in ``save_dir``.
        ValueError: the run is finished, or ``epochs`` / ``freeze_epochs`` differ from the
            run's (its LR schedule and phases were set up for them).
    """
    if not resume:
        if chief:
            start_fresh(save_dir, RUN_OUTPUTS)
        return None
    state = recover(save_dir) if chief else read_state(save_dir)
    if state is None and (save_dir / CONFIG_FILE).exists():
        log.warning(
            "no completed epoch in %s to resume (killed during its first epoch): starting the "
            "run from the beginning",
            save_dir,
        )
        if chief:
            start_fresh(save_dir, RUN_OUTPUTS)
        return None
    if state is None or not (save_dir / LAST).exists():
        raise FileNotFoundError(nothing_to_resume(save_dir, chief))
    spans = {key: state[key] for key in ("epochs", "freeze_epochs") if key in state}
    if any(value != getattr(config, key) for key, value in spans.items()):
        # the LR schedule and phases span them: refused as resume.py refuses any such flag
        check_resume(config, replace(config, **spans), save_dir, state["epoch"])
    if state["epoch"] >= config.epochs:
        raise ValueError(
            f"the run in {save_dir} already finished its {config.epochs} epochs; nothing to "
            f"resume. To train longer, start a new run from its weights: --model-path "
            f"{save_dir / LAST} --epochs N --save-dir <new folder>"
        )
    return state


def resumed_changes(config: TrainConfig, save_dir: Path, state: dict | None) -> list[Change]:
    """The settings of a resumed run other than those its last committed epoch trained with
    that ``resume.check_resume`` accepts (warned about here; refused ones raise
    ``ResumeSettingsError``). ``[]`` for a new run."""
    if not state:
        return []
    changes = check_resume(config, run_config(state, save_dir / CONFIG_FILE), save_dir,
                           state["epoch"])  # fmt: skip
    if changes:
        log.warning("%s", resume_warning(changes, save_dir))
    return changes
