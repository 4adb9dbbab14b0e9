"""centernet: the toolkit's one command line, a subcommand per task (CenterNet, pose, FCOS).

    centernet convert voc --voc-root VOCdevkit --year 2007      # or: convert coco --json ...
    centernet train --classes model_data/voc_classes.txt --train 2007_train.txt --val 2007_val.txt
    centernet val --model logs/best.keras --annotation-file 2007_val.txt
    centernet predict --model logs/best.keras --mode dir --input images/
    centernet export --model logs/best.keras --format onnx --output model.onnx
    centernet benchmark --model logs/best.keras --input street.jpg

Each subcommand is the same program as a top-level script (``train.py``, ``get_map.py``,
``predict.py``, ``voc_annotation.py``) with the same flags; ``centernet SUBCOMMAND --help``
lists them with their defaults.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence

#: subcommand → (module in ``centernet_keras.commands``, one-line description).
COMMANDS: dict[str, tuple[str, str]] = {
    "convert": ("convert", "VOC XML folders or a COCO JSON file → annotation-line files"),
    "check": ("check", "check a data set for a detector and input size before training"),
    "train": ("train", "train a detector (CenterNet boxes, pose, FCOS); resume, fine-tune"),
    "val": ("val", "evaluate a model: VOC / COCO box mAP, OKS keypoint AP (get_map.py)"),
    "predict": ("predict", "detect on an image, a folder, a video or a camera (predict.py)"),
    "export": ("export", "write the model for deployment: keras, saved_model, tflite, onnx"),
    "benchmark": ("benchmark", "time a model on this machine: preprocess, forward, decode"),
    "track": ("track", "track objects through a video or frames: ids, MOTChallenge tracks.txt"),
}


#: The exit code of a command stopped by Ctrl-C: 128 + SIGINT, as a shell reports it.
INTERRUPTED = 130


def interruptible(run: Callable[[], int | None]) -> int:
    """``run()``'s exit code; Ctrl-C (``KeyboardInterrupt``) anywhere in it is one line,
    ``interrupted``, on stderr and exit code :data:`INTERRUPTED`, not a traceback. (``train``
    catches it itself first, to say where the run is saved and how to resume it.)"""
    try:
        return int(run() or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return INTERRUPTED


def usage() -> str:
    """``centernet --help``: the subcommands and what each does."""
    title, examples = __doc__.split("\n\n")[:2]
    width = max(map(len, COMMANDS))
    rows = "\n".join(f"  {name:<{width}}  {text}" for name, (_, text) in COMMANDS.items())
    return (
        "usage: centernet SUBCOMMAND [options]    (centernet SUBCOMMAND --help: its options)\n\n"
        f"{title}\n\n{examples}\n\nsubcommands:\n{rows}\n"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``centernet SUBCOMMAND ARGS...``; returns the subcommand's exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0 if argv else 2
    if argv[0] == "--version":
        from importlib.metadata import version

        print(f"centernet-keras {version('centernet-keras')}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(
            f"centernet: error: unknown subcommand {name!r}; one of: {', '.join(COMMANDS)}",
            file=sys.stderr,
        )
        return 2
    program = sys.argv[0]
    sys.argv[0] = f"centernet {name}"  # argparse's prog: usage lines say "centernet train"
    try:
        module = f"centernet_keras.commands.{COMMANDS[name][0]}"
        return interruptible(lambda: importlib.import_module(module).main(rest))
    finally:
        sys.argv[0] = program


if __name__ == "__main__":
    sys.exit(main())
