"""Converter inputs that used to abort the conversion or drop data silently: each is now read
correctly or is a counted, reported skip. Problem messages stay short whatever the input."""

import io
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from centernet_keras.data.annotations import AnnotationError, parse_line, read_annotation_file
from centernet_keras.data.voc import convert_voc, read_voc_split

CLASSES = ["cat", "dog"]
CAT = (
    "<object><name>cat</name><bndbox><xmin>2</xmin><ymin>3</ymin><xmax>20</xmax>"
    "<ymax>25</ymax></bndbox></object>"
)


def _voc(root, xmls, images=None):
    """``xmls``: stem → XML text or bytes; ``images``: file name → bytes (default: a JPEG per
    stem)."""
    voc = root / "VOC2007"
    for sub in ("Annotations", "JPEGImages"):
        (voc / sub).mkdir(parents=True, exist_ok=True)
    if images is None:
        images = {f"{stem}.jpg": _jpeg() for stem in xmls}
    for name, data in images.items():
        (voc / "JPEGImages" / name).write_bytes(data)
    for stem, text in xmls.items():
        data = text.encode() if isinstance(text, str) else text
        (voc / "Annotations" / f"{stem}.xml").write_bytes(data)
    return voc


def _jpeg(size=(40, 30), fmt="JPEG"):
    buffer = io.BytesIO()
    noise = np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(noise).save(buffer, format=fmt)
    return buffer.getvalue()


def _convert(root):
    """Everything into train; returns (report, {image file name: record})."""
    report = convert_voc(root, 2007, CLASSES, trainval_percent=1, train_percent=1, out_dir=root)
    records, problems = read_annotation_file(root / "2007_train.txt")
    assert problems == []
    return report, {Path(r.path).name: r for r in records}


def test_image_id_with_a_space(tmp_path):
    _voc(tmp_path, {"my photo": f"<annotation>{CAT}</annotation>", "plain": "<annotation/>"})
    report, records = _convert(tmp_path)
    assert report.counts()["missing_xml"] == 0
    assert set(records) == {"my photo.jpg", "plain.jpg"}
    np.testing.assert_array_equal(records["my photo.jpg"].boxes, [[2, 3, 20, 25]])
    # the per-class ImageSets files of the devkit ("<id> <-1|0|1>") still read
    main = tmp_path / "VOC2007" / "ImageSets" / "Main"
    (main / "cat_train.txt").write_text("my photo  1\nplain -1\n")
    found, problems = read_voc_split(tmp_path, 2007, "cat_train", CLASSES)
    assert [Path(r.path).name for r in found] == ["my photo.jpg", "plain.jpg"]
    assert [p.kind for p in problems] == ["no_objects"]  # plain.xml has none


