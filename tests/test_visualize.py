"""Drawing (colours, labels inside the image, overlays, crops) and annotated folder/video output."""

import time

import cv2
import numpy as np
import pytest
from PIL import Image

from centernet_keras.detections import Detections
from centernet_keras.visualize import (
    annotate_folder,
    annotate_image,
    annotate_video,
    class_color,
    crop_detections,
    draw_detections,
    heatmap_overlay,
    label_position,
    text_color,
)


def _detections(boxes, classes, scores=None, names=("cat", "dog", "car"), hw=(60, 80)):
    classes = np.asarray(classes, np.int32)
    scores = np.linspace(0.9, 0.5, len(classes)) if scores is None else scores
    return Detections(
        np.asarray(boxes, np.float32).reshape(-1, 4),
        np.asarray(scores, np.float32),
        classes,
        [names[c] for c in classes],
        hw,
    )


def stub_detector(image):
    """Detects one 'cat' covering the middle of any image."""
    h, w = image.shape[:2]
    return _detections([[w / 4, h / 4, 3 * w / 4, 3 * h / 4]], [0], [0.8], hw=(h, w))


def test_class_colors_distinct_and_stable() -> None:
    colors = [class_color(i) for i in range(20)]
    assert colors == [class_color(i) for i in range(20)]
    rgb = np.asarray(colors, float)
    dist = np.linalg.norm(rgb[:, None] - rgb[None], axis=-1)
    assert dist[~np.eye(20, dtype=bool)].min() > 20  # no two classes look alike
    assert text_color((255, 255, 0)) == (0, 0, 0) and text_color((0, 0, 128)) == (255, 255, 255)


@pytest.mark.parametrize(
    "box", [[5, 30, 40, 50], [0, 0, 10, 10], [70, 2, 80, 60], [60, 55, 80, 60], [-5, -5, 90, 90]]
)
def test_label_stays_inside(box) -> None:
    tw, th = 30, 12
    x, y = label_position(box, (tw, th), (80, 60))
    assert x >= 0 and x + tw <= 80 and y >= 0 and y + th <= 60
    if box[1] - th >= 0 and box[0] + tw <= 80:
        assert (x, y) == (box[0], box[1] - th)  # above the box when it fits


def _disjoint_and_inside(rects, image_wh) -> None:
    """Every rectangle ``(x, y, w, h)`` lies inside the image and no two intersect."""
    for i, (x, y, w, h) in enumerate(rects):
        assert 0 <= x <= image_wh[0] - w and 0 <= y <= image_wh[1] - h, (x, y, w, h)
        for x2, y2, w2, h2 in rects[i + 1 :]:
            overlap = x < x2 + w2 and x2 < x + w and y < y2 + h2 and y2 < y + h
            assert not overlap, f"labels {(x, y, w, h)} and {(x2, y2, w2, h2)} overlap"


def test_labels_of_nearby_boxes_do_not_overlap() -> None:
    """A crowd of 40 boxes 30 px apart: each label readable (no overlap), inside the image, and
    every detection's class is named (its own label, or the legend when too dense); the drawn
    image has each label's background where the layout put it."""
    from centernet_keras.visualize import label_layout

    grid = [(30 * i, 20 + 30 * j) for i in range(8) for j in range(5)]
    boxes = [[x + 5, y, x + 45, y + 60] for x, y in grid]
    classes = [k % 3 for k in range(len(boxes))]
    det = _detections(boxes, classes, np.linspace(0.95, 0.3, len(boxes)), hw=(240, 320))
    labels = label_layout(det, (320, 240))
    rects = [rect for _, _, rect in labels]
    _disjoint_and_inside(rects, (320, 240))
    texts = {text for text, _, _ in labels}
    assert len(labels) >= 15  # most boxes keep their own label
    for name, score in zip(det.class_names, det.scores, strict=True):
        assert f"{name} {score:.2f}" in texts or name in texts
    drawn = np.asarray(draw_detections(np.zeros((240, 320, 3), np.uint8), det))
    for _, cls, (x, y, w, h) in labels:  # the label backgrounds sit where the layout says
        np.testing.assert_array_equal(drawn[y, x], class_color(cls))
        np.testing.assert_array_equal(drawn[y + h - 1, x + w - 1], class_color(cls))


