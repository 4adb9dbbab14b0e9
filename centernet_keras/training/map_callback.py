"""Validation mAP during training (VOC AP@0.5 through ``centernet_keras.evaluation``)."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from centernet_keras.boxes import boxes_to_original
from centernet_keras.data.annotations import ImageRecord
from centernet_keras.data.image_io import SkipLog
from centernet_keras.data.pipeline import make_inference_dataset

log = logging.getLogger("centernet_keras.training")


def predict_records(
    model: keras.Model,
    records: Sequence[ImageRecord],
    batch_size: int = 8,
    confidence: float = 0.01,
    skips: SkipLog | None = None,
) -> tuple[dict, list[dict]]:
    """Run ``model`` over ``records``; return evaluator-ready ``(ground_truth, detections)``.

    Boxes are mapped back to original-image pixels (``boxes_to_original``). Images that cannot
    be read are left out of both (and added to ``skips``).
    """
    input_hw = tuple(int(v) for v in model.input_shape[1:3])
    data = make_inference_dataset(records, input_hw, model.image_resize, batch_size, skips)
    forward = tf.function(lambda x: model.decode(model(x, training=False)))
    images, gt, det = [], [], []
    for batch, index, image_hw in data:
        out = {k: v.numpy() for k, v in forward(batch).items()}
        for b, (i, hw) in enumerate(zip(index.numpy(), image_hw.numpy(), strict=True)):
            record = records[int(i)]
            images.append({"id": int(i), "height": int(hw[0]), "width": int(hw[1])})
            for box, cls, diff in zip(record.boxes, record.classes, record.difficult, strict=True):
                gt.append(
                    {
                        "image_id": int(i),
                        "bbox": box.tolist(),
                        "class": int(cls),
                        "difficult": int(diff),
                    }
                )
            n = int(out["num_detections"][b])
            boxes = boxes_to_original(
                out["boxes"][b, :n], tuple(hw), input_hw, model.image_resize == "letterbox"
            )
            for box, score, cls in zip(
                boxes, out["scores"][b, :n], out["classes"][b, :n], strict=True
            ):
                if score >= confidence:
                    det.append(
                        {
                            "image_id": int(i),
                            "bbox": box.tolist(),
                            "class": int(cls),
                            "score": float(score),
                        }
                    )
    return {"images": images, "gt": gt}, det


def evaluate_model(
    model: keras.Model,
    records: Sequence[ImageRecord],
    metric: str = "voc07",
    confidence: float = 0.01,
    batch_size: int = 8,
):
    """mAP of ``model`` on ``records`` (``metric``: ``voc07``, ``voc`` or ``coco``)."""
    from centernet_keras.evaluation import evaluate

    names = list(model.class_names or [str(c) for c in range(model.num_classes)])
    ground_truth, detections = predict_records(model, records, batch_size, confidence)
    return evaluate(ground_truth, detections, metric, class_names=names)


class MapCallback(keras.callbacks.Callback):
    """Every ``every`` epochs (and at the last one), log ``val_map`` = VOC07 AP@0.5.

    Epochs without an evaluation log NaN, so CSV columns stay aligned.
    """

    def __init__(
        self,
        records: Sequence[ImageRecord],
        every: int,
        last_epoch: int,
        confidence: float = 0.01,
        batch_size: int = 8,
    ):
        super().__init__()
        self.records, self.every, self.last_epoch = list(records), int(every), int(last_epoch)
        self.confidence, self.batch_size = confidence, batch_size

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs if logs is not None else {}
        if (epoch + 1) % self.every and epoch + 1 != self.last_epoch:
            logs["val_map"] = math.nan
            return
        result = evaluate_model(self.model, self.records, "voc07", self.confidence, self.batch_size)
        logs["val_map"] = float(result.mean_ap)
        log.info("epoch %d: val mAP@0.5 (VOC07) = %.4f", epoch + 1, result.mean_ap)
        if not np.isfinite(result.mean_ap):
            log.warning("val mAP is not finite (no ground truth?)")
