r"""Train a detector (CenterNet, CenterNet pose or FCOS) on annotation lines or COCO JSON.

    centernet train --classes model_data/voc_classes.txt --train 2007_train.txt --val 2007_val.txt
    centernet train --train-json instances_train2017.json --train-images train2017 \
        --val-json instances_val2017.json --val-images val2017           # no conversion step
    centernet train --detector pose --backbone dla34 \
        --train-json person_keypoints_train2017.json --train-images train2017 \
        --val-json person_keypoints_val2017.json --val-images val2017
    centernet train --detector fcos --backbone regnetx_400mf --weights none \
        --classes model_data/voc_classes.txt --train 2007_train.txt --val 2007_val.txt
    centernet train --config my_run.json                 # flags override the JSON
    centernet train --resume --save-dir logs              # continue a killed run

``python train.py ...`` (the top-level script) runs the same program with the same flags.

Writes to --save-dir: config.json (resolved settings, with "model" and "augment" sections),
last.keras / best.keras (atomic), train_state.json (for --resume), log.csv, loss.png,
results.png (every loss term, val mAP and LR per epoch), tensorboard/; with a validation set
also val_predictions.jpg (detections on up to 16 validation images, every --eval-every epochs
and after the last) and confusion_matrix.png / .csv (after the last epoch). A --config JSON may
be sectioned like config.json or flat (the flags' names, as earlier versions wrote config.json).
"""

from __future__ import annotations

import argparse
import os
import sys

from centernet_keras.cli import new_parser
from centernet_keras.training.config import flag_name, setting_fields
from centernet_keras.training.settings import flat_key

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter


def default_text(default: object, action: object, flag: str) -> str | None:
    """A setting's default as ``train --help`` states it: ``512,512`` for a pair, the flag
    or its ``--no-`` form for an on/off pair (``--scale-lr``), nothing for ``None`` or a
    one-way switch (``--mixed-precision``, ``--no-augment``)."""
    if action is argparse.BooleanOptionalAction:
        return flag if default else f"--no-{flag[2:]}"
    if default is None or action is not None:
        return None
    if isinstance(default, tuple | list):
        return ",".join(str(v) for v in default)
    return str(default)


def add_setting_flags(parser: argparse.ArgumentParser) -> None:
    """A flag for every setting whose field declares one (``training.settings``), in
    ``TrainConfig``'s order. Each stores under its flat key with default ``None``: a flag not
    given leaves the ``--config`` JSON's value (or the field's default), which its help states.
    """
    for key, spec in setting_fields():
        options = dict(spec.metadata)
        if "help" not in options:
            continue  # a --config key only
        flag, dest, text = flag_name(key), flat_key(spec), options.pop("help")
        for name in ("flag", "key"):  # said by flag and dest
            options.pop(name, None)
        if callable(options.get("choices")):
            options["choices"] = options["choices"]()  # e.g. the registered detectors
        shown = default_text(spec.default, options.get("action"), flag)
        if shown is not None and "default" not in text:
            text = f"{text} (default: {shown})"
        if "action" not in options and "choices" not in options:
            options.setdefault("metavar", flag[2:].upper().replace("-", "_"))
        parser.add_argument(flag, dest=dest, default=None, help=text, **options)


def build_parser() -> argparse.ArgumentParser:
    """The flags of ``centernet train``; building it imports neither Keras nor TensorFlow."""
    parser = new_parser(__doc__)
    parser.add_argument(
        "--config",
        help="JSON settings, sectioned like config.json or flat with these flags' names (flags "
        "override it)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --save-dir after its last completed epoch, with its settings "
        "(flags it cannot honour, e.g. --epochs or --lr, are refused; --batch-size is accepted "
        "with a warning and the LR schedule rebuilt)",
    )
    parser.add_argument("--quiet", action="store_true", help="one line per epoch")
    add_setting_flags(parser)
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The parsed flags (``build_parser``)."""
    return build_parser().parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """``centernet train``: exit code 0, 2 with a one-line error, 130 on Ctrl-C."""
    return run_command(parse_args(argv))


def run_command(args: argparse.Namespace, check: bool = False) -> int:
    """Run parsed train flags: train (``train_run``), or with ``check`` the dataset doctor
    (``check_run``: ``centernet check`` takes train's flags)."""
    from centernet_keras.commands import check_run, train_run  # Keras/TF: not for --help

    return (check_run if check else train_run).run(args)


if __name__ == "__main__":
    sys.exit(main())
