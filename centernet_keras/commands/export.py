r"""Write a trained detector for deployment, with its decoder: keras, saved_model, tflite, onnx.

    centernet export --model logs/best.keras --format onnx --output model.onnx
    centernet export --model logs/best.keras --format tflite --score-threshold 0.1
    centernet export --model logs/best.keras --format onnx --verify 2007_val.txt
    centernet export --model logs/best.keras --format onnx --quantize int8 \
        --calibration-images 2007_train.txt --verify 2007_val.txt --max-map-drop 0.01

Every format takes uint8 RGB images [B, H, W, 3] (H x W the model's input size; for a model with
a dynamic input size --input-size, default 512 x 512) and returns the decoded detections (boxes
in input pixels, scores, classes, num_detections; a pose model also keypoints). The same as
``predict.py --mode export``. Images must be resized (letterboxed or stretched as in training)
to the input size before they go in.

--quantize int8 (ONNX): the network statically quantized by ONNX Runtime (QDQ, calibrated on
--calibration-images), the decoder left in float inside the same graph: the artefact returns
decoded detections as the float one does.

--verify VAL: the artefact written is loaded back and run on the images of VAL (annotation
lines as `centernet val --annotation-file` reads them, or a COCO json with --verify-image-dir),
each fitted to the input as the contract says, next to the Keras model with the same input size
and decoder settings; both are scored as `centernet val` scores (mAP@0.5, COCO AP) at the
export's score threshold, their detections compared image by image. The report goes to
<artefact>.verify.json. Exit code 3 when the artefact's mAP@0.5 is more than --max-map-drop
below the Keras model's (default 0.01; usage errors: 2). With --quantize int8 and
--max-map-drop, a plain INT8 graph that loses more is re-quantized with its costliest nodes
(ONNX Runtime's qdq_loss_debug) left in float, more each round, until it is within it.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from centernet_keras.choices import DEFAULT_CALIBRATION_COUNT, QUANTIZATIONS
from centernet_keras.cli import (
    UsageError,
    add_decoder_arguments,
    add_model_arguments,
    add_score_threshold_argument,
    input_side,
    new_parser,
    positive_int,
    predictor_from_args,
    run_reporting_errors,
)
from centernet_keras.export import FORMATS, SUFFIXES, export_input_hw, export_model, load_exported
from centernet_keras.io import atomic_path
from centernet_keras.quantization import (
    calibration_batches,
    calibration_files,
    network_nodes,
    quantize_export,
    rank_nodes,
    search_exclusions,
)
from centernet_keras.startup import help_requested
from centernet_keras.timing import interleaved_medians

if not help_requested():  # TF loads with the split readers: to run, not for --help
    from centernet_keras.evaluation.runner import load_split
    from centernet_keras.export_verify import (
        Verification,
        reference_predictor,
        report_path,
        within,
        write_report,
    )
    from centernet_keras.preprocess import ImageTransform

DEFAULT_DIR = Path("predict_out")
#: ``--max-map-drop``'s default: a float export's mAP@0.5 is the Keras model's to within
#: round-off (boxes within 1e-3 px), a broken one loses tenths; on a small split one object
#: found or missed moves mAP@0.5 by about 1/(objects of its class).
DEFAULT_MAX_MAP_DROP = 0.01
#: The exit code of ``--verify`` when the artefact loses more than ``--max-map-drop``.
EXIT_TOO_INACCURATE = 3
#: How ``load_split``'s messages name its settings here.
VERIFY_FLAGS = {
    "annotation_file": "--verify",
    "coco_json": "--verify",
    "image_dir": "--verify-image-dir",
    "root": "--verify-root",
}


def map_drop(value: str) -> float:
    """``--max-map-drop``: a fraction of mAP, at least 0."""
    try:
        drop = float(value)
    except ValueError:
        drop = -1.0
    if not 0.0 <= drop <= 1.0:
        raise argparse.ArgumentTypeError(f"{value!r} is not an mAP drop in [0, 1]")
    return drop


def build_parser() -> argparse.ArgumentParser:
    """The flags of ``centernet export``."""
    parser = new_parser(__doc__)
    add_model_arguments(parser)
    parser.add_argument("--format", choices=FORMATS, default="saved_model", help="what to write")
    parser.add_argument(
        "--output", help="file or folder to write (default: predict_out/<model name><suffix>)"
    )
    add_score_threshold_argument(parser, 0.3, help="score threshold of the exported detections")
    add_decoder_arguments(parser)
    parser.add_argument(
        "--input-size",
        type=input_side,
        default=None,
        metavar="N",
        help="input N x N (rounded up to a multiple of 32) of a model with a dynamic input "
        "size (default 512); a model with a fixed input size always uses its own",
    )
    int8 = parser.add_argument_group("INT8 (--format onnx)")
    int8.add_argument(
        "--quantize",
        dest="export_quantize",
        choices=QUANTIZATIONS,
        default=None,
        help="ONNX Runtime static INT8 quantization of the network (the decoder stays float)",
    )
    int8.add_argument(
        "--calibration-images",
        dest="export_calibration",
        help="--quantize int8: a folder of images like those to detect, or an annotation file",
    )
    int8.add_argument(
        "--calibration-count",
        dest="export_calibration_count",
        type=positive_int,
        default=DEFAULT_CALIBRATION_COUNT,
        help="--quantize int8: calibration images used, spread over the sorted list",
    )
    verify = parser.add_argument_group("verification")
    verify.add_argument(
        "--verify",
        metavar="VAL",
        help="check the artefact against the Keras model on these validation images: an "
        "annotation lines file (e.g. 2007_val.txt) or a COCO json (with --verify-image-dir)",
    )
    verify.add_argument("--verify-root", help="folder relative paths of a --verify file start in")
    verify.add_argument("--verify-image-dir", help="image folder of a --verify COCO json")
    verify.add_argument(
        "--max-map-drop",
        type=map_drop,
        default=None,
        metavar="D",
        help=f"with --verify: largest mAP@0.5 loss against Keras that passes (default "
        f"{DEFAULT_MAX_MAP_DROP}); with --quantize int8, nodes are left in float until it holds",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def check_flags(args: argparse.Namespace) -> None:
    """The flag combinations refused before the model loads.

    Raises:
        UsageError: one line naming the flag.
    """
    if args.export_quantize is not None and args.format != "onnx":
        raise UsageError(f"--quantize int8 is for --format onnx, not --format {args.format}")
    if args.export_quantize is not None and args.export_calibration is None:
        raise UsageError("--quantize int8 needs --calibration-images (images like those to detect)")
    if args.export_quantize is None and args.export_calibration is not None:
        raise UsageError("--calibration-images is for --quantize int8")
    if args.verify is None:
        for flag in ("max_map_drop", "verify_root", "verify_image_dir"):
            if getattr(args, flag) is not None:
                raise UsageError(f"--{flag.replace('_', '-')} is for --verify VAL")
        return
    if not Path(args.verify).is_file():
        raise UsageError(f"--verify {args.verify}: no such file")
    is_json = Path(args.verify).suffix.lower() == ".json"
    if is_json and args.verify_image_dir is None:
        raise UsageError(f"--verify {args.verify} is a COCO json: give its --verify-image-dir")
    if not is_json and args.verify_image_dir is not None:
        raise UsageError("--verify-image-dir is for a --verify COCO json")


def output_path(args: argparse.Namespace) -> Path:
    """``--output``, else ``predict_out/<model name><suffix>``."""
    if args.output:
        return Path(args.output)
    return DEFAULT_DIR / f"{Path(args.model).stem}{SUFFIXES[args.format]}"


def export_from_args(
    args: argparse.Namespace, predictor, out: Path | None = None, announce: bool = True
) -> Path:
    """Export ``predictor``'s model and decoder as ``args.format`` to ``out`` (default
    ``output_path(args)``).

    Args:
        args: ``--model``, ``--format``, ``--output`` and ``--input-size``.
        predictor: the ``Predictor`` whose model and decoder settings are exported.
        out: where to write.
        announce: print ``exported <format> to <path>``.

    Returns:
        The path written.
    """
    out = output_path(args) if out is None else out
    export_model(
        predictor.model,
        out,
        args.format,
        decoder=predictor.decoder,
        class_names=predictor.class_names,
        input_size=None if args.input_size is None else predictor.model_hw,  # rounded to 32
    )
    if announce:
        print(f"exported {args.format} to {out}")
    return out


def verification_from_args(args: argparse.Namespace, predictor, hw):
    """The Keras model's detections on ``--verify``'s images (problems with the file: one
    warning line each, up to 20)."""
    is_json = Path(args.verify).suffix.lower() == ".json"
    records, problems = load_split(
        predictor.class_names,
        annotation_file=None if is_json else args.verify,
        coco_json=args.verify if is_json else None,
        image_dir=args.verify_image_dir,
        root=args.verify_root,
        flags=VERIFY_FLAGS,
    )
    for message in problems[:20]:
        print(f"warning: {message}", file=sys.stderr)
    reference = reference_predictor(predictor, hw)
    verification = Verification(reference, records, progress=not args.no_progress)
    unreadable = verification.reference["unreadable"]
    if unreadable:  # left out of both sides alike
        print(
            f"warning: --verify: {len(unreadable)} unreadable images skipped, e.g. {unreadable[0]}",
            file=sys.stderr,
        )
    return verification


def int8_export(args, predictor, out: Path, hw, verification) -> dict:
    """Write the INT8 graph to ``out``; with a verification, score the float and INT8 graphs
    (and with ``--max-map-drop``, search the nodes to leave in float until it holds) and time
    them. Returns the report's ``int8`` part (``"final"``: the check of the graph written)."""
    transform = ImageTransform(hw, predictor.letterbox)
    files = calibration_files(args.export_calibration, args.export_calibration_count)
    batches = calibration_batches(files, lambda f: transform.at_size(f, hw))
    with tempfile.TemporaryDirectory(prefix="centernet_export_") as tmp:
        graphs = {"float_onnx": Path(tmp) / "float.onnx", "plain_int8": Path(tmp) / "int8.onnx"}
        source, plain = graphs["float_onnx"], graphs["plain_int8"]
        export_from_args(args, predictor, source, announce=False)
        network, decoder = network_nodes(source, list(predictor.model.output))
        quantize_export(source, plain, batches, decoder)
        graphs["final_int8"] = plain
        info: dict = {
            "calibration_images": len(batches),
            "network_nodes": len(network),
            "decoder_nodes_in_float": len(decoder),
            "excluded_nodes": [],
        }
        if verification is not None:
            info["float_onnx"] = verification.check(load_exported(source), "float onnx")
            info["plain_int8"] = info["final"] = verification.check(load_exported(plain), "int8")
            if args.max_map_drop is not None and not within(info["final"], args.max_map_drop):
                _search(args, info, graphs, batches, network, decoder, verification)
            runs = {k: functools.partial(load_exported(p), batches[0]) for k, p in graphs.items()}
            info["speed_ms_per_image"] = {
                **{k: round(v, 3) for k, v in interleaved_medians(runs).items()},
                "note": "batch 1, medians of 20 interleaved runs; contended unless quiet cores",
            }
        with atomic_path(out) as final:
            shutil.copyfile(graphs["final_int8"], final)
    return info


