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
import logging
import os
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from centernet_keras.training.config import TrainConfig

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter

FLAGS = [
    # (flag, config key (flat: see training.config.FLAT_KEYS), type, help); the default shown
    # is TrainConfig's
    (
        "--classes",
        "classes_path",
        str,
        "class names file, one per line (default: model_data/voc_classes.txt with --train; "
        "the file's categories with --train-json, or, given, the categories of these names)",
    ),
    ("--train", "train_annotations", str, "training annotation lines (path x1,y1,x2,y2,cls ...)"),
    ("--val", "val_annotations", str, "validation annotation lines ('' for none)"),
    (
        "--train-json",
        "train_json",
        str,
        "COCO JSON of the training split (instances_*.json, or person_keypoints_*.json for "
        "--detector pose), instead of --train/--val",
    ),
    ("--train-images", "train_images", str, "image folder of --train-json"),
    ("--val-json", "val_json", str, "COCO JSON of the validation split (with --train-json)"),
    ("--val-images", "val_images", str, "image folder of --val-json"),
    (
        "--flip-pairs",
        "flip_pairs",
        str,
        "left/right joints the training flip swaps, saved with the model (flip test too): "
        "'A:B,C:D', each joint a 1-based index or a name (e.g. '2:3,4:5' or 'l_eye:r_eye'), or "
        "'none' (default: the keypoints file's 'flip_pairs', else from the names: left_X/right_X, "
        "l_X/r_X, X_left, LeftX…)",
    ),
    ("--save-dir", "save_dir", str, "output folder for checkpoints and logs"),
    ("--backbone", "backbone", str, "one of: {backbones}"),
    ("--weights", "weights", str, "backbone weights: imagenet | none | path to a weights file"),
    ("--model-path", "model_path", str, "start from a full .keras model (default: none)"),
    (
        "--head-channels",
        "head_channels",
        int,
        "width of each head's 3x3 conv (default: 64; 256 for dla34*; fcos: of both stem "
        "convs, default 64)",
    ),
    ("--resize", "image_resize", str, "letterbox (keep aspect, gray pad) | resize (stretch)"),
    (
        "--max-objects",
        "max_objects",
        int,
        "centernet, pose: objects per image trained on (the first ones; images with more are "
        "reported); fcos trains on every box",
    ),
    (
        "--freeze-epochs",
        "freeze_epochs",
        int,
        "epochs of phase 1, with the pretrained backbone layers frozen (with --weights none "
        "nothing is pretrained, so phase 1 trains all layers, with a warning)",
    ),
    ("--freeze-batch-size", "freeze_batch_size", int, "batch size of phase 1"),
    ("--epochs", "epochs", int, "total epochs (phase 1 + phase 2)"),
    ("--batch-size", "batch_size", int, "batch size of phase 2 (backbone unfrozen)"),
    (
        "--optimizer",
        "optimizer",
        str,
        "adam (Keras' Adam, eps 1e-7 before the bias correction) | adam_torch (torch.optim.Adam "
        "as the reference trains: eps 1e-8 after it) | sgd (Nesterov)",
    ),
    ("--lr", "lr", float, "initial learning rate (the rate for batch 64 with --scale-lr)"),
    ("--min-lr", "min_lr", float, "final learning rate (default: lr/100)"),
    ("--momentum", "momentum", float, "SGD momentum"),
    ("--weight-decay", "weight_decay", float, "decoupled weight decay (0 = off)"),
    ("--lr-schedule", "lr_schedule", str, "cos (warmup + cosine) | step"),
    ("--warmup-epochs", "warmup_epochs", float, "linear warmup length (cos schedule)"),
    (
        "--eval-every",
        "eval_every",
        int,
        "validation VOC mAP@0.5 (and a pose model's keypoint AP) every N epochs and after the "
        "last; best.keras is the evaluated epoch with the best of it (0 = off: best.keras by "
        "validation loss)",
    ),
    ("--seed", "seed", int, "seed of shuffling, augmentation and initialisation"),
    (
        "--strategy",
        "strategy",
        str,
        "none | mirrored (all GPUs, else all logical CPUs) | multiworker (several machines, "
        "from TF_CONFIG; README: Training on several machines)",
    ),
    ("--steps-per-epoch", "steps_per_epoch", int, "fixed steps per epoch (default: one pass)"),
]


def _defaults() -> dict:
    """TrainConfig's defaults by flat key."""
    from centernet_keras.training.config import flat_defaults

    return flat_defaults()


