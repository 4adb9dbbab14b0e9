"""Running ``centernet train`` (``commands/train.py`` holds its flags): the flags → a
``TrainConfig``, the training with Ctrl-C reported as where the run stands, the exit code.
Imports Keras and TensorFlow (through the trainer): ``train --help`` does not load this module.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from pathlib import Path

from centernet_keras.backbones import WeightsUnavailableError
from centernet_keras.console import INTERRUPTED
from centernet_keras.training.callbacks import read_state
from centernet_keras.training.config import TrainConfig, setting_fields
from centernet_keras.training.distribute import ClusterError
from centernet_keras.training.interrupt import InterruptGuard
from centernet_keras.training.run_state import CONFIG_FILE, nothing_to_resume
from centernet_keras.training.settings import flat_key
from centernet_keras.training.trainer import train


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The ``TrainConfig`` of the parsed flags: ``--config`` (or, with ``--resume``, the run's
    ``config.json``) with the flags given overriding it, else the defaults with the flags."""
    if args.train_json and (args.train_annotations or args.val_annotations):
        raise ValueError("--train/--val (annotation lines) and --train-json exclude each other")
    if args.train_tfds and (args.train_annotations or args.val_annotations):
        raise ValueError("--train/--val (annotation lines) and --train-tfds exclude each other")
    given = {flat_key(spec): getattr(args, flat_key(spec), None) for _, spec in setting_fields()}
    overrides = {key: value for key, value in given.items() if value is not None}
    config_path = args.config
    if args.resume and not config_path:
        save_dir = Path(overrides.get("save_dir", "logs"))
        config_path = str(save_dir / CONFIG_FILE)
        if not Path(config_path).is_file():
            raise FileNotFoundError(nothing_to_resume(save_dir))
    if config_path:
        return TrainConfig.from_json(config_path, **overrides)
    return TrainConfig.from_dict(overrides, source="flags")


def interrupted(config: TrainConfig | None) -> str:
    """The one line ``train`` prints after Ctrl-C: the last epoch its ``--save-dir`` holds
    (committed: ``--resume`` continues after it) and the command that resumes the run."""
    if config is None:
        return "interrupted"
    save_dir = config.save_dir
    try:
        state = read_state(save_dir)
    except (OSError, ValueError):
        state = None
    if not state:
        return (
            f"interrupted: the run in {save_dir} completed no epoch yet, so nothing is saved to "
            "resume; run the command again to start it over"
        )
    resume = f"centernet train --resume --save-dir {shlex.quote(str(save_dir))}"
    return (
        f"interrupted: the run in {save_dir} is saved at epoch {state['epoch']} of "
        f"{state.get('epochs', config.epochs)}; resume with `{resume}`"
    )


def run(args: argparse.Namespace) -> int:
    """Train as the parsed flags say; print where the model is saved. Exit code 0, 2 with a
    one-line error, ``INTERRUPTED`` on Ctrl-C."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    config = None
    try:
        config = config_from_args(args)
        with InterruptGuard() as guard:  # Ctrl-C in a garbage-collector callback is not lost
            verbose = 2 if args.quiet else "auto"
            result = train(config, resume=args.resume, verbose=verbose, extra_callbacks=[guard])
    except (ValueError, FileNotFoundError, ClusterError, WeightsUnavailableError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: where the run stands, not a traceback
        print(interrupted(config), file=sys.stderr)
        return INTERRUPTED
    skipped = result.describe_skipped()
    if not result.chief:
        print(f"done: the chief saved the run to its {result.save_dir} ({skipped})")
        return 0
    best = f" ({result.best.describe(config.epochs)})" if result.best else ""
    print(f"saved: {result.save_dir}/best.keras{best} and last.keras ({skipped})")
    return 0
