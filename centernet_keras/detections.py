"""``Detections``: what a detector returns for one image, in original-image pixels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Detections:
    """Detections of one image, in original-image pixels.

    Attributes:
        boxes: ``[N, 4]`` float32 ``[x1, y1, x2, y2]``, inside the image.
        scores: ``[N]`` float32, descending.
        class_ids: ``[N]`` int32, 0-based.
        class_names: ``N`` names, one per detection.
        image_size: ``(height, width)`` of the original image (after EXIF rotation).
        keypoints: pose models: ``[N, J, 2]`` float32 joint ``(x, y)``, inside the image;
            ``None`` for box detectors.
        keypoint_scores: pose models: ``[N, J]`` float32 joint scores; ``None`` for box
            detectors.
    """

    boxes: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray
    class_names: list[str]
    image_size: tuple[int, int]
    keypoints: np.ndarray | None = None
    keypoint_scores: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.scores)

    def above(self, score_threshold: float) -> Detections:
        """The detections scoring at least ``score_threshold`` (a new object; order kept)."""
        return self.where(np.asarray(self.scores) >= score_threshold)

    def where(self, keep: np.ndarray) -> Detections:
        """The detections where ``keep`` (``[N]`` bool) is set (a new object; order kept)."""
        keep = np.asarray(keep, bool)
        return Detections(
            boxes=np.asarray(self.boxes)[keep],
            scores=np.asarray(self.scores)[keep],
            class_ids=np.asarray(self.class_ids)[keep],
            class_names=[n for n, k in zip(self.class_names, keep, strict=True) if k],
            image_size=self.image_size,
            keypoints=None if self.keypoints is None else np.asarray(self.keypoints)[keep],
            keypoint_scores=(
                None if self.keypoint_scores is None else np.asarray(self.keypoint_scores)[keep]
            ),
        )

    def to_records(self, image_id) -> list[dict]:
        """Evaluation records ``[{image_id, bbox, class, score}]`` (see ``evaluation``).

        With keypoints, each record also has ``"keypoints"``: ``[x1, y1, 1, x2, y2, 1, …]``
        (``3J`` numbers, the COCO results format with visibility 1, as the CenterNet reference
        writes) and, when ``keypoint_scores`` is set, ``"keypoint_scores"``: ``J`` floats.
        """
        records = [
            {
                "image_id": image_id,
                "bbox": [float(v) for v in b],
                "class": int(c),
                "score": float(s),
            }
            for b, c, s in zip(self.boxes, self.class_ids, self.scores, strict=True)
        ]
        if self.keypoints is None:
            return records
        for record, joints in zip(records, np.asarray(self.keypoints), strict=True):
            record["keypoints"] = [v for x, y in joints for v in (float(x), float(y), 1.0)]
        if self.keypoint_scores is not None:
            for record, scores in zip(records, np.asarray(self.keypoint_scores), strict=True):
                record["keypoint_scores"] = [float(v) for v in scores]
        return records

    def to_coco_results(self, image_id: int, **fields) -> list[dict]:
        """The detections in the COCO results format (what ``pycocotools``' ``loadRes`` reads).

        Each: ``{"image_id", "category_id", "bbox": [x, y, w, h], "score", "category_name",
        **fields}`` in original-image pixels (``x, y``: the top-left corner), ``category_id``
        the model's 0-based class id; a pose model's also ``"keypoints"`` ``[x1, y1, 1, …]``
        (``3J`` numbers, visibility 1) and ``"keypoint_scores"`` (``J``), as ``to_records``.

        Args:
            image_id: the image's id in the results.
            fields: more keys of every detection (e.g. ``file_name``).
        """
        results = []
        for record, name in zip(self.to_records(image_id), self.class_names, strict=True):
            x1, y1, x2, y2 = record["bbox"]
            result = {
                "image_id": image_id,
                "category_id": record["class"],
                "bbox": [x1, y1, x2 - x1, y2 - y1],
                "score": record["score"],
                "category_name": name,
                **fields,
            }
            for key in ("keypoints", "keypoint_scores"):
                if key in record:
                    result[key] = record[key]
            results.append(result)
        return results