def test_labels_with_no_room_are_named_in_a_legend() -> None:
    """30 boxes on one spot of a small image: labels that find no free place near their box
    are left out, and a legend counts them per class ("+<n> <class>"); nothing overlaps."""
    from centernet_keras.visualize import label_layout

    boxes = [[40 + k % 3, 30, 70 + k % 3, 50] for k in range(30)]
    det = _detections(boxes, [k % 3 for k in range(30)], hw=(100, 160))
    labels = label_layout(det, (160, 100))
    _disjoint_and_inside([rect for _, _, rect in labels], (160, 100))
    legend = [(text, cls) for text, cls, _ in labels if text.startswith("+")]
    assert [cls for _, cls in legend] == [0, 1, 2]
    for text, cls in legend:
        n, name = text[1:].split()
        assert name == ("cat", "dog", "car")[cls]
        placed = sum(1 for t, c, _ in labels if c == cls and not t.startswith("+"))
        assert placed + int(n) == 10  # every box of the class: labelled or counted


def test_place_labels_near_their_boxes(rng) -> None:
    from centernet_keras.visualize import place_labels

    # One box: the label sits right above it; two boxes side by side: the second label moves.
    assert place_labels([[20, 30, 60, 70]], [(30, 12)], (100, 100)) == [(20, 18, 30, 12)]
    rects = place_labels([[20, 30, 60, 70], [25, 32, 65, 72]], [(30, 12)] * 2, (100, 100))
    assert rects[0] == (20, 18, 30, 12) and rects[1] is not None
    _disjoint_and_inside(rects, (100, 100))
    for _ in range(20):  # random crowds: disjoint, inside, within two label heights of the box
        n = int(rng.integers(1, 60))
        xy = rng.uniform(0, 150, (n, 2))
        boxes = np.concatenate([xy, xy + rng.uniform(5, 60, (n, 2))], 1)
        sizes = [(int(w), int(h)) for w, h in rng.integers([10, 8], [70, 20], (n, 2))]
        rects = place_labels(boxes, sizes, (200, 160))
        _disjoint_and_inside([r for r in rects if r is not None], (200, 160))
        for box, rect, size in zip(boxes, rects, sizes, strict=True):
            if rect is not None:
                x, y, w, h = rect
                assert (w, h) == size
                assert x <= min(box[2], 200) + 1 and x + w >= box[0] - 1
                assert y - 2 * h <= min(box[3], 160) + 1 and y + h + 2 * h >= box[1] - 1


def test_draw_detections(rng) -> None:
    image = rng.integers(0, 256, (60, 80, 3)).astype(np.uint8)
    before = image.copy()
    det = _detections([[10, 20, 50, 55], [0, 0, 80, 60]], [0, 2])
    drawn = np.asarray(draw_detections(image, det, line_width=1))
    np.testing.assert_array_equal(image, before)  # input untouched
    assert drawn.shape == image.shape
    np.testing.assert_array_equal(drawn[40, 10], class_color(0))  # left edge of box 1
    np.testing.assert_array_equal(drawn[59, 40], class_color(2))  # bottom edge clipped inside
    # The label of the box at the top edge is drawn inside the image, in the class colour.
    assert np.sum(np.all(drawn[:15, :] == class_color(2), axis=-1)) > 30


