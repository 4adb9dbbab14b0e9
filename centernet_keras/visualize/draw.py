"""Drawing primitives: boxes with their labels, the FPS, a heatmap overlay, crops.

The drawing functions take an RGB image (``[H, W, 3]`` uint8 array or PIL image) and return a
new PIL image; the input is never modified. Colours are fixed per class id (golden-ratio hue
steps, so neighbouring ids differ), labels read ``"<class> <score>"``, stay inside the image
and never overlap each other (``label_layout``).
"""

from __future__ import annotations

import colorsys
from collections import Counter
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

_GOLDEN = 0.618033988749895


def class_color(class_id: int) -> tuple[int, int, int]:
    """A distinct, saturated RGB colour for a class id (the same on every call)."""
    hue = (0.1 + int(class_id) * _GOLDEN) % 1.0
    sat, val = (0.85, 0.95) if class_id % 2 == 0 else (0.65, 0.85)
    r, g, b = colorsys.hsv_to_rgb(hue, sat, val)
    return round(r * 255), round(g * 255), round(b * 255)


def text_color(background: Sequence[int]) -> tuple[int, int, int]:
    """Black or white, whichever reads better on ``background`` (Rec. 601 luma)."""
    r, g, b = background[:3]
    return (0, 0, 0) if 0.299 * r + 0.587 * g + 0.114 * b > 140 else (255, 255, 255)


def to_pil(image) -> Image.Image:
    """A new RGB PIL image of ``image`` (``[H, W, 3]`` uint8 array or PIL image), to draw on."""
    if isinstance(image, Image.Image):
        return image.convert("RGB")  # a copy
    return Image.fromarray(np.asarray(image, np.uint8)).convert("RGB")


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def label_position(
    box: Sequence[float], text_wh: tuple[int, int], image_wh: tuple[int, int]
) -> tuple[int, int]:
    """Top-left corner of a label for ``box`` so that the label lies inside the image.

    Above the box when there is room, else just inside its top edge; shifted left/up when it
    would cross the right/bottom border.

    Args:
        box: ``[x1, y1, x2, y2]`` in image pixels.
        text_wh: label ``(width, height)``.
        image_wh: image ``(width, height)``.

    Returns:
        ``(x, y)`` integer pixel position.
    """
    tw, th = text_wh
    iw, ih = image_wh
    x1, y1 = round(float(box[0])), round(float(box[1]))
    y = y1 - th if y1 - th >= 0 else y1
    x = max(0, min(x1, iw - tw))
    y = max(0, min(y, ih - th))
    return x, y


_NEVER = np.iinfo(np.int64).max

Rect = tuple[int, int, int, int]
"""A label rectangle ``(x, y, width, height)`` in pixels; it covers ``[x, x + width)``."""