def _detector_names() -> list[str]:
    from centernet_keras.models.registry import detector_names  # Keras-free: the registry's

    return detector_names()


def _neck_names() -> list[str]:
    from centernet_keras.choices import NECK_NAMES

    return sorted(NECK_NAMES)


def _backbone_names() -> str:
    from centernet_keras.choices import BACKBONE_ALIASES, BACKBONE_NAMES

    return " | ".join(sorted(BACKBONE_NAMES) + sorted(BACKBONE_ALIASES))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The flags; building the parser imports neither Keras nor TensorFlow (fast ``--help``)."""
    defaults = _defaults()
    backbones = _backbone_names()
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument(
        "--config",
        help="JSON settings, sectioned like config.json or flat with these flags' names (flags "
        "override it)",
    )
    parser.add_argument(
        "--detector",
        choices=_detector_names(),
        default=None,
        help=f"the detector to train (default: {defaults['detector']})",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --save-dir after its last completed epoch, with its settings "
        "(flags it cannot honour, e.g. --epochs or --lr, are refused; --batch-size is accepted "
        "with a warning and the LR schedule rebuilt)",
    )
    size = defaults["input_size"]
    parser.add_argument(
        "--input-size",
        help=f"network input 'H,W', or 'S' for SxS; multiples of 32 (default: {size[0]},{size[1]})",
    )
    parser.add_argument(
        "--neck",
        choices=_neck_names(),
        default=None,
        help="the neck between backbone and heads (default: fpn for --detector fcos, the only "
        "one it takes; else per backbone: dla_up for dla34, skip for regnetx_400mf and the "
        "former *_fpn names, else deconv)",
    )
    parser.add_argument(
        "--neck-filters",
        help="filters of the deconv / skip neck's 3 upsampling stages, e.g. '256,128,64', or "
        "the fpn's one width, e.g. '64' (default: per backbone and neck; fpn 64)",
    )
    parser.add_argument("--mixed-precision", action="store_true", default=None,
                        help="float16 (GPU) / bfloat16 (CPU) compute, float32 weights")  # fmt: skip
    parser.add_argument("--no-augment", dest="augment", action="store_false", default=None,
                        help="train without random augmentation")  # fmt: skip
    parser.add_argument(
        "--scale-lr",
        dest="scale_lr",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="scale --lr (and --min-lr) by batch/64, clamped to Adam [2.5e-4, 5e-4] or SGD "
        "[5e-4, 5e-2] (min_lr: 1/100 of those), the Keras ports' rule; --no-scale-lr trains at "
        f"--lr as given (default: {'--scale-lr' if defaults['scale_lr'] else '--no-scale-lr'})",
    )
    parser.add_argument("--quiet", action="store_true", help="one line per epoch")
    for flag, field, kind, text in FLAGS:
        text = text.format(backbones=backbones)
        if "(default:" not in text:
            text = f"{text} (default: {defaults[field]})"
        parser.add_argument(flag, dest=field, type=kind, default=None, help=text)
    return parser.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The ``TrainConfig`` of the parsed flags: ``--config`` (or, with ``--resume``, the run's
    ``config.json``) with the flags given overriding it, else the defaults with the flags."""
    from centernet_keras.training import TrainConfig
    from centernet_keras.training.trainer import CONFIG_FILE, nothing_to_resume

    if args.train_json and (args.train_annotations or args.val_annotations):
        raise ValueError("--train/--val (annotation lines) and --train-json exclude each other")
    overrides = {k: v for k, v in vars(args).items() if v is not None}
    for key in ("config", "resume", "quiet"):
        overrides.pop(key, None)
    if args.input_size:
        size = [int(v) for v in args.input_size.split(",")]
        overrides["input_size"] = size * 2 if len(size) == 1 else size
    if args.neck_filters is not None:
        overrides["neck_filters"] = [int(v) for v in args.neck_filters.split(",") if v]
    if overrides.get("val_annotations") == "":
        overrides["val_annotations"] = None
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
    from centernet_keras.training.callbacks import read_state

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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from centernet_keras.backbones import WeightsUnavailableError
    from centernet_keras.console import INTERRUPTED
    from centernet_keras.training import train
    from centernet_keras.training.distribute import ClusterError
    from centernet_keras.training.interrupt import InterruptGuard

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


if __name__ == "__main__":
    sys.exit(main())
