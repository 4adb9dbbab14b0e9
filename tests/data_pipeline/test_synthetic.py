"""Synthetic VOC shapes: determinism, layout, tight boxes, dataset statistics, CLI."""

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from centernet_keras.data.classes import read_classes
from centernet_keras.data.synthetic import (
    DIFFICULT_BELOW,
    SHAPE_CLASSES,
    generate_voc,
    main,
    render_image,
)
from centernet_keras.data.voc import parse_voc_xml

REPO = Path(__file__).resolve().parents[2]


def files(root):
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_files(tmp_path):
    generate_voc(tmp_path / "a", 6, seed=4)
    generate_voc(tmp_path / "b", 6, seed=4)
    generate_voc(tmp_path / "c", 6, seed=5)
    a, b, c = files(tmp_path / "a"), files(tmp_path / "b"), files(tmp_path / "c")
    assert a == b
    names = {str(p) for p in a}
    assert "VOC2007/JPEGImages/shapes_000005.jpg" in names
    assert "VOC2007/Annotations/shapes_000005.xml" in names
    assert {
        f"VOC2007/ImageSets/Main/{s}.txt" for s in ("trainval", "train", "val", "test")
    } <= names
    assert len(names) == 6 * 2 + 4  # no temporary files left behind
    assert a.keys() == c.keys() and all(a[k] != c[k] for k in a if str(k).endswith(".jpg"))


def test_refuses_non_empty_folder_without_overwrite(tmp_path):
    generate_voc(tmp_path, 1, seed=0)
    with pytest.raises(FileExistsError, match="VOC2007"):
        generate_voc(tmp_path, 1, seed=0)
    generate_voc(tmp_path, 2, seed=0, overwrite=True)


def test_xml_boxes_tightly_bound_the_drawn_shapes(tmp_path):
    seed, n = 11, 8
    generate_voc(tmp_path, n, seed=seed)
    voc = tmp_path / "VOC2007"
    checked = 0
    for i in range(n):
        stem = f"shapes_{i:06d}"
        record, problems = parse_voc_xml(
            voc / "Annotations" / f"{stem}.xml", SHAPE_CLASSES, keep_difficult=True
        )
        assert [p.kind for p in problems if p.kind != "no_objects"] == []
        sample = render_image(np.random.default_rng([seed, i]))
        jpeg = np.asarray(Image.open(voc / "JPEGImages" / f"{stem}.jpg"), np.int16)
        assert jpeg.shape == sample.image.shape
        # the file is this image (up to JPEG losses, which drop most of the pixel noise)
        smooth = [cv2.blur(x.astype(np.float32), (5, 5)) for x in (jpeg, sample.image)]
        assert np.abs(smooth[0] - smooth[1]).mean() < 3
        assert len(record.boxes) == len(sample.objects)
        for k, (box, cls, difficult, obj) in enumerate(
            zip(record.boxes, record.classes, record.difficult, sample.objects, strict=True), 1
        ):
            assert cls == obj.cls and difficult == obj.difficult
            x1, y1, x2, y2 = box.astype(int)
            exact = np.all(sample.image == obj.colour, axis=-1)
            ys, xs = np.nonzero(exact)
            # every pixel of the shape colour is inside, and the box touches them on all sides
            assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == (x1, y1, x2, y2)
            near = np.all(np.abs(jpeg - obj.colour) < 48, axis=-1)
            inside = near[y1:y2, x1:x2].sum()
            assert inside >= 0.5 * exact.sum()
            grown = np.zeros_like(near)
            grown[max(y1 - 2, 0) : y2 + 2, max(x1 - 2, 0) : x2 + 2] = True
            # same-class shapes share a hue band: ignore pixels of (or next to) other shapes
            others = (sample.instance_map > 0) & (sample.instance_map != k)
            others = cv2.dilate(others.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
            assert near[~grown & ~others].sum() <= 0.01 * exact.sum() + 2
            checked += 1
    assert checked >= 8


def test_each_class_has_its_own_hue_band():
    import colorsys

    for i in range(40):
        for obj in render_image(np.random.default_rng([1, i])).objects:
            hue = colorsys.rgb_to_hsv(*(c / 255 for c in obj.colour))[0]
            band = 1 / len(SHAPE_CLASSES)
            low = obj.cls * band
            # within the class band, up to 8-bit RGB rounding (≈ 0.01 of the wheel) at its edges
            assert (hue - low + 0.01) % 1.0 <= band + 0.02, (hue, obj.cls)


def test_dataset_statistics():
    sizes, empty, objects, overlaps = [], 0, [], 0
    for i in range(150):
        sample = render_image(np.random.default_rng([0, i]))
        h, w = sample.image.shape[:2]
        sizes.append((w, h))
        empty += not sample.objects
        boxes = np.array([o.box for o in sample.objects]).reshape(-1, 4)
        for a in range(len(boxes)):
            for b in range(a):
                ix = min(boxes[a, 2], boxes[b, 2]) - max(boxes[a, 0], boxes[b, 0])
                iy = min(boxes[a, 3], boxes[b, 3]) - max(boxes[a, 1], boxes[b, 1])
                overlaps += ix > 0 and iy > 0
        for o in sample.objects:
            longer = max(o.box[2] - o.box[0], o.box[3] - o.box[1])
            assert o.difficult == (longer < DIFFICULT_BELOW)
            assert 10 <= longer <= min(w, h) / 2 + 2
            objects.append((o.cls, longer))
        colours = [o.colour for o in sample.objects]
        assert len(set(colours)) == len(colours)
    sizes = np.array(sizes)
    assert sizes.min() >= 160 and sizes.max() <= 320
    assert (sizes[:, 0] != sizes[:, 1]).mean() > 0.9
    assert 1 <= empty <= 20
    assert overlaps >= 10
    classes, longer = np.array(objects).T
    assert set(classes) == set(range(len(SHAPE_CLASSES)))
    assert 0.03 < (longer < DIFFICULT_BELOW).mean() < 0.3 and longer.max() > 80


def test_classes_file_matches():
    assert read_classes(REPO / "model_data" / "shapes_classes.txt") == list(SHAPE_CLASSES)


def test_cli(tmp_path, capsys):
    assert main(["--out", str(tmp_path), "--num-images", "3", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    assert "Wrote 3 images" in out and "circle" in out
    assert len(list((tmp_path / "VOC2007" / "JPEGImages").glob("*.jpg"))) == 3
