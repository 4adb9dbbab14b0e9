"""Tiled inference (``--tile``) against the whole image alone, on large images with small objects.

    python bench/tiles.py --model demo/logs/best.keras --data /tmp/large
    python bench/tiles.py --model m.keras --data /tmp/large --tiles 128 256 --overlaps 0.1 0.2 0.3
    python bench/tiles.py --model m.keras --annotation-file demo/2007_val.txt --tiles 128

Runs the model over one set, once without tiles and once per tile size and overlap (and with
``--keep-cut`` also without dropping the tiles' detections that touch an inner tile edge), in one
process, and prints one JSON line per run: COCO AP, AP@.5, AP_small, AR@100 (recall), AR_small,
the VOC all-point mAP@0.5, the detections per image, and the milliseconds per image (file to
merged boxes, the mean over the set; the first image's tracing is left out) with the machine's
1-minute load average at the end of the run; then the difference and ratio of each tiled
run's AP_small, AR@100 and VOC mAP to the untiled run's, and the time ratio. Times taken while
other work runs on the machine (a load average above the cores the run uses) are contended:
say so when quoting them.

``--data DIR``: the set of ``data.synthetic_tiles`` (``DIR/large_val.txt``), written there
first if missing (``--num-images``, ``--seed``, ``--size``: 2048 x 1536 images unless given,
10-40 shapes of 8-32 px);
``--annotation-file``: any annotation lines (e.g. the demo's validation split).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from centernet_keras.data.annotations import read_annotation_file
from centernet_keras.data.synthetic_tiles import generate
from centernet_keras.evaluation import STAT_NAMES, evaluate
from centernet_keras.evaluation.runner import collect_detections
from centernet_keras.inference import Predictor
from centernet_keras.tiling import DEFAULT_TILE_OVERLAP, MERGE_IOU

STATS = ("AP@[.5:.95]", "AP@.5", "AP_small", "AR@100", "AR_small")


def _detector(predictor: Predictor, keep_cut: bool, merge_iou: float, times: list[float]):
    """``image → Detections`` of the predictor (tiled: its ``Tiler``, with cut detections kept
    when ``keep_cut``, merged at ``merge_iou``), appending each call's seconds to ``times``."""
    tiler = predictor.tiler()
    if tiler is not None:
        tiler = dataclasses.replace(tiler, drop_cut=not keep_cut, iou_threshold=merge_iou)
    run = predictor.timed if tiler is None else tiler.timed

    def detect(image):
        start = time.perf_counter()
        found = run(image)[0]
        times.append(time.perf_counter() - start)
        return found

    return detect


def measure(model, records, tile, overlap, keep_cut, merge_iou, score_threshold) -> dict:
    """One run over the set: its metrics and time per image."""
    predictor = Predictor(
        model, score_threshold=score_threshold, tile=tile, tile_overlap=overlap or 0.0
    )
    times: list[float] = []
    detect = _detector(predictor, keep_cut, merge_iou, times)
    detect(records[0].path)  # traced once, untimed
    times.clear()
    truth, found, failures = collect_detections(detect, records, predictor.class_names, False)
    coco = evaluate(truth, found, "coco")
    voc = evaluate(truth, found, "voc")
    return {
        "tile": tile,
        "overlap": overlap,
        "drop_cut": None if tile is None else not keep_cut,
        "merge_iou": None if tile is None else merge_iou,
        **{name: round(float(coco.stats[STAT_NAMES.index(name)]), 4) for name in STATS},
        "voc_mAP@0.5": round(float(voc.mean_ap), 4),
        "detections_per_image": round(len(found) / len(truth["images"]), 1),
        "ms_per_image": round(1000.0 * sum(times) / max(len(times), 1), 1),
        "unreadable": len(failures),
        "load_avg_1min": round(os.getloadavg()[0], 2),  # above the cores used: contended
        "cpus": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="the .keras detector")
    parser.add_argument("--data", help="folder of the large-image set (written if missing)")
    parser.add_argument("--annotation-file", help="or: annotation lines to measure on")
    parser.add_argument("--num-images", type=int, default=20, help="--data: images to write")
    parser.add_argument("--seed", type=int, default=0, help="--data: the set's seed")
    parser.add_argument(
        "--size", type=int, nargs=2, default=[2048, 1536], metavar=("W", "H"),
        help="--data: the images' width and height",
    )  # fmt: skip
    parser.add_argument("--tiles", type=int, nargs="+", default=[128, 192, 256, 384])
    parser.add_argument("--overlaps", type=float, nargs="+", default=[DEFAULT_TILE_OVERLAP])
    parser.add_argument("--keep-cut", action="store_true", help="also runs keeping cut boxes")
    parser.add_argument("--merge-ious", type=float, nargs="+", default=[MERGE_IOU])
    parser.add_argument("--score-threshold", type=float, default=0.01)
    args = parser.parse_args()
    if (args.data is None) == (args.annotation_file is None):
        parser.error("give one of --data and --annotation-file")
    lines = args.annotation_file
    if args.data is not None:
        lines = Path(args.data) / "large_val.txt"
        if not lines.is_file():
            generate(args.data, args.num_images, args.seed, tuple(args.size))
    records, problems = read_annotation_file(lines)
    if problems:
        parser.error(f"{lines}: {problems[0]}")
    model = Predictor.from_checkpoint(args.model).model
    runs = [(None, None, False, None)] + [
        (tile, overlap, keep, iou)
        for tile in args.tiles
        for overlap in args.overlaps
        for keep in ((False, True) if args.keep_cut else (False,))
        for iou in args.merge_ious
    ]
    results = []
    for tile, overlap, keep, iou in runs:
        results.append(measure(model, records, tile, overlap, keep, iou, args.score_threshold))
        print(json.dumps({"set": str(lines), "images": len(records), **results[-1]}), flush=True)
    base = results[0]
    for row in results[1:]:
        change = {
            f"{name}_{kind}": None if value is None else round(value, 4)
            for name in ("AP_small", "AR@100", "voc_mAP@0.5")
            for kind, value in (
                ("diff", row[name] - base[name]),
                ("ratio", row[name] / base[name] if base[name] > 0 else None),
            )
        }
        time_ratio = round(row["ms_per_image"] / max(base["ms_per_image"], 1e-9), 1)
        label = {k: row[k] for k in ("tile", "overlap", "drop_cut", "merge_iou")}
        print(json.dumps({"vs_untiled": label, **change, "time_ratio": time_ratio}))


if __name__ == "__main__":
    main()
