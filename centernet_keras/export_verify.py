"""Check an exported artefact against its Keras model on validation data (``centernet export
--verify``).

The artefact (``export.load_exported``: ``.keras``, SavedModel, ``.tflite``, ``.onnx``, INT8
ONNX too) runs on each validation image fitted to its input size as the export contract says
(``preprocess.ImageTransform``: letterboxed or stretched per the model's ``image_resize``), its
boxes mapped back to the image (``ImageTransform.postprocess``); the Keras model runs as a
``Predictor`` with the same input size and decoder settings. Both are scored as ``centernet
val`` scores (``evaluation.runner.collect_detections`` and ``evaluation.evaluate``: all-point
mAP@0.5, VOC07 11-point mAP@0.5, COCO AP@[.5:.95]), and their detections are compared image by
image as sets (greedy same-class pairs at IoU ≥ ``MATCH_IOU``): the images where the counts
differ, the largest box shift (px, original image) and score difference of a matched pair,
the worst images.

The gate is the all-point mAP@0.5 (``GATE_METRIC``): the artefact passes when it is at most
``max_drop`` below the Keras model's (``centernet export --max-map-drop``, default 0.01).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from centernet_keras.boxes import iou_matrix
from centernet_keras.data.annotations import ImageRecord
from centernet_keras.detections import Detections
from centernet_keras.evaluation import evaluate
from centernet_keras.evaluation.runner import collect_detections
from centernet_keras.io import atomic_write_text
from centernet_keras.preprocess import ImageTransform

if TYPE_CHECKING:  # Keras loads with it: centernet export --help must not
    from centernet_keras.inference import Predictor

#: The metric the tolerance applies to (all-point AP@0.5, as ``centernet val``'s "voc").
GATE_METRIC = "map50"
#: IoU at which an artefact's detection is the Keras model's (same class).
MATCH_IOU = 0.5
#: How many of the most different images the report lists.
WORST_IMAGES = 5


def report_path(artefact: str | os.PathLike) -> Path:
    """Where the report of ``artefact`` goes: ``<artefact>.verify.json`` beside it (a
    SavedModel folder: beside the folder)."""
    path = Path(artefact)
    return path.with_name(f"{path.name}.verify.json")


def scores(ground_truth: dict, detections: Sequence[dict]) -> dict[str, float]:
    """mAP@0.5 (all-point), mAP@0.5 (VOC07 11-point) and COCO AP@[.5:.95] of ``detections``."""
    names = {"map50": "voc", "map50_voc07": "voc07", "coco_ap": "coco"}
    return {
        k: round(float(evaluate(ground_truth, detections, m).mean_ap), 6) for k, m in names.items()
    }


def match_pairs(a: Detections, b: Detections) -> list[tuple[int, int]]:
    """Greedy one-to-one pairs ``(i, j)`` of same-class detections of ``a`` and ``b`` with
    IoU ≥ ``MATCH_IOU``, the highest IoU first."""
    if not len(a) or not len(b):
        return []
    iou = iou_matrix(a.boxes, b.boxes)
    iou[np.asarray(a.class_ids)[:, None] != np.asarray(b.class_ids)[None]] = 0.0
    pairs, used_a, used_b = [], set(), set()
    for flat in np.argsort(-iou, axis=None):
        i, j = np.unravel_index(flat, iou.shape)
        if iou[i, j] < MATCH_IOU:
            break
        if i not in used_a and j not in used_b:
            pairs.append((int(i), int(j)))
            used_a.add(i)
            used_b.add(j)
    return pairs


def image_difference(reference: Detections, exported: Detections) -> dict:
    """How one image's exported detections differ from the reference's."""
    pairs = match_pairs(reference, exported)
    i = [p[0] for p in pairs]
    j = [p[1] for p in pairs]
    shift = np.abs(reference.boxes[i] - exported.boxes[j]).max() if pairs else 0.0
    score = np.abs(reference.scores[i] - exported.scores[j]).max() if pairs else 0.0
    return {
        "keras": len(reference),
        "export": len(exported),
        "unmatched": len(reference) + len(exported) - 2 * len(pairs),
        "max_box_shift_px": float(f"{shift:.4g}"),  # significant digits: 1e-5 px shows
        "max_score_difference": float(f"{score:.4g}"),
    }


def differences(
    reference: dict[int, Detections], exported: dict[int, Detections], paths: dict[int, str]
) -> dict:
    """The per-image differences summed up: images with another count, unmatched detections,
    the largest box shift and score difference, the ``WORST_IMAGES`` most different."""
    per_image = []
    for image_id, ref in reference.items():
        found = exported.get(image_id)
        if found is not None:
            per_image.append({"image": paths[image_id], **image_difference(ref, found)})
    worst = sorted(
        per_image,
        key=lambda d: (-d["unmatched"], -d["max_box_shift_px"], -d["max_score_difference"]),
    )
    return {
        "images": len(per_image),
        "images_with_other_count": sum(d["keras"] != d["export"] for d in per_image),
        "unmatched_detections": sum(d["unmatched"] for d in per_image),
        "max_box_shift_px": max((d["max_box_shift_px"] for d in per_image), default=0.0),
        "max_score_difference": max((d["max_score_difference"] for d in per_image), default=0.0),
        "worst_images": [
            d for d in worst[:WORST_IMAGES] if d["unmatched"] or d["max_box_shift_px"]
        ],
    }


def reference_predictor(predictor: Predictor, hw: tuple[int, int]) -> Predictor:
    """``predictor``, or (a model with a dynamic input size) the same model and decoder
    settings at the export's input size ``hw``: the Keras side of a verification."""
    if None not in tuple(predictor.model_hw):
        return predictor
    decoder = predictor.decoder
    extra = {}
    if hasattr(decoder, "keypoint_threshold"):
        extra["keypoint_threshold"] = decoder.keypoint_threshold
    return type(predictor)(
        predictor.model,
        class_names=predictor.class_names,
        score_threshold=decoder.score_threshold,
        iou_threshold=decoder.iou_threshold,
        max_detections=decoder.max_detections,
        input_size=hw,
        letterbox=predictor.letterbox,
        **extra,
    )


