"""Images into the network input, and detections back to the images (the ``Predictor``'s
transform, as torchvision's ``GeneralizedRCNNTransform`` is its detectors').

``ImageTransform`` fits an image of any size to the network input by letterbox (gray
``PAD_VALUE`` padding, the ``boxes.letterbox_params`` geometry) or plain resize, and maps what
the network found there (boxes, a pose model's joints, a heatmap) back to the image's pixels
(``boxes.boxes_to_original``, ``boxes.points_to_original``). A model with a dynamic input size
gets each image scaled to a longest side of ``DEFAULT_INPUT_SIDE`` (``input_size_for``), or the
size asked for (``requested_input_size``).

The ``tf.data`` pipeline's validation transform (``data.augment.warp_image``) places images the
same way (``boxes.letterbox_placement``); its numerics are its own (float, in the graph).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from centernet_keras.boxes import (
    LETTERBOX_FILL,
    boxes_to_original,
    letterbox_params,
    points_to_original,
)
from centernet_keras.data.image_io import ImageInput, load_image
from centernet_keras.detections import Detections

PAD_VALUE = LETTERBOX_FILL  # gray letterbox padding, as in the tf.data pipeline
DEFAULT_INPUT_SIDE = 512  # longest input side for models with a dynamic input size


def fit_to_input(image: np.ndarray, input_hw: Sequence[int], letterbox: bool) -> np.ndarray:
    """Resize an RGB image to the network input, letterboxed or stretched.

    The validation transform of the ``tf.data`` pipeline (``data.augment.warp_image``), up
    to the rounding of this uint8 canvas: bilinear, pixel-centre aligned
    (``cv2.INTER_LINEAR``; edge pixels repeated when upscaling). Letterbox: resize to
    ``(new_w, new_h)`` of ``letterbox_params`` (the placement the pipeline and
    ``boxes_to_original`` use) and paste at ``(pad_x, pad_y)`` on a gray (``PAD_VALUE``)
    canvas.

    Args:
        image: ``[h, w, 3]`` uint8 RGB.
        input_hw: network input ``(H, W)``.
        letterbox: keep the aspect ratio and pad, or stretch.

    Returns:
        ``[H, W, 3]`` uint8.
    """
    in_h, in_w = (int(v) for v in input_hw)
    if not letterbox:
        return cv2.resize(image, (in_w, in_h), interpolation=cv2.INTER_LINEAR)
    _, pad_x, pad_y, new_w, new_h = letterbox_params(image.shape[:2], (in_h, in_w))
    canvas = np.full((in_h, in_w, 3), PAD_VALUE, np.uint8)
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    canvas[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = resized
    return canvas


def input_size_for(
    image_hw: Sequence[int], model_hw: Sequence[int | None], side: int = DEFAULT_INPUT_SIDE
) -> tuple[int, int]:
    """Network input size for an image: the model's, or (dynamic models) the image scaled so its
    longest side is ``side``, each side rounded up to a multiple of 32.
    """
    if all(d is not None for d in model_hw):
        return int(model_hw[0]), int(model_hw[1])
    h, w = (float(v) for v in image_hw)
    scale = side / max(h, w)
    return tuple(max(32, int(np.ceil(v * scale / 32.0)) * 32) for v in (h, w))  # type: ignore[return-value]


def _side_text(hw: Sequence[int]) -> str:
    """``(140, 140)`` → ``"140"``; ``(140, 100)`` → ``"(140, 100)"``."""
    return str(hw[0]) if hw[0] == hw[1] else f"({hw[0]}, {hw[1]})"


def requested_input_size(
    model_hw: Sequence[int | None], input_size: int | Sequence[int] | None
) -> tuple:
    """The network input ``(H, W)`` of a model (``None`` sides: each image decides) with an
    asked ``input_size`` (a side or ``(H, W)``, rounded up to multiples of 32).

    Raises:
        ValueError: a side below 1, or a size other than the fixed input size of the model.
    """
    model_hw = tuple(model_hw)
    if input_size is None:
        return model_hw
    asked = (input_size,) * 2 if isinstance(input_size, int) else tuple(input_size)
    if min(int(v) for v in asked) < 1:
        raise ValueError(f"input_size (--input-size) must be positive, got {input_size}")
    hw = tuple(int(np.ceil(int(v) / 32.0)) * 32 for v in asked)
    if None not in model_hw and hw != model_hw:
        rounded = "" if hw == asked else f" (rounded up to {_side_text(hw)})"
        raise ValueError(
            f"input_size (--input-size) {_side_text(asked)}{rounded} does not fit: the "
            f"model's input size is fixed at {model_hw}"
        )
    return hw


class ImageTransform:
    """Images → network input batches, and network outputs → the images' pixels.

    Args:
        model_hw: the network input ``(H, W)``; ``None`` sides: each image is scaled to a
            longest side of ``DEFAULT_INPUT_SIDE`` (``input_size_for``).
        letterbox: keep the aspect ratio and pad (gray), or stretch.
    """

    def __init__(self, model_hw: Sequence[int | None], letterbox: bool):
        self.model_hw = tuple(model_hw)
        self.letterbox = bool(letterbox)

    def __call__(self, image: ImageInput) -> tuple[np.ndarray, tuple[int, int]]:
        """Image → ``([1, H, W, 3]`` uint8 network input, original ``(h, w))``."""
        rgb = load_image(image)
        input_hw = input_size_for(rgb.shape[:2], self.model_hw)
        return fit_to_input(rgb, input_hw, self.letterbox)[None], rgb.shape[:2]

    def at_size(self, image: ImageInput, input_hw: Sequence[int] | None) -> np.ndarray:
        """The network input ``[1, H, W, 3]`` of ``image``, at ``input_hw`` when given (e.g.
        the input size of a graph an INT8 calibration is made for), else as ``__call__``."""
        if input_hw is None:
            return self(image)[0]
        return fit_to_input(load_image(image), input_hw, self.letterbox)[None]

    def postprocess(
        self,
        decoded: dict,
        image_hw: Sequence[int],
        input_hw: Sequence[int],
        class_names: Sequence[str],
        index: int = 0,
    ) -> Detections:
        """Padded detections of image ``index`` → ``Detections`` in original pixels.

        Boxes are clipped to the image; boxes left with no area (found in the padding) are
        dropped. A pose decoder's joints (``"keypoints"`` ``[B, K, J, 2]``) are mapped the
        same way, clipped to the image, and kept for the same people, with their
        ``"keypoint_scores"``.

        Args:
            decoded: a decoder's padded detections: ``boxes [B, K, 4]`` in input pixels,
                ``scores``, ``classes`` ``[B, K]``, ``num_detections [B]`` (and joints).
            image_hw: the original image's ``(h, w)``.
            input_hw: the network input ``(H, W)`` the detections are in.
            class_names: name of each class id.
            index: the image of the batch.
        """
        n = int(decoded["num_detections"][index])
        boxes = boxes_to_original(
            np.asarray(decoded["boxes"][index, :n], np.float32),
            image_hw,
            input_hw,
            self.letterbox,
        )
        keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        class_ids = np.asarray(decoded["classes"][index, :n], np.int32)[keep]
        keypoints = keypoint_scores = None
        if "keypoints" in decoded:
            h, w = (float(v) for v in image_hw)
            joints = np.asarray(decoded["keypoints"][index, :n], np.float32)
            joints = points_to_original(joints, image_hw, input_hw, self.letterbox)
            keypoints = np.clip(joints, 0.0, [w, h]).astype(np.float32)[keep]  # also (-1, -1)
            keypoint_scores = np.asarray(decoded["keypoint_scores"][index, :n], np.float32)[keep]
        return Detections(
            boxes=boxes[keep],
            scores=np.asarray(decoded["scores"][index, :n], np.float32)[keep],
            class_ids=class_ids,
            class_names=[class_names[c] for c in class_ids],
            image_size=(int(image_hw[0]), int(image_hw[1])),
            keypoints=keypoints,
            keypoint_scores=keypoint_scores,
        )

    def heatmap_to_original(
        self, heat: np.ndarray, image_hw: Sequence[int], input_hw: Sequence[int]
    ) -> np.ndarray:
        """A ``[h', w']`` map over the network input (e.g. the stride-4 heatmap) → ``[h, w]``
        float32 over the original image: resized to the input, the letterbox padding cut
        off, resized to the image (bilinear)."""
        h, w = (int(v) for v in image_hw)
        in_h, in_w = (int(v) for v in input_hw)
        heat = cv2.resize(heat, (in_w, in_h), interpolation=cv2.INTER_LINEAR)
        if self.letterbox:
            _, px, py, nw, nh = letterbox_params((h, w), (in_h, in_w))
            heat = heat[py : py + max(nh, 1), px : px + max(nw, 1)]
        return cv2.resize(heat, (w, h), interpolation=cv2.INTER_LINEAR)
