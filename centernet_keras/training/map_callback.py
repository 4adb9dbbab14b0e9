"""Validation mAP during training (and a pose model's keypoint AP), computed exactly as
``get_map.py`` computes them.

One pass over the validation set (``run_validation``) gives the mAP and is kept
(``MapCallback.latest``), so the pictures of that epoch (``training.artefacts``) reuse its
detections instead of running the set again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import keras
import numpy as np

# called as module attributes (evaluation.evaluate, inference.Predictor): tests patch them there
from centernet_keras import evaluation, inference
from centernet_keras.data.annotations import ImageRecord
from centernet_keras.detections import Detections
from centernet_keras.evaluation import KEYPOINT_METRIC
from centernet_keras.evaluation.runner import collect_detections
from centernet_keras.evaluation.triage import TRIAGE_BELOW_MAP, diagnose, report_lines

log = logging.getLogger("centernet_keras.training")


@dataclass
class ValidationRun:
    """One pass of a model over the validation set.

    Attributes:
        epoch: the 0-based epoch after which it ran (-1: outside training).
        score_threshold: the detections' score threshold.
        ground_truth: plain ground-truth records (``evaluation``; with ``classes``).
        detections: ``[{image_id, bbox, class, score}]`` records of every image.
        samples: ``(image [H, W, 3] uint8, Detections)`` of the first images, for drawing.
    """

    epoch: int
    score_threshold: float
    ground_truth: dict
    detections: list[dict]
    samples: list[tuple[np.ndarray, Detections]] = field(default_factory=list)


def run_validation(
    model: keras.Model,
    records: Sequence[ImageRecord],
    score_threshold: float = 0.01,
    samples: int = 0,
    epoch: int = -1,
    progress: bool = False,
) -> ValidationRun:
    """Run ``model`` over ``records`` through the ``Predictor`` and loop of ``get_map``.

    Args:
        model: a detector.
        records: images with ground truth (original-image pixels).
        score_threshold: score threshold of the detections (low for mAP).
        samples: how many of the first readable images to keep with their detections.
        epoch: recorded in the result.
        progress: show a progress bar ("validation", on stderr) while the images run.
    """
    names = list(model.class_names or [str(c) for c in range(model.num_classes)])
    predictor = inference.Predictor(model, names, score_threshold=score_threshold)
    kept: list[tuple[np.ndarray, Detections]] = []

    def keep(image_id: int, rgb: np.ndarray, found: Detections) -> None:
        if len(kept) < samples:
            kept.append((rgb, found))

    ground_truth, detections, failures = collect_detections(
        predictor, records, names, progress, on_image=keep, label="validation"
    )
    for failure in failures:
        log.warning("validation image skipped: %s", failure)
    return ValidationRun(epoch, float(score_threshold), ground_truth, detections, kept)


def evaluate_model(
    model: keras.Model,
    records: Sequence[ImageRecord],
    metric: str = "voc07",
    score_threshold: float = 0.01,
):
    """mAP of ``model`` on ``records`` through the ``Predictor`` and evaluator of ``get_map``.

    Args:
        model: a detector.
        records: images with ground truth (original-image pixels).
        metric: ``"voc07"``, ``"voc"`` or ``"coco"``.
        score_threshold: score threshold of the detections (low for mAP).
    """
    run = run_validation(model, records, score_threshold)
    return evaluation.evaluate(run.ground_truth, run.detections, metric)


class MapCallback(keras.callbacks.Callback):
    """Every ``every`` epochs (and at the last one), log ``val_map`` = VOC07 AP@0.5 and, for a
    pose model validated on a COCO keypoints file, ``val_keypoint_ap`` = OKS AP@[.5:.95]
    (``get_map.py``'s keypoint AP; left out when undefined, e.g. no labelled joints).

    Both go to the epoch's logs (the console line, ``log.csv``; they choose ``best.keras``:
    ``callbacks.BestEpoch``) and to one log line. Epochs without an evaluation log nothing
    (``log.csv`` leaves the cells empty). The last pass is kept as ``latest`` (a
    ``ValidationRun`` holding its first ``samples`` images). Below an mAP of
    ``triage.TRIAGE_BELOW_MAP`` the causes its detections show (``triage.diagnose``) are logged
    once, and again when they change (``triage_causes``: the last logged).
    """

    def __init__(
        self,
        records: Sequence[ImageRecord],
        every: int,
        last_epoch: int,
        score_threshold: float = 0.01,
        samples: int = 16,
    ):
        super().__init__()
        self.records, self.every, self.last_epoch = list(records), int(every), int(last_epoch)
        self.score_threshold, self.samples = score_threshold, int(samples)
        self.latest: ValidationRun | None = None
        self.triage_causes: tuple[str, ...] | None = None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs if logs is not None else {}
        if (epoch + 1) % self.every and epoch + 1 != self.last_epoch:
            return
        # Keras' per-step bar (verbose 1) leaves its line open until the epoch ends: end it,
        # so that the validation bar and the mAP line start lines of their own.
        progress = (self.params or {}).get("verbose") in (1, "auto")
        if progress and keras.utils.is_interactive_logging_enabled():
            print(flush=True)
        self.latest = run_validation(
            self.model, self.records, self.score_threshold, self.samples, epoch, progress
        )
        ground_truth, detections = self.latest.ground_truth, self.latest.detections
        result = evaluation.evaluate(ground_truth, detections, "voc07")
        logs["val_map"] = float(result.mean_ap)
        line = f"epoch {epoch + 1}: val mAP@0.5 (VOC07) = {result.mean_ap:.4f}"
        keypoints = "keypoint_spec" in ground_truth.get("coco_json", {})
        if keypoints and self.model.keypoint_spec is not None:
            oks = float(evaluation.evaluate(ground_truth, detections, KEYPOINT_METRIC).mean_ap)
            if oks >= 0.0:  # pycocotools' -1: undefined
                logs["val_keypoint_ap"] = oks
                line += f", keypoint AP (OKS AP@[.5:.95]) = {oks:.4f}"
        log.info("%s", line)
        if result.mean_ap < TRIAGE_BELOW_MAP:
            self._log_triage(ground_truth, detections, float(result.mean_ap))

    def _log_triage(self, ground_truth: dict, detections: list[dict], mean_ap: float) -> None:
        """Log why mAP is near zero, unless these causes were the last logged."""
        found = diagnose(ground_truth, detections, self.score_threshold)
        causes = tuple(f.cause for f in found)
        if causes != self.triage_causes:
            self.triage_causes = causes
            for line in report_lines(found, mean_ap):
                log.warning("%s", line)