def test_heatmap_overlay_and_crops(rng) -> None:
    image = rng.integers(0, 256, (30, 40, 3)).astype(np.uint8)
    heat = np.zeros((30, 40), np.float32)
    heat[10:20, 10:20] = 1.0
    out = np.asarray(heatmap_overlay(image, heat, alpha=1.0))
    assert out.shape == image.shape
    assert out[15, 15, 0] > out[15, 15, 2] and out[0, 0, 2] > out[0, 0, 0]  # hot red, cold blue
    with pytest.raises(ValueError, match="does not match"):
        heatmap_overlay(image, heat[:10])
    crops = crop_detections(image, _detections([[2.5, 3.2, 10.1, 12.0], [30, 20, 45, 35]], [0, 1]))
    assert [c.size for c in crops] == [(9, 9), (10, 10)]


def test_annotate_image_with_crops(rng, tmp_path) -> None:
    image = rng.integers(0, 256, (40, 60, 3)).astype(np.uint8)
    det = annotate_image(stub_detector, image, tmp_path / "out.png", tmp_path / "crops")
    assert len(det) == 1
    assert Image.open(tmp_path / "out.png").size == (60, 40)
    assert [p.name for p in (tmp_path / "crops").iterdir()] == ["out_0_cat.png"]


def test_folder_with_a_corrupt_file(rng, tmp_path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    for name in ("a.jpg", "b.png"):
        Image.fromarray(rng.integers(0, 256, (20, 30, 3)).astype(np.uint8)).save(src / name)
    (src / "broken.jpg").write_bytes(b"not a jpeg at all")
    (src / "notes.txt").write_text("ignored")
    report = annotate_folder(stub_detector, src, tmp_path / "out", progress=False)
    assert report.processed == 2
    assert [p for p, _ in report.failed] == [str(src / "broken.jpg")]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.jpg", "b.png"]
    assert report.counts == {"cat": 2}
    assert "2 image(s) annotated, 1 skipped" in report.summary()


def _write_video(path, frames=4, size=(48, 32)):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, size)
    assert writer.isOpened()
    for i in range(frames):
        writer.write(np.full((size[1], size[0], 3), 40 * i, np.uint8))
    writer.release()


def test_annotate_video(tmp_path) -> None:
    _write_video(tmp_path / "in.mp4")
    report = annotate_video(stub_detector, str(tmp_path / "in.mp4"), tmp_path / "out.mp4")
    assert report.frames == 4 and report.counts == {"cat": 4} and report.fps > 0
    capture = cv2.VideoCapture(str(tmp_path / "out.mp4"))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 4
    ok, frame = capture.read()
    capture.release()
    assert ok and frame.shape == (32, 48, 3)


def test_video_fps_leaves_out_the_one_time_setup(tmp_path, monkeypatch) -> None:
    """A detector whose first call takes 1 s (an ONNX graph build, a TF trace) and later calls
    ~1 ms: the first frame is detected once untimed, so neither the FPS drawn on any frame nor
    the reported one counts that second (4 frames would otherwise give at most 4 FPS)."""
    from centernet_keras.visualize import annotate

    calls, drawn = [], []

    def slow_first(image):
        calls.append(image.shape)
        if len(calls) == 1:
            time.sleep(1.0)
        return stub_detector(image)

    real_draw_fps = annotate.draw_fps

    def spy(image, fps):
        drawn.append(fps)
        return real_draw_fps(image, fps)

    monkeypatch.setattr(annotate, "draw_fps", spy)
    _write_video(tmp_path / "in.mp4")
    report = annotate_video(slow_first, str(tmp_path / "in.mp4"), tmp_path / "out.mp4")
    assert report.frames == 4 and len(calls) == 5  # the warm-up call, then every frame
    assert len(drawn) == 4 and min(drawn) > 8.0 and report.fps > 8.0, (drawn, report.fps)


def test_unopenable_video_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="video not found"):
        annotate_video(stub_detector, str(tmp_path / "missing.mp4"), tmp_path / "o.mp4")
    (tmp_path / "junk.mp4").write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match="cannot open video source"):
        annotate_video(stub_detector, str(tmp_path / "junk.mp4"), tmp_path / "o.mp4")
