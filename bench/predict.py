"""Predictor latency on the CPU: Keras vs ONNX Runtime (vs INT8), per detector, one interleaved run.

Prints one JSON line per model with median latencies (ms) of

- ``keras_detect``: ``Predictor(path)``: JPEG on disk → decode, letterbox, traced forward +
  decoder, boxes mapped back to the image (the Keras runtime);
- ``forward``: the traced ``tf.function`` of the model alone on a ready input (so
  ``detect_overhead = keras_detect / forward − 1``, target ≤ 0.10);
- ``onnxruntime_detect``: the same ``Predictor(path)`` with ``runtime="onnxruntime"`` (network
  and decoder in one ONNX graph), and its ratio ``onnxruntime_vs_keras``;
- with ``--int8``: ``int8_detect`` (``quantize="int8"``, calibrated on ``--calibration-count``
  synthetic JPEGs) and ``int8_vs_keras``;

and how the Keras and ONNX Runtime detections of the image compare (matched as sets by class
and box, since two near-equal scores may come out in either order:
``onnxruntime_same_count_and_classes``, the largest box and score differences of the matched
pairs), the graph build times, the process's peak memory. All variants of all models are timed
round-robin in one loop, so machine drift hits them alike. The models have random weights
(``--seed``: the same models in every run): the network's time does not depend on them, but the
decoder's NMS does (it iterates once per link of the longest chain of suppressions), and at the
drawing threshold random weights give no detections. ``--score-threshold 0`` makes every
candidate take part in the NMS (FCOS-RegNetX @512, seed 0: 1,500 candidates, 57 detections) —
a busier decode than a real image.

    python bench/predict.py                       # CenterNet-R50, pose DLA-34, FCOS @512
    python bench/predict.py --models centernet:resnet50 --int8 --runs 10
    python bench/predict.py --models fcos:regnetx_400mf --score-threshold 0   # busy NMS
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf
from PIL import Image

from centernet_keras.inference import Predictor
from centernet_keras.models.registry import detector_names, untrained_detector
from centernet_keras.timing import interleaved_medians, to_host

DEFAULT_MODELS = "centernet:resnet50,pose:dla34_plain,fcos:regnetx_400mf"


def _test_jpeg(path: Path, height: int = 480, width: int = 640, seed: int = 0) -> None:
    """A smooth synthetic photo-like JPEG (noise compresses unrealistically badly)."""
    rng = np.random.default_rng(seed)
    small = rng.uniform(0, 255, (height // 16, width // 16, 3)).astype(np.uint8)
    Image.fromarray(small).resize((width, height), Image.BICUBIC).save(path, quality=90)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _compare(want, got) -> dict:
    """Two runtimes' detections of one image, matched as sets: each of ``want``'s detections
    to the unused one of ``got`` with its class and the nearest box (a score order of two
    near-equal scores may differ). Differences are over the matched pairs; ``narrowest_box_px``
    is ``want``'s smallest box side (near 0, float noise decides whether the box is kept)."""
    used = np.zeros(len(got.boxes), bool)
    box_diff, score_diff = 0.0, 0.0
    for box, score, class_id in zip(want.boxes, want.scores, want.class_ids, strict=True):
        gaps = np.abs(got.boxes - box).max(axis=1) if len(got.boxes) else np.zeros(0)
        gaps[used | (got.class_ids != class_id)] = np.inf
        if not len(gaps) or np.isinf(gaps.min()):
            used[:] = False  # one unmatched: not the same detections
            break
        j = int(gaps.argmin())
        used[j] = True
        box_diff = max(box_diff, float(gaps[j]))
        score_diff = max(score_diff, abs(float(got.scores[j]) - float(score)))
    same = bool(used.all()) and len(got.boxes) == len(want.boxes)
    sides = np.diff(np.asarray(want.boxes).reshape(-1, 2, 2), axis=1)
    return {
        "onnxruntime_same_count_and_classes": same,
        "onnxruntime_max_box_diff_px": box_diff if same else None,
        "onnxruntime_max_score_diff": score_diff if same else None,
        "narrowest_box_px": float(sides.min()) if sides.size else None,
    }


