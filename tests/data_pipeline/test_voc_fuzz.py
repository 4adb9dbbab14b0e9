"""A seeded fuzz test of the VOC reader (issue 25): generated annotation XML with structural
damage (missing, repeated and nested tags, wrong types, huge / negative / NaN numbers, odd
encodings, truncation, stray bytes). The reader never raises; every ``<object>`` of the file is
either a box of the record or counted in the report (dropped kinds); every box written as an
annotation line reads back with a positive size inside the image."""

import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from PIL import Image

from centernet_keras.data.annotations import format_line, parse_line
from centernet_keras.data.problems import PROBLEM_KINDS
from centernet_keras.data.voc import parse_voc_xml

CLASSES = ["cat", "犬"]
COORDINATES = ("xmin", "ymin", "xmax", "ymax")
WIDTH, HEIGHT = 64, 48
#: The problem kinds that drop one object each (every other kind keeps it, or skips the image).
DROPPED = ("unknown_class", "bad_coordinates", "inverted_box", "zero_size_box", "difficult_skipped")
#: encoding → the name its XML declaration gives (``None``: the codec writes a byte-order mark
#: and the declaration is optional).
ENCODINGS = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8",
    "utf-16": "UTF-16",
    "utf-16-le": "UTF-16",
    "utf-16-be": "UTF-16",
    "utf-32": "UTF-32",
    "utf-32-le": "UTF-32",
    "utf-32-be": "UTF-32",
    "shift_jis": "Shift_JIS",
    "euc-jp": "EUC-JP",
    "latin-1": "ISO-8859-1",
}

numbers = st.one_of(
    *[st.integers(-10, 80).map(str)] * 4,  # mostly coordinates near the 64 x 48 image
    *[st.floats(-10.0, 80.0).map(lambda v: f"{v:.3f}")] * 2,
    st.integers(-(10**6), 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", " 12 ", "abc", "1,5", "0x10", "1e999", "-0", "10.003", "1e308", "nan"]),
)
names = st.sampled_from(["cat", "犬"] * 3 + [" cat ", "Cat", "dog", "", "<&>", "猫"])
difficult_values = st.sampled_from(["0"] * 4 + ["1", "true", "yes", "2", "-1", "nan", "", " 1 "])


def _element(tag: str, children: list[str]) -> str:
    return f"<{tag}>{''.join(children)}</{tag}>"


def _text(tag: str, value: str) -> str:
    return f"<{tag}>{escape(value)}</{tag}>"


@st.composite
def coordinates(draw) -> str:
    """A ``<bndbox>``'s content: a box near the image (thin ones too) or, half the time, each
    coordinate missing, once, twice, or holding a tag."""
    if draw(st.booleans()):
        x, y = draw(st.floats(-5.0, 70.0)), draw(st.floats(-5.0, 50.0))
        w = draw(st.one_of(st.sampled_from([0.0, 0.003, 0.006]), st.floats(0.5, 30.0)))
        h = draw(st.floats(0.0, 30.0))
        if draw(st.booleans()):
            w, h = h, w
        values = (x, y, x + w, y + h)
        parts = [_text(t, f"{v:.4f}") for t, v in zip(COORDINATES, values, strict=True)]
        return "".join(draw(st.permutations(parts)))
    parts = []
    for tag in COORDINATES:
        form = draw(st.sampled_from(["one"] * 8 + ["missing", "twice", "element"]))
        if form == "element":
            parts.append(f"<{tag}><v>{escape(draw(numbers))}</v></{tag}>")
        elif form != "missing":
            parts += [_text(tag, draw(numbers)) for _ in range(1 + (form == "twice"))]
    return "".join(draw(st.permutations(parts)))


@st.composite
def objects(draw, depth: int = 0) -> tuple[str, int]:
    """An ``<object>`` (with up to two nested ones below depth 2) and how many objects it
    holds, itself included."""
    parts = [_text("name", draw(names)) for _ in range(draw(st.sampled_from([1, 1, 1, 0, 2])))]
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2]))):
        parts.append(_text("difficult", draw(difficult_values)))
    boxes = [
        _element("bndbox", [draw(coordinates())])
        for _ in range(draw(st.sampled_from([1, 1, 1, 0, 2])))
    ]
    if boxes and draw(st.sampled_from([False] * 5 + [True])):
        boxes[0] = _text("bndbox", "1,2,30,40")  # a box as text, not as coordinates
    count = 1
    if depth < 2:
        for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):
            inner, n = draw(objects(depth + 1))
            where = draw(st.sampled_from(["object", "part", "bndbox"]))
            if where == "part":
                inner = _element("part", [inner])
            if where == "bndbox" and boxes:
                boxes[-1] = boxes[-1].replace("</bndbox>", f"{inner}</bndbox>")
            else:
                parts.append(inner)
            count += n
    return _element("object", draw(st.permutations(parts + boxes))), count