def _search(args, info: dict, graphs: dict, batches, network, decoder, verification) -> None:
    """Rank the network nodes, leave the costliest in float until the INT8 graph is within
    ``--max-map-drop``; ``info`` and ``graphs["final_int8"]`` updated."""
    source = graphs["float_onnx"]
    ranked = rank_nodes(source, graphs["plain_int8"], batches, network)
    results: dict[int, dict] = {}
    folder = source.parent

    def evaluate(k: int) -> tuple[dict, bool]:
        candidate = folder / f"candidate_{k}.onnx"
        quantize_export(source, candidate, batches, decoder, [r.name for r in ranked[:k]])
        results[k] = verification.check(load_exported(candidate), f"int8, {k} in float")
        return results[k], within(results[k], args.max_map_drop)

    result = search_exclusions(len(ranked), evaluate)
    info["ranking"] = [r.to_dict() for r in ranked[:50]]
    info["search"] = [
        {k: v for k, v in s.to_dict().items() if k != "differences"} for s in result.steps
    ]
    if result.excluded is not None:
        info["excluded_nodes"] = [r.name for r in ranked[: result.excluded]]
        graphs["final_int8"] = folder / f"candidate_{result.excluded}.onnx"
        info["final"] = results[result.excluded]


def run(args: argparse.Namespace) -> int:
    """Check the flags, load the model with the decoder settings of the flags, export it
    (and verify it)."""
    check_flags(args)
    args.flip_test, args.letterbox = False, None  # not part of an exported graph
    predictor = predictor_from_args(args)  # --classes checked: names are exported
    out = output_path(args)
    hw = export_input_hw(predictor.model, None if args.input_size is None else predictor.model_hw)
    verification = None if args.verify is None else verification_from_args(args, predictor, hw)
    int8 = None
    if args.export_quantize is not None:
        int8 = int8_export(args, predictor, out, hw, verification)
        print(f"exported onnx int8 to {out}")
    else:
        export_from_args(args, predictor, out)
    if verification is None:
        return 0
    return report_verification(args, out, verification, int8)