def place_labels(
    boxes: Sequence[Sequence[float]],
    label_sizes: Sequence[tuple[int, int]],
    image_wh: tuple[int, int],
    near_box: bool = True,
    occupied: Sequence[Rect] = (),
) -> list[Rect | None]:
    """Greedy label layout: no two labels overlap and every label lies inside the image.

    Labels are placed in the given order (pass the best-scored detection first), each at the
    first free spot of: above the box, inside its top edge (left-aligned, then right-aligned),
    below the box, inside its bottom edge; else at the free spot nearest to "above the box"
    among positions just beside the labels placed so far. With ``near_box`` a label must stay
    within two label heights of its box; a label with no free spot gets ``None``.

    Args:
        boxes: ``[N, 4]`` boxes ``[x1, y1, x2, y2]`` in image pixels.
        label_sizes: ``N`` label ``(width, height)`` in pixels.
        image_wh: image ``(width, height)``.
        near_box: keep labels close to their boxes (``False``: anywhere in the image).
        occupied: rectangles ``(x, y, width, height)`` already taken (e.g. earlier labels).

    Returns:
        ``N`` rectangles ``(x, y, width, height)`` (or ``None``), pairwise disjoint.
    """
    iw, ih = int(image_wh[0]), int(image_wh[1])
    placed = np.array([(x, y, x + w, y + h) for x, y, w, h in occupied], np.int64).reshape(-1, 4)
    rects: list[Rect | None] = []
    for box, (tw, th) in zip(boxes, label_sizes, strict=True):
        tw, th = int(tw), int(th)
        bx1, bx2 = (min(max(round(float(v)), 0), iw) for v in (box[0], box[2]))
        by1, by2 = (min(max(round(float(v)), 0), ih) for v in (box[1], box[3]))
        if tw > iw or th > ih or tw < 1 or th < 1:
            rects.append(None)
            continue
        # Preferred spots in order, then spots beside every placed label (left/right/above/below).
        spots = [(bx1, by1 - th), (bx1, by1), (bx2 - tw, by1 - th), (bx2 - tw, by1)]
        spots += [(bx1, by2), (bx2 - tw, by2), (bx1, by2 - th), (bx2 - tw, by2 - th)]
        xs = np.concatenate([[bx1, bx2 - tw], placed[:, 2], placed[:, 0] - tw])
        ys = np.concatenate([[by1 - th, by1, by2], placed[:, 3], placed[:, 1] - th])
        grid = np.stack(np.meshgrid(xs, ys, indexing="ij"), -1).reshape(-1, 2)
        cand = np.concatenate([np.asarray(spots, np.int64), grid])
        cand = np.clip(cand, 0, [iw - tw, ih - th])
        anchor = np.array([bx1, max(by1 - th, 0)])
        cost = np.abs(cand - anchor).sum(axis=1) + len(spots)
        cost[: len(spots)] = np.arange(len(spots))
        if near_box:  # the gap between label and box, per axis
            gap_x = np.maximum(0, np.maximum(bx1 - (cand[:, 0] + tw), cand[:, 0] - bx2))
            gap_y = np.maximum(0, np.maximum(by1 - (cand[:, 1] + th), cand[:, 1] - by2))
            cost = np.where((gap_x <= 0) & (gap_y <= 2 * th), cost, _NEVER)
        order = np.argsort(cost, kind="stable")
        order = order[cost[order] < _NEVER]
        rect = None
        for start in range(0, len(order), 256):  # cheapest candidates first, 256 at a time
            x, y = cand[order[start : start + 256]].T[:, :, None]  # [2, n, 1]
            hit = (x < placed[:, 2]) & (placed[:, 0] < x + tw)
            hit &= (y < placed[:, 3]) & (placed[:, 1] < y + th)
            free = np.flatnonzero(~hit.any(axis=1))
            if free.size:
                rx, ry = int(x[free[0], 0]), int(y[free[0], 0])
                rect = (rx, ry, tw, th)
                placed = np.concatenate([placed, [[rx, ry, rx + tw, ry + th]]])
                break
        rects.append(rect)
    return rects


def _default_font_size(image_wh: tuple[int, int]) -> int:
    return int(np.clip(min(image_wh) * 0.03, 10, 32))


def _text_box(text: str, font) -> tuple[int, int, int, int]:
    """``(left, top, width, height)`` of ``text``, with the height of the font's tallest
    letters and deepest descenders, so all labels of one font are equally high."""
    left, top, right, bottom = font.getbbox(text)
    _, tall, _, deep = font.getbbox("Ag")
    top, bottom = min(top, tall), max(bottom, deep)
    return left, top, right - left, bottom - top


def _label_size(text: str, font) -> tuple[int, int]:
    _, _, width, height = _text_box(text, font)
    return width + 4, height + 4  # 2 px margin around the text


def label_layout(
    detections, image_wh: tuple[int, int], font_size: int | None = None
) -> list[tuple[str, int, Rect]]:
    """The labels ``draw_detections`` draws: ``(text, class id, (x, y, width, height))``.

    Each detection gets ``"<class> <score>"`` next to its box (``place_labels``, the
    best-scored first). Where labels are too dense for one to find a free spot near its box, it
    is left out, and a legend (from the bottom-left corner) lists ``"+<n> <class>"``: the
    number of boxes of each class drawn without a label. No two rectangles overlap and all lie
    inside the image.

    Args:
        detections: an ``inference.Detections`` (boxes in the image's pixels).
        image_wh: image ``(width, height)``.
        font_size: label font size; default from the image size.
    """
    font = _font(font_size or _default_font_size(image_wh))
    order = np.argsort(-np.asarray(detections.scores, np.float64), kind="stable")
    texts = [f"{detections.class_names[i]} {float(detections.scores[i]):.2f}" for i in order]
    boxes = np.asarray(detections.boxes, np.float64).reshape(-1, 4)[order]
    rects = place_labels(boxes, [_label_size(t, font) for t in texts], image_wh)
    labels = []
    unlabelled: Counter = Counter()
    names: dict[int, str] = {}
    for i, text, rect in zip(order, texts, rects, strict=True):
        cls = int(detections.class_ids[i])
        if rect is None:
            unlabelled[cls] += 1
            names[cls] = detections.class_names[i]
        else:
            labels.append((text, cls, rect))
    if unlabelled:  # the legend, placed around the labels
        legend = [(f"+{n} {names[cls]}", cls) for cls, n in sorted(unlabelled.items())]
        rects = place_labels(
            [(0, image_wh[1], 0, image_wh[1])] * len(legend),
            [_label_size(text, font) for text, _ in legend],
            image_wh,
            near_box=False,
            occupied=[rect for _, _, rect in labels],
        )
        labels += [
            (text, cls, rect)
            for (text, cls), rect in zip(legend, rects, strict=True)
            if rect is not None
        ]
    return labels