def test_truncated_jpeg_is_a_reported_skip(tmp_path):
    good = _jpeg()
    padded = good + b"\x00" * 16  # data after the end marker: a complete image
    images = {"cut.jpg": good[: len(good) * 2 // 3], "ok.jpg": good, "padded.jpg": padded}
    images["cut2.png"] = _jpeg(fmt="PNG")[:-200]
    xmls = {s: f"<annotation>{CAT}</annotation>" for s in ("cut", "ok", "padded", "cut2")}
    _voc(tmp_path, xmls, images)
    report, records = _convert(tmp_path)
    assert set(records) == {"ok.jpg", "padded.jpg"}
    skipped = [p for p in report.problems if p.kind == "unreadable_image"]
    assert sorted(Path(p.file).name for p in skipped) == ["cut.xml", "cut2.xml"]
    assert all("truncated" in p.message for p in skipped)
    assert "unreadable_image" in report.summary()


def test_unknown_xml_encoding_is_a_reported_skip(tmp_path):
    odd = f'<?xml version="1.0" encoding="x-no-such-codec"?><annotation>{CAT}</annotation>'
    _voc(tmp_path, {"odd": odd, "ok": f"<annotation>{CAT}</annotation>"})
    report, records = _convert(tmp_path)
    assert set(records) == {"ok.jpg"}
    (problem,) = [p for p in report.problems if p.kind == "bad_xml"]
    assert problem.file.endswith("odd.xml") and "x-no-such-codec" in problem.message


def test_filename_longer_than_255_bytes(tmp_path):
    long_name = "é" * 200 + ".jpg"  # 400 bytes in UTF-8
    xml = f"<annotation><filename>{long_name}</filename>{CAT}</annotation>"
    # "found": the image is <stem>.png, found after the too-long <filename>; "lost": no image
    _voc(tmp_path, {"found": xml, "lost": xml}, {"found.png": _jpeg(fmt="PNG")})
    report, records = _convert(tmp_path)
    assert set(records) == {"found.png"}
    (problem,) = [p for p in report.problems if p.kind == "missing_image"]
    assert problem.file.endswith("lost.xml")


def test_objects_in_a_wrapper_or_a_namespace_are_read(tmp_path):
    xmls = {
        "wrapped": f"<annotation><objects>{CAT}{CAT}</objects></annotation>",
        "spaced": f'<annotation xmlns="http://example.com/voc"><size><width>40</width>'
        f"<height>30</height></size>{CAT}</annotation>",
    }
    _voc(tmp_path, xmls)
    report, records = _convert(tmp_path)
    assert report.counts()["no_objects"] == 0
    np.testing.assert_array_equal(records["wrapped.jpg"].boxes, [[2, 3, 20, 25]] * 2)
    np.testing.assert_array_equal(records["spaced.jpg"].boxes, [[2, 3, 20, 25]])


def test_messages_cut_huge_user_strings(tmp_path):
    huge = "x" * 5_000_000
    bad_class = CAT.replace(">cat<", f">{huge}<")
    bad_coords = CAT.replace(">20<", f">{huge}<")
    _voc(tmp_path, {"a": f"<annotation>{bad_class}{bad_coords}</annotation>"})
    report, _ = _convert(tmp_path)
    kinds = sorted(p.kind for p in report.problems)
    assert kinds == ["bad_coordinates", "no_objects", "unknown_class"]
    assert max(len(str(p)) for p in report.problems) < 1000
    assert len(report.summary(max_messages=0)) < 10_000
    assert "xxxx" in report.summary()  # still recognisable
    try:
        parse_line(f"img.jpg 1,2,3,4,0 1,2,{huge},")
    except AnnotationError as err:
        assert len(str(err)) < 1000
    else:
        raise AssertionError("malformed field accepted")


def test_huge_image_id_in_a_split_is_a_reported_skip(tmp_path):
    huge = "y" * 1_000_000
    _voc(tmp_path, {"a": f"<annotation>{CAT}</annotation>"})
    main = tmp_path / "VOC2007" / "ImageSets" / "Main"
    main.mkdir(parents=True)
    for split in ("train", "val"):
        (main / f"{split}.txt").write_text(f"a\n{huge}\n")
    report = convert_voc(tmp_path, 2007, CLASSES, mode="lines", out_dir=tmp_path)
    assert report.counts() == {"missing_xml": 2}
    assert report.images == {"train": 1, "val": 1}
    assert max(len(str(p)) for p in report.problems) < 1000 and "yyyy" in str(report.problems[0])


#: Problems that each stand for one ``<object>`` not written.
OBJECT_DROPS = ("unknown_class", "difficult_skipped", "bad_coordinates", "inverted_box")
OBJECT_DROPS += ("zero_size_box",)


def test_nested_object_is_read_and_reported(tmp_path):
    dog = CAT.replace(">cat<", ">dog<").replace(">2<", ">5<")
    part = (
        "<part><name>head</name><bndbox><xmin>3</xmin><ymin>4</ymin><xmax>9</xmax>"
        "<ymax>9</ymax></bndbox></part>"
    )
    inside = CAT.replace("</object>", f"{part}{dog}</object>")  # a cat holding a part and a dog
    no_box = f"<object><name>cat</name>{dog}</object>"  # the outer object has no box of its own
    xmls = {"inside": inside, "outer": no_box}
    xmls = {stem: f"<annotation>{xml}</annotation>" for stem, xml in xmls.items()}
    _voc(tmp_path, xmls)
    report, records = _convert(tmp_path)
    np.testing.assert_array_equal(records["inside.jpg"].boxes, [[2, 3, 20, 25], [5, 3, 20, 25]])
    np.testing.assert_array_equal(records["inside.jpg"].classes, [0, 1])  # the part is no object
    np.testing.assert_array_equal(records["outer.jpg"].boxes, [[5, 3, 20, 25]])
    assert report.counts() == {"nested_object": 2, "bad_coordinates": 1}
    nested = [p for p in report.problems if p.kind == "nested_object"]
    assert all("object 2 'dog'" in p.message and "object 1 'cat'" in p.message for p in nested)
    assert "nested_object" in report.summary()
    # every <object> of the XML is written or reported
    written = sum(len(r.boxes) for r in records.values())
    dropped = sum(report.counts()[kind] for kind in OBJECT_DROPS)
    assert written + dropped == sum(xml.count("<object>") for xml in xmls.values())


def test_repeated_fields_are_reported_and_the_first_used(tmp_path):
    second_box = "<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>9</xmax><ymax>9</ymax></bndbox>"
    xmls = {
        "boxes": CAT.replace("</bndbox>", f"</bndbox>{second_box}"),
        "xmins": CAT.replace("<xmin>2</xmin>", "<xmin>2</xmin><xmin>7</xmin>"),
        "names": CAT.replace("<name>cat</name>", "<name>cat</name><name>dog</name>"),
    }
    _voc(tmp_path, {stem: f"<annotation>{xml}</annotation>" for stem, xml in xmls.items()})
    report, records = _convert(tmp_path)
    for record in records.values():
        np.testing.assert_array_equal(record.boxes, [[2, 3, 20, 25]])
        np.testing.assert_array_equal(record.classes, [0])
    assert report.counts() == {"repeated_field": 3}
    messages = sorted(p.message for p in report.problems)
    assert ["<bndbox>" in messages[0], "<name>" in messages[1], "<xmin>" in messages[2]] == [1] * 3


def test_difficult_values_other_than_0_or_1_are_read_and_reported(tmp_path):
    # the devkit reads <difficult> as a number's truth value; words are read as meant
    values = {"1": 1, "0": 0, "": 0, "true": 1, "Yes": 1, "2": 1, "-1": 1, "false": 0}
    values |= {"no": 0, "nan": 0, "maybe": 0}
    objects = "".join(
        CAT.replace("<name>cat</name>", f"<name>cat</name><difficult>{v}</difficult>")
        for v in values
    )
    _voc(tmp_path, {"a": f"<annotation>{objects}</annotation>"})
    report, records = _convert(tmp_path)
    np.testing.assert_array_equal(records["a.jpg"].difficult, list(values.values()))
    odd = [p for p in report.problems if p.kind == "bad_difficult"]
    assert len(odd) == len(values) - 3 == len(report.problems)  # all but 1, 0 and empty
    assert "'maybe'" in odd[-1].message and "not difficult" in odd[-1].message


def _entity_expansion(levels=4, copies=7):
    """A 420-byte XML whose entities expand to ``copies · 10**levels`` objects."""
    entities = f'<!ENTITY e0 "{CAT}">' + "".join(
        f'<!ENTITY e{i} "{f"&e{i - 1};" * 10}">' for i in range(1, levels + 1)
    )
    return f"<!DOCTYPE annotation [{entities}]><annotation>{f'&e{levels};' * copies}</annotation>"


# Before the fix (2-core EPYC, convert_voc): "entities" 4.7-5.0 s, 70,000 boxes written from a
# 420-byte file; "long token" 2.2-4.1 s, expat re-scanning the 16 MB comment from its start at
# each 64 KiB piece that ET.parse fed it.
@pytest.mark.parametrize("case", ["entities", "long token"])
def test_pathological_xml_is_read_in_bounded_time(tmp_path, case):
    if case == "entities":
        xml = _entity_expansion()
    else:
        xml = f"<annotation><!--{'v' * 16_000_000}-->{CAT}</annotation>"
    _voc(tmp_path, {"a": xml, "ok": f"<annotation>{CAT}</annotation>"})
    start = time.perf_counter()
    report, records = _convert(tmp_path)
    elapsed = time.perf_counter() - start
    assert elapsed < 1.5, f"{case}: {elapsed:.2f} s"
    if case == "entities":  # VOC files have no DTD entities: refused, reported
        assert set(records) == {"ok.jpg"} and report.counts() == {"bad_xml": 1}
        assert "<!ENTITY>" in report.problems[0].message
    else:
        assert len(records["a.jpg"].boxes) == 1 and report.counts() == {}


def test_a_box_that_rounds_to_zero_size_is_dropped_and_reported(tmp_path):
    """The size check sees the box the line writer writes (two decimals): a 0.003-px-wide box
    was written as ``10,10,10,30`` (issue 25 point 3); it is dropped and counted, a box
    0.006 px wide is written 0.01 px wide."""
    thin = CAT.replace(">2<", ">10<").replace(">3<", ">10<").replace(">25<", ">30<")
    xmls = {
        "thin": f"<annotation>{thin.replace('>20<', '>10.003<')}</annotation>",
        "flat": f"<annotation>{CAT.replace('>25<', '>3.004<')}</annotation>",
        "narrow": f"<annotation>{thin.replace('>20<', '>10.006<')}</annotation>",
    }
    _voc(tmp_path, xmls)
    report, records = _convert(tmp_path)
    assert report.counts()["zero_size_box"] == 2
    assert sorted(Path(p.file).name for p in report.problems if p.kind == "zero_size_box") == [
        "flat.xml",
        "thin.xml",
    ]
    lines = (tmp_path / "2007_train.txt").read_text()
    assert "10,10,10,30" not in lines and "2,3,20,3," not in lines
    assert "narrow.jpg 10,10,10.01,30,0" in lines
    assert len(records["thin.jpg"].boxes) == 0 and len(records["flat.jpg"].boxes) == 0


def test_a_coco_box_that_rounds_to_zero_size_is_dropped_and_reported(tmp_path):
    import json

    from centernet_keras.data.coco import read_coco

    (tmp_path / "a.jpg").write_bytes(_jpeg())
    data = {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 40, "height": 30}],
        "categories": [{"id": 1, "name": "cat"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 0.003, 20]},
            {"id": 2, "image_id": 1, "category_id": 1, "bbox": [2, 3, 18, 22]},
        ],
    }
    (tmp_path / "a.json").write_text(json.dumps(data))
    records, _, report = read_coco(tmp_path / "a.json", tmp_path)
    assert report.counts()["zero_size_box"] == 1
    np.testing.assert_array_equal(records[0].boxes, [[2, 3, 20, 25]])


