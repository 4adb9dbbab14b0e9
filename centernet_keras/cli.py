"""Command-line pieces shared by the commands: the parser, the model, inference and runtime
flags, the ``Predictor`` they describe, and how errors become exit codes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from centernet_keras.choices import (
    DEFAULT_CALIBRATION_COUNT,
    DEFAULT_TILE_OVERLAP,
    MIN_TILE,
    QUANTIZATIONS,
    RUNTIMES,
)
from centernet_keras.data.classes import class_list_difference, read_classes
from centernet_keras.decoder_defaults import (
    FCOS_IOU_THRESHOLD,
    KEYPOINT_THRESHOLD,
    POSE_IOU_THRESHOLD,
    auto_iou_threshold,
)

#: What a CLI reports as one line ``error: <message>`` (exit code 1) instead of a traceback: a
#: missing or malformed file, a value that does not fit the model.
USER_ERRORS = (OSError, ValueError, TypeError)


class UsageError(ValueError):
    """A command line that asks for what cannot be done, found once the model is loaded (a
    ``--classes`` file that does not fit it): one line ``error: <message>`` and exit code 2,
    as argparse reports a flag it refuses (:func:`run_reporting_errors`)."""


def iou_threshold(value: str) -> float | str | None:
    """``--iou-threshold``: ``auto`` (the model's own), ``none`` (→ ``None``) or an IoU in
    (0, 1]."""
    word = value.lower()
    if word in ("auto", "none"):
        return None if word == "none" else "auto"
    try:
        iou = float(value)
    except ValueError:
        iou = float("nan")
    if not 0.0 < iou <= 1.0:  # argparse would name this function: "invalid iou_threshold value"
        raise argparse.ArgumentTypeError(f"{value!r} is not 'auto', 'none' or an IoU in (0, 1]")
    return iou


def _positive(value: str, what: str) -> int:
    """``value`` as an integer of at least 1, else argparse's error naming ``what``."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive {what}")
    return number


def positive_int(value: str) -> int:
    """A count of at least 1 (``--max-detections``)."""
    return _positive(value, "whole number")


def input_side(value: str) -> int:
    """``--input-size``: a side in pixels, a positive integer."""
    return _positive(value, "number of pixels")


def _nms_as_built() -> str:
    """What a newly built model of each detector holds as its NMS IoU, from the builders'
    defaults (``decoder_defaults``; ``--iou-threshold``'s help)."""

    def text(iou: float | None) -> str:
        return "none" if iou is None else f"{iou:g}"

    return (
        f"CenterNet {text(auto_iou_threshold('resnet50'))} with a ResNet backbone, else "
        f"{text(auto_iou_threshold('dla34'))}; FCOS {text(FCOS_IOU_THRESHOLD)}; pose "
        f"{text(POSE_IOU_THRESHOLD)}"
    )


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Description and epilog kept as written; each option's help ends with its default.

    The default is added unless the help already speaks of it, and not for ``None`` or
    ``False`` defaults (an unset option, an off switch).
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        help_text = action.help or ""
        if "default" in help_text.lower() or action.default in (None, False):
            return help_text
        return super()._get_help_string(action)


def new_parser(doc: str, prog: str | None = None) -> argparse.ArgumentParser:
    """A parser whose description is the first paragraph of ``doc``, the rest its epilog;
    ``--help`` shows each option's default. ``prog``: the program's name in its messages
    (default: argparse's, from ``sys.argv[0]``)."""
    return argparse.ArgumentParser(
        prog=prog,
        description=doc.split("\n\n")[0],
        epilog=doc.split("\n\n", 1)[1],
        formatter_class=HelpFormatter,
    )


def add_model_arguments(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """``--model`` and ``--classes``."""
    parser.add_argument("--model", required=required, help="trained model (.keras file)")
    parser.add_argument(
        "--classes",
        help="class names file, one per line, for a model saved without names (default: the "
        "names saved in the model); as many names as the model has classes, and with a model "
        "that saved its names the same names in the same order (else an error naming the "
        "differences: other names would relabel every detection)",
    )


def add_decoder_arguments(parser: argparse.ArgumentParser) -> None:
    """``--iou-threshold``, ``--max-detections`` and ``--keypoint-threshold``: the decoder
    settings (``Decoder.replace``)."""
    parser.add_argument(
        "--iou-threshold",
        "--nms-iou",
        dest="iou_threshold",
        type=iou_threshold,
        default="auto",
        help="class-wise NMS IoU, 'none', or 'auto': the model's own setting, saved with it; "
        f"a newly built model's: {_nms_as_built()}",
    )
    parser.add_argument(
        "--max-detections",
        type=positive_int,
        default=None,
        help="detections per image (default: the model's own setting, 100 unless changed)",
    )
    parser.add_argument(
        "--keypoint-threshold",
        type=float,
        default=None,
        help="pose models (an error for others): a joint snaps to the nearest joint-heatmap "
        "peak scoring above this (inside the person's box, near the regressed joint), else "
        "keeps its regressed place with score 0; joints scored below it are not drawn "
        f"(default: the model's own setting, {KEYPOINT_THRESHOLD:g} unless changed)",
    )


def add_inference_arguments(parser: argparse.ArgumentParser) -> None:
    """``--iou-threshold``, ``--letterbox``, ``--max-detections``, ``--flip-test``,
    ``--input-size``."""
    add_decoder_arguments(parser)
    parser.add_argument(
        "--letterbox",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="letterbox (keep aspect, gray padding) or stretch images to the input "
        "(default: how the model was trained, saved in it)",
    )
    parser.add_argument(
        "--flip-test",
        action="store_true",
        help="also run the mirrored image and merge both (CenterNet: average heatmaps and "
        "sizes; pose: also joint heatmaps and regressions, left/right joints swapped; FCOS: "
        "class and centerness maps, and box sides with left and right swapped); about 2x "
        "slower; on perfect maps it keeps the AP (README: Conventions)",
    )
    parser.add_argument(
        "--input-size",
        type=input_side,
        default=None,
        metavar="N",
        help="network input N x N (rounded up to a multiple of 32) for a model with a dynamic "
        "input size (default: each image scaled to 512 on its longer side, both sides rounded "
        "up to multiples of 32); a model with a fixed input size always uses its own, and "
        "another N is an error",
    )


def tile_side(value: str) -> int:
    """``--tile``: a tile side in original pixels, at least :data:`MIN_TILE`."""
    try:
        side = int(value)
    except ValueError:
        side = 0
    if side < MIN_TILE:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a tile side of at least {MIN_TILE} pixels"
        )
    return side


def tile_overlap(value: str) -> float:
    """``--tile-overlap``: a fraction of the tile side in [0, 1)."""
    try:
        overlap = float(value)
    except ValueError:
        overlap = float("nan")
    if not 0.0 <= overlap < 1.0:
        raise argparse.ArgumentTypeError(f"{value!r} is not a fraction in [0, 1)")
    return overlap


def add_tile_arguments(parser: argparse.ArgumentParser) -> None:
    """``--tile`` and ``--tile-overlap``: tiled inference for small objects (``tiling``)."""
    parser.add_argument(
        "--tile",
        type=tile_side,
        default=None,
        metavar="SIZE",
        help="also detect in overlapping SIZE x SIZE tiles of the image (original pixels, "
        "each run at the network input size) besides the whole image, and merge them (NMS; "
        "OKS for people): finds objects too small once the whole image is scaled to the input; "
        "an image no larger than a tile is detected whole (default: off)",
    )
    parser.add_argument(
        "--tile-overlap",
        type=tile_overlap,
        default=DEFAULT_TILE_OVERLAP,
        metavar="F",
        help="with --tile: neighbouring tiles overlap by F x SIZE pixels; objects up to F x "
        "SIZE lie whole in some tile (larger ones cut by a tile edge are left to the whole "
        "image)",
    )


def add_runtime_arguments(parser: argparse.ArgumentParser, several: bool = False) -> None:
    """``--runtime``, ``--quantize``, ``--calibration-images``, ``--calibration-count``
    (``several``: ``--runtime`` takes one or more, as ``centernet benchmark`` compares them)."""
    parser.add_argument(
        "--runtime",
        choices=RUNTIMES,
        nargs="+" if several else None,
        default=["keras"] if several else "keras",
        help="keras: TensorFlow; onnxruntime: the model and its decoder exported once to ONNX "
        "(cached in <model>.onnxruntime/ next to the model file, rebuilt when the model or "
        "these settings change) and run in ONNX Runtime: same detections, less CPU time",
    )
    parser.add_argument(
        "--quantize",
        choices=QUANTIZATIONS,
        default=None,
        help="with --runtime onnxruntime: INT8 static quantization of the network, calibrated "
        "on --calibration-images (faster on CPUs with int8 instructions; changes the "
        "detections, check the mAP with get_map.py)",
    )
    parser.add_argument(
        "--calibration-images",
        help="--quantize int8: a folder of images like those to detect, or an annotation file "
        "(e.g. 2007_train.txt)",
    )
    parser.add_argument(
        "--calibration-count",
        type=int,
        default=DEFAULT_CALIBRATION_COUNT,
        help="--quantize int8: calibration images used, spread over the sorted list",
    )


def predictor_from_args(args: argparse.Namespace):
    """The ``Predictor`` that ``--model``, ``--classes`` and the inference arguments describe.

    An ``--input-size`` rounded up to a multiple of 32 is reported on stderr (one line).

    Raises:
        UsageError: ``--classes`` does not fit the model (:func:`names_refusal`).
    """
    from centernet_keras.inference import Predictor  # Keras/TF: building a parser must not load

    names = read_classes(args.classes) if args.classes else None  # before the model loads
    predictor = Predictor.from_checkpoint(
        args.model,
        score_threshold=args.score_threshold,
        iou_threshold=args.iou_threshold,
        max_detections=args.max_detections,
        keypoint_threshold=args.keypoint_threshold,
        flip_test=args.flip_test,
        input_size=args.input_size,
        letterbox=args.letterbox,
        tile=getattr(args, "tile", None),  # add_tile_arguments' flags, where the command has them
        tile_overlap=getattr(args, "tile_overlap", DEFAULT_TILE_OVERLAP),
        **runtime_settings(args),
    )
    if names is not None:
        refusal = names_refusal(args.classes, names, predictor.model)
        if refusal:
            raise UsageError(refusal)
        predictor.class_names = names
    report_rounded_input_size(args.input_size, predictor.model_hw[0])
    spec = predictor.model.keypoint_spec
    if args.flip_test and spec is not None and spec.unpaired_sided_joints():
        print(
            f"warning: --flip-test: the model's joints {spec.unpaired_sided_joints()} look "
            "left/right but are in no flip pair, so the mirror image's are not swapped "
            "(train with --flip-pairs to pair them)",
            file=sys.stderr,
        )
    return predictor


def names_refusal(path: str, names: list[str], model) -> str | None:
    """Why the class names of ``--classes path`` do not fit ``model``, else ``None``: as many
    names as the model has classes, and with a model that saved its class names those names in
    that order (other names would relabel every detection, e.g. a model's 'bird' shown as the
    file's 'car')."""
    if len(names) != model.num_classes:
        return (
            f"--classes {path} has {len(names)} class names but the model has "
            f"{model.num_classes} classes: pass the classes file the model was trained with"
        )
    stored = getattr(model, "class_names", None)
    difference = (
        None if stored is None else class_list_difference(names, stored, "--classes", "the model")
    )
    if difference is None:
        return None
    return (
        f"--classes {path} names other classes than the model saved ({difference}): "
        "drop --classes to use the model's own names (it is for models saved without names)"
    )


def report_rounded_input_size(size: int | None, used: int) -> None:
    """One stderr line when ``--input-size`` was rounded up to ``used`` (a multiple of 32)."""
    if size is not None and size != used:
        print(f"note: --input-size {size} rounded up to {used} (must be a multiple of 32)",
              file=sys.stderr)  # fmt: skip


def runtime_settings(args: argparse.Namespace, runtime: str | None = None) -> dict:
    """``Predictor``'s runtime keywords from ``add_runtime_arguments``' flags (Keras when the
    parser has none, e.g. ``centernet export``); ``runtime`` overrides ``--runtime``."""
    return {
        "runtime": runtime or getattr(args, "runtime", "keras"),
        "quantize": getattr(args, "quantize", None),  # with keras: Predictor's one-line error
        "calibration_images": getattr(args, "calibration_images", None),
        "calibration_count": getattr(args, "calibration_count", None),
    }


def run_reporting_errors(run: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """``run(args)``, with a user error printed as one line ``error: <message>``: exit code 2
    for a :class:`UsageError` (as argparse's), 1 for the others (:data:`USER_ERRORS`)."""
    try:
        return run(args)
    except USER_ERRORS as err:
        message = " ".join(line.strip() for line in str(err).splitlines() if line.strip())
        print(f"error: {message or type(err).__name__}", file=sys.stderr)
        return 2 if isinstance(err, UsageError) else 1


def add_score_threshold_argument(parser: argparse.ArgumentParser, default: float, help: str):
    """``--score-threshold`` (former name ``--confidence``, still accepted)."""
    parser.add_argument(
        "--score-threshold",
        "--confidence",
        dest="score_threshold",
        type=float,
        default=default,
        help=help,
    )
