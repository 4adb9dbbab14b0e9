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
    """

    boxes: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray
    class_names: list[str]
    image_size: tuple[int, int]

    def __len__(self) -> int:
        return len(self.scores)

    def to_records(self, image_id) -> list[dict]:
        """Evaluation records ``[{image_id, bbox, class, score}]`` (see ``evaluation``)."""
        return [
            {
                "image_id": image_id,
                "bbox": [float(v) for v in b],
                "class": int(c),
                "score": float(s),
            }
            for b, c, s in zip(self.boxes, self.class_ids, self.scores, strict=True)
        ]