@st.composite
def annotations(draw) -> tuple[bytes, str, bool]:
    """``(file bytes, the text they encode, whether the encoding cannot be determined)``: no
    byte-order mark or UTF-16/32 zero bytes, and no declaration or a wrong one."""
    found = [draw(objects()) for _ in range(draw(st.integers(0, 4)))]
    items = [text for text, _ in found]
    if items and draw(st.booleans()):
        items = [_element("objects", items)]  # in a wrapper element
    size = _element("size", [_text("width", draw(numbers)), _text("height", draw(numbers))])
    body = _element("annotation", [_text("filename", "a.jpg"), size, *items])
    encoding = draw(st.sampled_from(sorted(ENCODINGS)))
    declaration = draw(st.sampled_from(["right", "right", "none", "wrong"]))
    declared = ENCODINGS[encoding]
    if declaration == "wrong":
        declared = draw(st.sampled_from(sorted(set(ENCODINGS.values()) - {declared})))
    head = "" if declaration == "none" else f'<?xml version="1.0" encoding="{declared}"?>\n'
    # characters the encoding lacks become character references, as an XML writer does
    body = body.encode(encoding, "xmlcharrefreplace").decode(encoding).lstrip("\ufeff")
    damage = draw(st.sampled_from(["none", "none", "none", "truncate", "insert"]))
    if damage == "truncate":
        body = body[: draw(st.integers(0, len(body)))]
    elif damage == "insert":
        at = draw(st.integers(0, len(body)))
        body = (
            body[:at]
            + draw(st.sampled_from(["<", ">", "&", "/", " ", "x", '"', "\x00"]))
            + body[at:]
        )
    text = head + body
    data = text.encode(encoding, "xmlcharrefreplace")
    determined = encoding.startswith("utf-") or declaration == "right"
    return data, text, not determined or declaration == "wrong"


def _objects_in(text: str) -> int | None:
    """The ``<object>`` elements of ``text`` as the standard library's parser sees them
    (``None``: not well-formed XML)."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return None
    return sum(1 for element in root.iter("object") if element is not root)


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "a.jpg"
    noise = np.random.default_rng(0).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    Image.fromarray(noise).save(path)
    return path


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large],
)  # fmt: skip
@given(annotation=annotations(), keep_difficult=st.booleans())
def test_every_object_is_written_or_reported(image, annotation, keep_difficult):
    data, text, undetermined = annotation
    xml_path = image.with_suffix(".xml")
    xml_path.write_bytes(data)
    record, problems = parse_voc_xml(xml_path, CLASSES, image, keep_difficult)  # never raises
    kinds = [p.kind for p in problems]
    for kind in sorted(set(kinds)):
        event(kind)  # pytest --hypothesis-show-statistics: how often each kind came up
    assert set(kinds) <= set(PROBLEM_KINDS)
    expected = _objects_in(text)
    if record is None:
        assert kinds == ["bad_xml"]
        assert expected is None or undetermined  # a well-formed, decodable file was refused
        return
    assert expected is not None, "a file that is not well-formed was read"
    dropped = sum(kinds.count(kind) for kind in DROPPED)
    assert len(record.boxes) + dropped == expected, kinds
    # the annotation line: every box read back has a positive size inside the image
    event(f"boxes written: {min(len(record.boxes), 2)}{'+' if len(record.boxes) > 2 else ''}")
    back = parse_line(format_line(record))
    assert len(back.boxes) == len(record.boxes)
    if len(back.boxes):
        x1, y1, x2, y2 = back.boxes.T
        assert (x2 > x1).all() and (y2 > y1).all()
        assert (x1 >= 0).all() and (y1 >= 0).all() and (x2 <= WIDTH).all() and (y2 <= HEIGHT).all()