def artefact_detector(
    run: Callable[[np.ndarray], dict], transform: ImageTransform, class_names: Sequence[str],
    seconds: list[float],
) -> Callable[[np.ndarray], Detections]:  # fmt: skip
    """``rgb image → Detections`` of an exported artefact: fitted by ``transform``, ``run``
    (its time appended to ``seconds``), mapped back."""

    def detect(rgb: np.ndarray) -> Detections:
        batch, image_hw = transform(rgb)
        start = time.perf_counter()
        out = run(batch)
        seconds.append(time.perf_counter() - start)
        return transform.postprocess(out, image_hw, batch.shape[1:3], class_names)

    return detect


class Verification:
    """The Keras model's detections on a split, computed once, and the comparison of any
    number of artefacts with them.

    Args:
        predictor: the Keras ``Predictor`` with the export's input size (``model_hw`` fixed)
            and decoder settings.
        records: the validation images and their objects (``evaluation.runner.load_split``).
        progress: progress bars on stderr.
    """

    def __init__(
        self, predictor: Predictor, records: Sequence[ImageRecord], progress: bool = False
    ):
        if None in tuple(predictor.model_hw):
            raise ValueError("the Keras reference needs the export's fixed input size")
        self.predictor = predictor
        self.records = list(records)
        self.progress = progress
        self.paths = {i: os.fspath(r.path) for i, r in enumerate(self.records, 1)}
        self.reference, seconds = self._run(self._keras_detector, "keras")
        self.keras = {**self.reference["scores"], **self._speed(seconds)}

    def _keras_detector(self, seconds: list[float]) -> Callable[[np.ndarray], Detections]:
        def detect(rgb: np.ndarray) -> Detections:
            found, stages = self.predictor.timed(rgb)
            seconds.append(stages["detect"])
            return found

        return detect

    def _run(self, make: Callable[[list[float]], Callable], label: str) -> tuple[dict, list]:
        seconds: list[float] = []
        per_image: dict[int, Detections] = {}
        ground_truth, detections, failures = collect_detections(
            make(seconds),
            self.records,
            self.predictor.class_names,
            progress=self.progress,
            on_image=lambda i, _rgb, found: per_image.__setitem__(i, found),
            label=label,
        )
        if not ground_truth["images"]:
            raise ValueError(f"none of the {len(self.records)} validation images could be read")
        result = {
            "ground_truth": ground_truth,
            "per_image": per_image,
            "scores": scores(ground_truth, detections),
            "unreadable": failures,
        }
        return result, seconds

    @staticmethod
    def _speed(seconds: Sequence[float]) -> dict:
        """Median ms per image (the first, warm-up run left out when there are more)."""
        runs = list(seconds[1:] if len(seconds) > 1 else seconds)
        return {"ms_per_image": round(1000 * float(np.median(runs)), 3) if runs else None}

    def check(self, run: Callable[[np.ndarray], dict], label: str = "export") -> dict:
        """Score an artefact's ``run`` (``export.load_exported``) on the split and compare it
        with the Keras model: ``{"map50", "map50_voc07", "coco_ap", "ms_per_image",
        "map50_change", "differences"}``."""
        transform = ImageTransform(self.predictor.model_hw, self.predictor.letterbox)
        names = self.predictor.class_names
        found, seconds = self._run(lambda s: artefact_detector(run, transform, names, s), label)
        change = found["scores"][GATE_METRIC] - self.keras[GATE_METRIC]
        return {
            **found["scores"],
            **self._speed(seconds),
            "map50_change": round(change, 6),
            "differences": differences(self.reference["per_image"], found["per_image"], self.paths),
        }

    def summary(self) -> dict:
        """The split and the Keras model's scores, for the report."""
        ground_truth = self.reference["ground_truth"]
        return {
            "images": len(ground_truth["images"]),
            "objects": len(ground_truth["gt"]),
            "unreadable_images": self.reference["unreadable"],
            "keras": self.keras,
            "settings": self.predictor.settings(),
        }


def within(result: dict, max_drop: float) -> bool:
    """Whether an artefact's mAP@0.5 is at most ``max_drop`` below the Keras model's."""
    return -result["map50_change"] <= max_drop + 1e-9


def write_report(path: str | os.PathLike, report: dict) -> Path:
    """``report`` as indented JSON at ``path`` (atomically)."""
    atomic_write_text(path, json.dumps(report, indent=1, default=str) + "\n")
    return Path(path)