JAPANESE = "<annotation><object><name>猫</name><bndbox><xmin>2</xmin><ymin>3</ymin><xmax>20</xmax><ymax>25</ymax></bndbox></object></annotation>"  # noqa: E501


def _declared(encoding):
    return f'<?xml version="1.0" encoding="{encoding}"?>{JAPANESE}'


# name → the bytes of a correctly encoded file (issue 25 point 3: each was refused as bad_xml)
ENCODED = {
    "utf16le_no_bom_declared": _declared("UTF-16").encode("utf-16-le"),
    "utf16be_no_bom_declared": _declared("UTF-16").encode("utf-16-be"),
    "utf16le_python_name": _declared("utf-16-le").encode("utf-16-le"),  # xml.etree writes it
    "utf16be_python_name": _declared("utf-16-be").encode("utf-16-be"),
    "utf32_bom": _declared("UTF-32").encode("utf-32"),
    "utf32le_no_bom": JAPANESE.encode("utf-32-le"),
    "utf32be_no_bom_declared": _declared("UTF-32").encode("utf-32-be"),
    "shift_jis": _declared("Shift_JIS").encode("shift_jis"),
    "euc_jp": _declared("EUC-JP").encode("euc-jp"),
    "utf8_bom_declared": _declared("UTF-8").encode("utf-8-sig"),
}


