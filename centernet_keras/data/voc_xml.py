"""One PASCAL VOC XML annotation → an :class:`ImageRecord`, validated against its image.

Box convention: ``xmin ymin xmax ymax`` are read as written, giving ``[x1, y1, x2, y2] =
[xmin, ymin, xmax, ymax]`` in image pixels, the convention of the Keras / PyTorch CenterNet
ports (so their annotation files and weights stay compatible). For genuine VOC files (1-based,
inclusive) this puts the left and top edges up to one pixel inside the object. The synthetic
dataset (:mod:`centernet_keras.data.synthetic`) writes pixel-edge coordinates (``xmin`` = first
0-based column of the object, ``xmax`` = last column + 1), which read back as the exact box.

Bad data never stops a run and is never silent: each finding is a ``Problem`` naming the file
(``centernet_keras.data.problems``). *Difficult* objects (``<difficult>1</difficult>``) are kept
and flagged (the ``,1`` field of an annotation line): training leaves them out and the VOC
metrics ignore them, as the devkit does.
"""

from __future__ import annotations

import math
import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from centernet_keras.data.annotations import ImageRecord
from centernet_keras.data.image_check import incomplete_image
from centernet_keras.data.problems import Problem, check_box, read_image_size, size_problem
from centernet_keras.data.xml_text import read_xml
from centernet_keras.text import quote, shorten

#: The suffixes ``find_image`` appends to an annotation's stem, in this order: exact file names
#: (a case-sensitive file system holds ``a.JPG``, not ``a.jpg``) of the formats VOC-style
#: datasets use. Not ``image_io.IMAGE_SUFFIXES`` (lowercase, compared case-insensitively, the
#: wider set a folder of images to detect may hold): a dataset converts to the same images.
FIND_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".JPG", ".JPEG", ".PNG", ".BMP")
#: The children of ``<bndbox>``, in the order of a box ``[x1, y1, x2, y2]``.
_COORDINATES = ("xmin", "ymin", "xmax", "ymax")


