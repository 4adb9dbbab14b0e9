"""Tracking measured on synthetic videos with known identities: IDF1, MOTA, ID switches, FPS.

    python bench/track.py --box-model demo/logs/best.keras --pose-model demo_pose/logs/best.keras

For each kind (``shapes`` with the box model, ``people`` with the pose model) and seed, writes
the synthetic video and its ground truth (``data.synthetic_video``), runs ``centernet track``'s
library path (``visualize.tracked.track_video``: the model, the default ``Tracker``, the
annotated video and ``tracks.txt``) and scores ``tracks.txt`` against the ground truth with
``motmetrics`` (``tracking.score_tracks``: IoU ≥ 0.5, every object, hidden ones included).
Also scores the tracker alone on the ground truth made noisy
(``synthetic_video.noisy_detections``: what the IDF1 floor test of tests/tracking checks).
Prints one JSON line per video and the totals; FPS (detection, tracking, drawing, video
reading and writing, one thread) are of this machine as it is, contended unless it is quiet.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from centernet_keras.data.synthetic import SHAPE_CLASSES  # noqa: E402
from centernet_keras.data.synthetic_video import (  # noqa: E402
    noisy_detections,
    render_frames,
    write_video,
)
from centernet_keras.inference import Predictor  # noqa: E402
from centernet_keras.tracking import Tracker, read_mot, score_tracks  # noqa: E402
from centernet_keras.visualize.tracked import track_video  # noqa: E402

SHOWN = ("idf1", "mota", "num_switches", "recall", "precision", "num_unique_objects")


def noisy_score(kind: str, frames: int, seed: int) -> dict[str, float]:
    """The default ``Tracker`` on the video's ground truth made noisy (no model)."""
    names = SHAPE_CLASSES if kind == "shapes" else ("person",)
    rng, tracker = np.random.default_rng(seed), Tracker()
    truth, tracks = {}, {}
    for number, frame in enumerate(render_frames(kind, frames, seed), 1):
        ids, boxes, _, visible = (np.array(v) for v in zip(*frame.objects, strict=True))
        truth[number] = (ids, boxes.reshape(-1, 4).astype(float), visible)
        objects = tracker.update(noisy_detections(frame, rng, names))
        tracks[number] = (
            np.array([o.track_id for o in objects], np.int64),
            np.array([o.box for o in objects], float).reshape(-1, 4),
            np.ones(len(objects)),
        )
    return score_tracks(truth, tracks)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--box-model", default="demo/logs/best.keras")
    parser.add_argument("--pose-model", default="demo_pose/logs/best.keras")
    parser.add_argument("--out", default="bench_out/track", help="videos and results")
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--kinds", nargs="+", default=["shapes", "people"])
    parser.add_argument("--score-threshold", type=float, default=0.1, help="detector's")
    args = parser.parse_args()
    models = {"shapes": args.box_model, "people": args.pose_model}
    totals: dict[str, dict] = {}
    for kind in args.kinds:
        predictor = Predictor.from_checkpoint(models[kind], score_threshold=args.score_threshold)
        runs = []
        for seed in args.seeds:
            out = Path(args.out) / f"{kind}_{seed}"
            video, truth = write_video(out, kind, args.frames, seed)
            report = track_video(predictor, video, out / "tracked", Tracker(), progress=False)
            scores = score_tracks(read_mot(truth), read_mot(report.tracks_file))
            noisy = noisy_score(kind, args.frames, seed)
            row = {"kind": kind, "seed": seed, "model": models[kind], "frames": report.frames,
                   **{k: round(scores[k], 4) for k in SHOWN},
                   "tracks": len(report.counts.track_class),
                   "fps_contended": round(report.fps, 1), "annotated": str(report.output),
                   "noisy_gt_idf1": round(noisy["idf1"], 4),
                   "noisy_gt_switches": noisy["num_switches"]}  # fmt: skip
            print(json.dumps(row), flush=True)
            runs.append(row)
        totals[kind] = {
            "videos": len(runs),
            "objects": sum(r["num_unique_objects"] for r in runs),
            "idf1_mean": round(float(np.mean([r["idf1"] for r in runs])), 4),
            "mota_mean": round(float(np.mean([r["mota"] for r in runs])), 4),
            "id_switches": sum(r["num_switches"] for r in runs),
            "fps_contended_mean": round(float(np.mean([r["fps_contended"] for r in runs])), 1),
            "noisy_gt_idf1_mean": round(float(np.mean([r["noisy_gt_idf1"] for r in runs])), 4),
        }
    print(json.dumps({"totals": totals}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