@pytest.mark.parametrize("case", sorted(ENCODED))
def test_files_in_a_determinable_encoding_are_read(tmp_path, case):
    from centernet_keras.data.voc import parse_voc_xml

    voc = _voc(tmp_path, {"a": ENCODED[case]})
    record, problems = parse_voc_xml(voc / "Annotations" / "a.xml", ["dog", "猫"])
    assert [p.kind for p in problems] == []
    np.testing.assert_array_equal(record.boxes, [[2, 3, 20, 25]])
    np.testing.assert_array_equal(record.classes, [1])


# name → bytes whose encoding cannot be determined or that its encoding cannot decode
UNDECODABLE = {
    "shift_jis_broken": _declared("Shift_JIS").encode("shift_jis").replace(b"\x94L", b"\x81 "),
    "utf8_undeclared_latin1": JAPANESE.replace("猫", "é").encode("latin-1"),
    "utf16_odd_length": _declared("UTF-16").encode("utf-16-le")[:-1],
}


@pytest.mark.parametrize("case", sorted(UNDECODABLE))
def test_undecodable_files_stay_bad_xml(tmp_path, case):
    from centernet_keras.data.voc import parse_voc_xml

    voc = _voc(tmp_path, {"a": UNDECODABLE[case]})
    record, problems = parse_voc_xml(voc / "Annotations" / "a.xml", ["dog", "猫"])
    assert record is None and [p.kind for p in problems] == ["bad_xml"]