def report_verification(args, out: Path, verification, int8: dict | None) -> int:
    """Check the artefact written, write its report, print the comparison; exit code 0, or
    ``EXIT_TOO_INACCURATE`` past the tolerance."""
    max_drop = DEFAULT_MAX_MAP_DROP if args.max_map_drop is None else args.max_map_drop
    found = int8.pop("final") if int8 else verification.check(load_exported(out), args.format)
    passed = within(found, max_drop)
    report = {
        "artefact": os.fspath(out),
        "format": args.format,
        "quantize": args.export_quantize,
        "verify": os.fspath(args.verify),
        "max_map_drop": max_drop,
        "gate": "mAP@0.5 (all-point) of the artefact minus the Keras model's",
        "passed": passed,
        **verification.summary(),
        "export": found,
        "timings": "ms per image of one run at batch 1, median over the images, on this "
        "machine as it was (contended unless measured on quiet cores)",
    }
    if int8 is not None:
        report["int8"] = int8
    path = write_report(report_path(out), report)
    keras, diff = verification.keras, found["differences"]
    print(
        f"verify: mAP@0.5 keras {keras['map50']:.4f} -> {args.format} {found['map50']:.4f} "
        f"({found['map50_change']:+.4f}); COCO AP {keras['coco_ap']:.4f} -> "
        f"{found['coco_ap']:.4f}; {diff['images_with_other_count']} of {diff['images']} images "
        f"with another detection count, max box shift {diff['max_box_shift_px']:.3g} px, max "
        f"score difference {diff['max_score_difference']:.3g}; report: {path}"
    )
    if int8 is not None and "speed_ms_per_image" in int8:
        speed, excluded = int8["speed_ms_per_image"], int8["excluded_nodes"]
        shown = ", ".join(excluded[:3]) + (", ..." if len(excluded) > 3 else "")
        print(
            f"int8: mAP@0.5 plain {int8['plain_int8']['map50']:.4f}, final {found['map50']:.4f} "
            f"with {len(excluded)} of {int8['network_nodes']} network nodes in float"
            f"{f' ({shown})' if excluded else ''}; ms per image: float onnx "
            f"{speed['float_onnx']}, plain int8 {speed['plain_int8']}, final {speed['final_int8']} "
            "(contended unless on quiet cores)"
        )
    if passed:
        return 0
    print(
        f"error: {out}: mAP@0.5 dropped by {-found['map50_change']:.4f} against the Keras model, "
        f"more than --max-map-drop {max_drop} (report: {path})",
        file=sys.stderr,
    )
    return EXIT_TOO_INACCURATE


def main(argv: Sequence[str] | None = None) -> int:
    """``centernet export``; exit code 0, 1/2 with a one-line error, or 3: the artefact
    failed --verify."""
    return run_reporting_errors(run, build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