def _timed_first_call(predictor: Predictor, jpeg: Path):
    start = time.perf_counter()
    detections = predictor(jpeg)  # builds (or loads) the graph
    return detections, round(time.perf_counter() - start, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models",
        default=DEFAULT_MODELS,
        help=f"comma-separated DETECTOR:BACKBONE pairs (detector: {', '.join(detector_names())})",
    )
    parser.add_argument("--size", type=int, default=512, help="square input size (px)")
    parser.add_argument("--num-classes", type=int, default=20, help="centernet and fcos")
    parser.add_argument("--int8", action="store_true", help="also time INT8 ONNX Runtime")
    parser.add_argument("--calibration-count", type=int, default=8, help="--int8: JPEGs")
    parser.add_argument(
        "--score-threshold",
        type=float,
        default=None,
        help="decoder score threshold of every predictor (default: the Predictor's)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random weights of the models")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    pairs = [tuple(item.split(":", 1)) for item in args.models.split(",")]
    if any(len(p) != 2 or p[0] not in detector_names() for p in pairs):
        parser.error(f"--models wants DETECTOR:BACKBONE pairs, got {args.models!r}")

    with tempfile.TemporaryDirectory() as tmp:
        jpeg = Path(tmp) / "image.jpg"
        _test_jpeg(jpeg)
        calibration = Path(tmp) / "calibration"
        calibration.mkdir()
        for i in range(args.calibration_count):
            _test_jpeg(calibration / f"{i}.jpg", seed=i + 1)
        fns, results = {}, {}
        settings = {} if args.score_threshold is None else {"score_threshold": args.score_threshold}
        for key in pairs:
            model_file = Path(tmp) / f"{key[0]}_{key[1]}.keras"
            keras.utils.set_random_seed(args.seed)
            shape = (args.size, args.size, 3)
            untrained_detector(key[0], args.num_classes, backbone=key[1], input_shape=shape).save(
                model_file
            )
            keras_predictor = Predictor.from_checkpoint(model_file, **settings)
            model = keras_predictor.model
            batch, _ = keras_predictor.preprocess(jpeg)
            images = tf.constant(batch.astype(np.float32))
            forward = tf.function(lambda x, m=model: m(x, training=False))
            fns[(key, "keras_detect")] = lambda p=keras_predictor: p(jpeg)
            fns[(key, "forward")] = lambda f=forward, x=images: to_host(f(x))
            ort = Predictor.from_checkpoint(model_file, runtime="onnxruntime", **settings)
            want = keras_predictor(jpeg)
            got, build_s = _timed_first_call(ort, jpeg)
            results[key] = {"onnxruntime_build_s": build_s, **_compare(want, got)}
            results[key] |= {
                "score_threshold": keras_predictor.score_threshold,
                "detections": len(want.boxes),
            }
            fns[(key, "onnxruntime_detect")] = lambda p=ort: p(jpeg)
            if args.int8:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)  # INT8 changes detections
                    int8 = Predictor.from_checkpoint(
                        model_file,
                        runtime="onnxruntime",
                        quantize="int8",
                        calibration_images=calibration,
                        **settings,
                    )
                _, results[key]["int8_build_s"] = _timed_first_call(int8, jpeg)
                fns[(key, "int8_detect")] = lambda p=int8: p(jpeg)
        ms = interleaved_medians(fns, args.runs, args.warmup)

    for key in pairs:
        keras_ms = ms[(key, "keras_detect")]
        result = {
            "bench": "predict",
            "detector": key[0],
            "backbone": key[1],
            "input": [1, args.size, args.size, 3],
            "seed": args.seed,
            "image": [480, 640],
            "keras_detect_ms": round(keras_ms, 1),
            "forward_ms": round(ms[(key, "forward")], 1),
            "detect_overhead": round(keras_ms / ms[(key, "forward")] - 1.0, 4),
            "onnxruntime_detect_ms": round(ms[(key, "onnxruntime_detect")], 1),
            "onnxruntime_vs_keras": round(ms[(key, "onnxruntime_detect")] / keras_ms, 4),
        }
        if args.int8:
            result["int8_detect_ms"] = round(ms[(key, "int8_detect")], 1)
            result["int8_vs_keras"] = round(ms[(key, "int8_detect")] / keras_ms, 4)
        result |= results[key] | {
            "runs": args.runs,
            "peak_rss_mb": round(_peak_rss_mb()),
            "device": "cpu" if not tf.config.list_physical_devices("GPU") else "gpu",
            "cpu_count": os.cpu_count(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "machine": platform.machine(),
        }
        print(json.dumps(result))


if __name__ == "__main__":
    main()
