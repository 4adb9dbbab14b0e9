"""VOC reading: class files, every bad-input kind, difficult objects, splits, line files."""

import numpy as np
import pytest
from PIL import Image

from centernet_keras.data.annotations import read_annotation_file
from centernet_keras.data.classes import read_classes
from centernet_keras.data.problems import PROBLEM_KINDS, check_box
from centernet_keras.data.voc import (
    convert_voc,
    parse_voc_xml,
    read_voc_split,
    split_stems,
    split_voc,
)

CLASSES = ["cat", "dog"]


def obj(name, box, difficult=0):
    coords = "".join(
        f"<{t}>{v}</{t}>" for t, v in zip(("xmin", "ymin", "xmax", "ymax"), box, strict=True)
    )
    return (
        f"<object><name>{name}</name><difficult>{difficult}</difficult>"
        f"<bndbox>{coords}</bndbox></object>"
    )


def xml(objects, size=(40, 30)):
    return (
        f"<annotation><filename>x.jpg</filename><size><width>{size[0]}</width>"
        f"<height>{size[1]}</height><depth>3</depth></size>{''.join(objects)}</annotation>"
    )


def make_voc(root, items, image_size=(40, 30)):
    """items: stem -> xml text (None: no XML); every stem gets a 40x30 JPEG unless in skip."""
    voc = root / "VOC2007"
    for sub in ("Annotations", "JPEGImages", "ImageSets/Main"):
        (voc / sub).mkdir(parents=True, exist_ok=True)
    for stem, text in items.items():
        Image.new("RGB", image_size, (90, 90, 90)).save(voc / "JPEGImages" / f"{stem}.jpg")
        if text is not None:
            (voc / "Annotations" / f"{stem}.xml").write_text(text)
    return voc


def test_read_classes(tmp_path):
    path = tmp_path / "c.txt"
    path.write_bytes("\ufeff# my classes\r\n cat \r\n\r\ndog\n  # note\n".encode())
    assert read_classes(path) == ["cat", "dog"]
    path.write_text("cat\ndog\ncat\n")
    with pytest.raises(ValueError, match=r"c\.txt:3: duplicate class name 'cat' \(first on line 1"):
        read_classes(path)
    path.write_text("\n# nothing\n")
    with pytest.raises(ValueError, match=r"c\.txt: no class names"):
        read_classes(path)


def test_good_xml_reads_boxes_as_written(tmp_path):
    voc = make_voc(tmp_path, {"a": xml([obj("dog", (1, 2, 30, 25)), obj("cat", (0.5, 0, 40, 30))])})
    record, problems = parse_voc_xml(voc / "Annotations" / "a.xml", CLASSES)
    assert problems == []
    assert record.path == str(voc / "JPEGImages" / "a.jpg")
    np.testing.assert_array_equal(record.boxes, [[1, 2, 30, 25], [0.5, 0, 40, 30]])
    np.testing.assert_array_equal(record.classes, [1, 0])
    assert (record.width, record.height) == (40, 30)


# name → (xml objects, expected problem kinds, boxes kept)
OBJECT_CASES = {
    "unknown": ([obj("Dog", (1, 1, 5, 5)), obj("cow", (1, 1, 5, 5))], ["unknown_class"] * 2, []),
    "outside": ([obj("cat", (-3, 2, 50, 20))], ["clipped_box"], [[0, 2, 40, 20]]),
    "inverted": ([obj("cat", (20, 2, 10, 20))], ["inverted_box"], []),
    "zero": ([obj("cat", (45, 2, 60, 20)), obj("dog", (5, 5, 5, 9))], ["zero_size_box"] * 2, []),
    "garbage": (
        [obj("cat", (1, "abc", 5, 5)), obj("cat", (1, 2, "nan", 5))],
        ["bad_coordinates"] * 2,
        [],
    ),
    "nobndbox": (["<object><name>cat</name></object>"], ["bad_coordinates"], []),
}