def _number(text: str | None) -> float | None:
    try:
        value = float(text.strip())  # type: ignore[union-attr]
    except (AttributeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def is_file(path: Path) -> bool:
    """``path.is_file()``, ``False`` for names the OS refuses (too long, NUL byte)."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def find_image(image_dir: str | os.PathLike, stem: str, filename: str | None = None) -> Path | None:
    """The image of annotation ``stem`` in ``image_dir``, or ``None``.

    Tries ``<stem>.jpg`` (the VOC layout), then the XML's ``<filename>`` (base name only), then
    ``<stem>`` with the other common suffixes. Names the OS cannot look up (longer than 255
    bytes, ...) count as not found.
    """
    image_dir = Path(image_dir)
    names = [f"{stem}.jpg"]
    if filename and filename.strip():
        names.append(Path(filename.strip().replace("\\", "/")).name)
    names += [stem + suffix for suffix in FIND_IMAGE_SUFFIXES]
    for name in names:
        if is_file(image_dir / name):
            return image_dir / name
    return None


def _objects(root: ET.Element) -> list[tuple[ET.Element, int]]:
    """The ``<object>`` elements at any depth, in document order, each with the number (from 1,
    in that order) of the object it is nested in, ``0`` if none.

    Objects may sit in a wrapper element; an ``<object>`` inside another one is an object too
    (a VOC ``<part>`` is not an object).
    """
    found: list[tuple[ET.Element, int]] = []
    stack = [(iter(root), 0)]
    while stack:  # iterative: deep nesting must not hit the recursion limit
        children, outer = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
        elif child.tag == "object":
            found.append((child, outer))
            stack.append((iter(child), len(found)))
        elif len(child):
            stack.append((iter(child), outer))
    return found


def _fields(element: ET.Element | None, tags: tuple[str, ...]) -> tuple[dict[str, str], list[str]]:
    """The text (``""`` if none) of the first child of ``element`` with each of ``tags``, and
    the tags found more than once."""
    first: dict[str, str] = {}
    repeated: list[str] = []
    for child in () if element is None else element:
        if child.tag not in tags:
            continue
        if child.tag not in first:
            first[child.tag] = child.text or ""
        elif child.tag not in repeated:
            repeated.append(child.tag)
    return first, repeated


#: Words a ``<difficult>`` may hold, read as meant.
_TRUTH_WORDS = {"true": True, "yes": True, "false": False, "no": False}


def _difficult(text: str | None) -> tuple[bool, str | None]:
    """``<difficult>`` as the devkit reads it: a number's truth value (``true``/``yes``,
    ``false``/``no`` as meant; missing or empty: not difficult), with a note on how a value
    other than 0 or 1 was read (``None`` for 0, 1 and empty)."""
    value = (text or "").strip()
    number = _number(value)
    if not value or number in (0, 1):
        return number == 1, None
    difficult = bool(number) if number is not None else _TRUTH_WORDS.get(value.lower(), False)
    read = "difficult" if difficult else "not difficult"
    return difficult, f"<difficult> {quote(value, 20)} read as {read}"


def _first(root: ET.Element, tag: str) -> ET.Element | None:
    """The child ``tag`` of the root, else the first ``tag`` anywhere (inside a wrapper)."""
    element = root.find(tag)
    return element if element is not None else root.find(f".//{tag}")


def parse_voc_xml(
    xml_path: str | os.PathLike,
    class_names: Sequence[str],
    image_path: str | os.PathLike | None = None,
    keep_difficult: bool = True,
) -> tuple[ImageRecord | None, list[Problem]]:
    """Read one VOC XML file into an :class:`ImageRecord`, validating it against its image.

    The image size is read from the image file (header only) and trusted over ``<size>``; a
    truncated image file is skipped. Objects with an unknown class, missing or non-numeric
    coordinates, an inverted box or a zero-size box are dropped; boxes outside the image are
    clipped; difficult objects carry the difficult flag (or are skipped if not
    ``keep_difficult``). ``<object>`` elements are found at any depth (inside a wrapper
    element too); one inside another ``<object>`` is read as an object of its own and
    reported (``nested_object``). A repeated ``<name>``, ``<difficult>``, ``<bndbox>`` or
    coordinate is reported (``repeated_field``) and the first one used. ``<difficult>`` is
    read as the devkit reads it, a number's truth value (``true``/``yes``, ``false``/``no``
    as meant), and any value but 0, 1 or empty is reported (``bad_difficult``). XML
    namespaces are ignored; DTD entity declarations make the file unparsable. The file may be
    UTF-8, UTF-16 or UTF-32 (byte-order mark or not) or in a declared encoding Python has a
    codec for; bytes its encoding cannot decode make it unparsable (``bad_xml``). Coordinates
    are read as written (see the module docstring).

    Args:
        xml_path: the ``.xml`` file.
        class_names: the classes; an object's class id is the index of its ``<name>``.
        image_path: the image; default: found next to the XML's folder in ``../JPEGImages``.
        keep_difficult: keep ``<difficult>1</difficult>`` objects, flagged (default); else
            skip them (counted as ``difficult_skipped``).

    Returns:
        ``(record, problems)``; ``record`` is ``None`` when the image is skipped (unparsable
        XML, missing, unreadable or truncated image). A record may have no objects.
    """
    file = str(xml_path)
    xml_path = Path(xml_path)
    try:
        root = read_xml(xml_path)
    except (OSError, ValueError) as err:
        return None, [Problem("bad_xml", file, f"unparsable XML ({err}): image skipped")]
    if image_path is None:
        image_dir = xml_path.parent.parent / "JPEGImages"
        filename = _first(root, "filename")
        found = find_image(image_dir, xml_path.stem, None if filename is None else filename.text)
        if found is None:
            where = quote(str(image_dir / f"{xml_path.stem}.jpg"), 300)
            return None, [Problem("missing_image", file, f"no image {where}: image skipped")]
        image_path = found
    elif not is_file(Path(image_path)):
        where = quote(str(image_path), 300)
        return None, [Problem("missing_image", file, f"no image {where}: image skipped")]
    try:
        width, height = read_image_size(image_path)
        defect = incomplete_image(image_path)
    except Exception as err:  # PIL raises many kinds for broken files
        return None, [
            Problem(
                "unreadable_image",
                file,
                f"cannot read image {image_path} ({shorten(err, 200)}): skipped",
            )
        ]
    if defect is not None:
        what = f"image {image_path} is truncated or corrupt ({shorten(defect, 200)}): skipped"
        return None, [Problem("unreadable_image", file, what)]
    problems: list[Problem] = []
    size = _first(root, "size")
    size = size if size is not None else ET.Element("size")
    annotated = tuple(_number(size.findtext(t)) for t in ("width", "height"))
    annotated = tuple(None if v is None else int(v) for v in annotated)
    size_issue = size_problem(file, Path(image_path).name, annotated, (width, height))
    if size_issue:
        problems.append(size_issue)
    ids = {name: i for i, name in enumerate(class_names)}
    lowered = {name.lower(): name for name in class_names}
    boxes, classes, difficult, labels = [], [], [], []
    for k, (obj, outer) in enumerate(_objects(root), 1):
        fields, repeated = _fields(obj, ("name", "difficult", "bndbox"))
        corners, more = _fields(obj.find("bndbox"), _COORDINATES)
        label = fields.get("name", "").strip()
        labels.append(label)
        what = f"object {k} {quote(label)}"
        if outer:
            inside = f"object {outer} {quote(labels[outer - 1])}"
            message = f"{what} is inside {inside}: read as an object of its own"
            problems.append(Problem("nested_object", file, message))
        if repeated + more:
            tags = ", ".join(f"<{t}>" for t in repeated + more)
            message = f"{what}: more than one {tags}: the first is used"
            problems.append(Problem("repeated_field", file, message))
        if label not in ids:
            hint = (
                f" (did you mean {quote(lowered[label.lower()])}?)"
                if label.lower() in lowered
                else ""
            )
            problems.append(
                Problem("unknown_class", file, f"{what}: unknown class{hint}: dropped", label)
            )
            continue
        is_difficult, odd = _difficult(fields.get("difficult"))
        if odd:
            problems.append(Problem("bad_difficult", file, f"{what}: {odd}"))
        if is_difficult and not keep_difficult:
            problems.append(Problem("difficult_skipped", file, f"{what}: difficult: skipped"))
            continue
        raw = [corners.get(t) for t in _COORDINATES]
        coords = [_number(v) for v in raw]
        if None in coords:
            problems.append(
                Problem(
                    "bad_coordinates",
                    file,
                    f"{what}: missing or non-numeric coordinates (xmin, ymin, xmax, ymax) = "
                    f"({', '.join('None' if v is None else quote(v, 20) for v in raw)}): dropped",
                )
            )
            continue
        box, problem = check_box(coords, width, height, file, what)  # type: ignore[arg-type]
        if problem:
            problems.append(problem)
        if box is not None:
            boxes.append(box)
            classes.append(ids[label])
            difficult.append(is_difficult)
    if not boxes:
        problems.append(Problem("no_objects", file, "no objects left: image kept as a negative"))
    record = ImageRecord(str(image_path), boxes, classes, difficult, width, height)
    return record, problems