def draw_detections(
    image,
    detections,
    line_width: int | None = None,
    font_size: int | None = None,
) -> Image.Image:
    """Draw boxes, then their ``"<class> <score>"`` labels, laid out by ``label_layout``.

    Args:
        image: ``[H, W, 3]`` uint8 RGB array or PIL image.
        detections: an ``inference.Detections`` (boxes in this image's pixels).
        line_width: box outline width; default from the image size.
        font_size: label font size; default from the image size.

    Returns:
        A new RGB PIL image.
    """
    canvas = to_pil(image)
    width, height = canvas.size
    lw = line_width or max(1, round(min(width, height) / 300))
    font_size = font_size or _default_font_size((width, height))
    font = _font(font_size)
    draw = ImageDraw.Draw(canvas)
    for box, cls in zip(detections.boxes, detections.class_ids, strict=True):
        x1, y1 = max(0.0, float(box[0])), max(0.0, float(box[1]))
        x2, y2 = min(width - 1.0, float(box[2])), min(height - 1.0, float(box[3]))
        draw.rectangle([x1, y1, max(x1, x2), max(y1, y2)], outline=class_color(int(cls)), width=lw)
    for text, cls, (x, y, tw, th) in label_layout(detections, (width, height), font_size):
        color = class_color(cls)
        left, top, _, _ = _text_box(text, font)
        draw.rectangle([x, y, x + tw - 1, y + th - 1], fill=color)
        draw.text((x + 2 - left, y + 2 - top), text, fill=text_color(color), font=font)
    return canvas


def draw_fps(image, fps: float) -> Image.Image:
    """Write ``"FPS <n>"`` in the top-left corner (video mode)."""
    canvas = to_pil(image)
    font = _font(int(np.clip(min(canvas.size) * 0.04, 12, 36)))
    draw = ImageDraw.Draw(canvas)
    text = f"FPS {fps:.1f}"
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    draw.rectangle([0, 0, right - left + 8, bottom - top + 8], fill=(0, 0, 0))
    draw.text((4 - left, 4 - top), text, fill=(255, 255, 0), font=font)
    return canvas


def heatmap_overlay(image, heatmap: np.ndarray, alpha: float = 0.5) -> Image.Image:
    """Blend a ``[H, W]`` heatmap (0–1, the image's size) over the image with the jet colormap.

    Args:
        image: ``[H, W, 3]`` uint8 RGB array or PIL image.
        heatmap: ``[H, W]`` probabilities (e.g. ``Predictor.heatmap``).
        alpha: weight of the heatmap colours.

    Returns:
        A new RGB PIL image.
    """
    from matplotlib import colormaps

    base = np.asarray(to_pil(image), np.float32)
    heat = np.clip(np.asarray(heatmap, np.float32), 0.0, 1.0)
    if heat.shape != base.shape[:2]:
        raise ValueError(f"heatmap {heat.shape} does not match the image {base.shape[:2]}")
    colors = colormaps["jet"](heat)[..., :3] * 255.0
    out = (1.0 - alpha) * base + alpha * colors
    return Image.fromarray(np.clip(np.rint(out), 0, 255).astype(np.uint8))


def crop_detections(image, detections) -> list[Image.Image]:
    """One crop per detection (the box rounded outwards to whole pixels, inside the image)."""
    canvas = to_pil(image)
    width, height = canvas.size
    crops = []
    for box in detections.boxes:
        x1, y1 = max(0, int(np.floor(box[0]))), max(0, int(np.floor(box[1])))
        x2, y2 = min(width, int(np.ceil(box[2]))), min(height, int(np.ceil(box[3])))
        crops.append(canvas.crop((x1, y1, max(x2, x1 + 1), max(y2, y1 + 1))))
    return crops