@pytest.mark.parametrize("case", sorted(OBJECT_CASES))
def test_bad_objects_are_dropped_or_fixed_and_reported(tmp_path, case):
    objects, kinds, kept = OBJECT_CASES[case]
    good = obj("dog", (2, 3, 12, 13))
    voc = make_voc(tmp_path, {"bad": xml([good, *objects])})
    record, problems = parse_voc_xml(voc / "Annotations" / "bad.xml", CLASSES)
    assert [p.kind for p in problems] == kinds
    assert all(p.file.endswith("bad.xml") and str(p).startswith(p.file) for p in problems)
    np.testing.assert_array_equal(record.boxes, [[2, 3, 12, 13], *kept])
    assert all(k in PROBLEM_KINDS for k in kinds)


def test_unknown_class_message_suggests_case_fix(tmp_path):
    voc = make_voc(tmp_path, {"a": xml([obj("Dog", (1, 1, 5, 5))])})
    _, problems = parse_voc_xml(voc / "Annotations" / "a.xml", CLASSES)
    assert "did you mean 'dog'" in problems[0].message and problems[0].detail == "Dog"


def test_size_mismatch_trusts_the_file_and_clips(tmp_path):
    voc = make_voc(tmp_path, {"a": xml([obj("cat", (10, 5, 60, 45))], size=(80, 60))})
    record, problems = parse_voc_xml(voc / "Annotations" / "a.xml", CLASSES)
    assert [p.kind for p in problems] == ["size_mismatch", "clipped_box"]
    assert "80x60" in problems[0].message and "40x30" in problems[0].message
    assert (record.width, record.height) == (40, 30)
    np.testing.assert_array_equal(record.boxes, [[10, 5, 40, 30]])
    swapped = make_voc(tmp_path / "s", {"b": xml([], size=(30, 40))})
    _, problems = parse_voc_xml(swapped / "Annotations" / "b.xml", CLASSES)
    assert "swapped" in problems[0].message


def test_difficult_kept_flagged_by_default(tmp_path):
    voc = make_voc(tmp_path, {"a": xml([obj("cat", (1, 1, 9, 9), 1), obj("dog", (2, 2, 8, 8))])})
    record, problems = parse_voc_xml(voc / "Annotations" / "a.xml", CLASSES)
    assert problems == []
    np.testing.assert_array_equal(record.classes, [0, 1])
    np.testing.assert_array_equal(record.difficult, [True, False])
    record, problems = parse_voc_xml(voc / "Annotations" / "a.xml", CLASSES, keep_difficult=False)
    assert [p.kind for p in problems] == ["difficult_skipped"]
    np.testing.assert_array_equal(record.classes, [1])


def test_check_box_box_fully_outside_is_one_zero_size_problem():
    box, problem = check_box([50, 40, 70, 60], 40, 30, "f.xml", "object 1")
    assert box is None and problem.kind == "zero_size_box" and "after clipping" in problem.message


def test_split_percentages_and_seed():
    stems = [f"{i:04d}" for i in range(100)]
    a = split_stems(stems[::-1], 0.9, 0.9, seed=0)
    assert [len(a[k]) for k in ("trainval", "train", "val", "test")] == [90, 81, 9, 10]
    assert sorted(a["train"] + a["val"]) == a["trainval"]
    assert sorted(a["trainval"] + a["test"]) == stems
    assert split_stems(stems, 0.9, 0.9, seed=0) == a
    assert split_stems(stems, 0.9, 0.9, seed=1)["test"] != a["test"]
    edge = split_stems(stems[:7], 1.0, 0.5, seed=0)
    assert [len(edge[k]) for k in ("trainval", "train", "val", "test")] == [7, 3, 4, 0]
    with pytest.raises(ValueError, match="train_percent"):
        split_stems(stems, 0.9, 1.5)


