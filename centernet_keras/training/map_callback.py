"""Validation mAP during training, computed exactly as ``get_map.py`` computes it."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import keras

from centernet_keras.data.annotations import ImageRecord

log = logging.getLogger("centernet_keras.training")


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
    from centernet_keras.evaluation import evaluate
    from centernet_keras.evaluation.runner import collect_detections
    from centernet_keras.inference import Predictor

    names = list(model.class_names or [str(c) for c in range(model.num_classes)])
    predictor = Predictor(model, names, score_threshold=score_threshold)
    ground_truth, detections, failures = collect_detections(predictor, records, names, False)
    for failure in failures:
        log.warning("validation image skipped: %s", failure)
    return evaluate(ground_truth, detections, metric)


class MapCallback(keras.callbacks.Callback):
    """Every ``every`` epochs (and at the last one), log ``val_map`` = VOC07 AP@0.5.

    Epochs without an evaluation log nothing (``log.csv`` leaves the cell empty).
    """

    def __init__(
        self,
        records: Sequence[ImageRecord],
        every: int,
        last_epoch: int,
        score_threshold: float = 0.01,
    ):
        super().__init__()
        self.records, self.every, self.last_epoch = list(records), int(every), int(last_epoch)
        self.score_threshold = score_threshold

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs if logs is not None else {}
        if (epoch + 1) % self.every and epoch + 1 != self.last_epoch:
            return
        result = evaluate_model(self.model, self.records, "voc07", self.score_threshold)
        logs["val_map"] = float(result.mean_ap)
        log.info("epoch %d: val mAP@0.5 (VOC07) = %.4f", epoch + 1, result.mean_ap)