def test_dataset_with_every_bad_kind_converts_the_rest(tmp_path):
    good = {
        f"g{i}": xml([obj("cat", (1, 1, 9 + i, 9)), obj("dog", (3, 3, 20, 20), i % 2)])
        for i in range(6)
    }
    bad = {
        "broken": "<annotation><object>",
        "noimage": xml([obj("cat", (1, 1, 5, 5))]),
        "empty": xml([]),
        "badobjs": xml([obj("horse", (1, 1, 5, 5)), obj("cat", (9, 9, 2, 2))]),
    }
    voc = make_voc(tmp_path, {**good, **bad})
    (voc / "JPEGImages" / "noimage.jpg").unlink()
    (voc / "JPEGImages" / "corrupt.jpg").write_bytes(b"not a jpeg")
    (voc / "Annotations" / "corrupt.xml").write_text(xml([obj("cat", (1, 1, 5, 5))]))
    main = voc / "ImageSets" / "Main"
    stems = [*good, *bad, "corrupt"]
    main.joinpath("train.txt").write_text("\n".join([*stems, "ghost"]) + "\n")
    main.joinpath("val.txt").write_text("g0\n")

    report = convert_voc(tmp_path, 2007, CLASSES, mode="lines", out_dir=tmp_path / "out")
    counts = report.counts()
    expected = {
        "bad_xml": 1,
        "missing_image": 1,
        "unreadable_image": 1,
        "missing_xml": 1,
        "unknown_class": 1,
        "inverted_box": 1,
        "no_objects": 2,
    }
    assert dict(counts) == expected
    by_kind = {p.kind: str(p) for p in report.problems}
    assert "broken.xml" in by_kind["bad_xml"] and "noimage" in by_kind["missing_image"]
    assert "corrupt.jpg" in by_kind["unreadable_image"] and "ghost" in by_kind["missing_xml"]
    records, problems = read_annotation_file(tmp_path / "out" / "2007_train.txt")
    assert problems == []
    assert [r.path.rsplit("/", 1)[1] for r in records] == [
        f"{s}.jpg" for s in [*good, "empty", "badobjs"]
    ]
    assert all(r.path.startswith("/") for r in records)
    assert report.images == {"train": 8, "val": 1}
    assert report.objects["train"] == [6, 6] and report.objects["val"] == [1, 1]
    assert report.difficult == {"train": 3, "val": 0}  # written, flagged
    text = report.summary()
    for word in ("cat", "dog", "bad_xml", "broken.xml", "'horse' ×1", "2007_val.txt"):
        assert word in text


def test_split_then_lines_round_trip(tmp_path):
    items = {
        f"{i:03d}": xml([obj("cat", (1, 1, 9, 9), int(i % 3 == 0)), obj("dog", (2, 2.5, 20, 30))])
        for i in range(20)
    }
    voc = make_voc(tmp_path, items)
    report = convert_voc(tmp_path, "2007", CLASSES, keep_difficult=True, out_dir=tmp_path, seed=3)
    splits = {
        s: (voc / "ImageSets/Main" / f"{s}.txt").read_text().split()
        for s in ("trainval", "train", "val", "test")
    }
    assert [len(splits[k]) for k in ("trainval", "train", "val", "test")] == [18, 16, 2, 2]
    assert split_voc(tmp_path, 2007, seed=3) == splits
    assert report.counts() == {}
    flagged = 0
    for split in ("train", "val"):
        lines, problems = read_annotation_file(tmp_path / f"2007_{split}.txt")
        direct, _ = read_voc_split(tmp_path, 2007, split, CLASSES, keep_difficult=True)
        assert problems == [] and len(lines) == len(splits[split]) == len(direct)
        for a, b in zip(lines, direct, strict=True):
            assert a.path == b.path
            np.testing.assert_array_equal(a.boxes, b.boxes)
            np.testing.assert_array_equal(a.classes, b.classes)
            np.testing.assert_array_equal(a.difficult, b.difficult)
            flagged += int(a.difficult.sum())
    assert flagged == sum(int(i % 3 == 0) for i in range(20) if f"{i:03d}" in splits["trainval"])


def test_lines_without_imagesets_is_a_clear_error(tmp_path):
    make_voc(tmp_path, {"a": xml([])})
    with pytest.raises(FileNotFoundError, match=r"train\.txt"):
        convert_voc(tmp_path, 2007, CLASSES, mode="lines", out_dir=tmp_path)
