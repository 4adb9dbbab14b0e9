"""The structure a COCO JSON file must have, checked once, before anything is read from it.

:func:`load_coco_json` refuses what no reading of the file can make sense of, with one line
that names the file, the entry and the field (:class:`CocoFormatError`)::

    instances.json: annotations[12].category_id: [3] (a list), want an integer

- not JSON (empty, a syntax error: its line and column; not UTF-8; nested too deeply);
- a top level other than an object; ``images`` or ``categories`` missing or not a list;
  ``categories`` empty (no classes); ``annotations`` not a list (it may be left out: a file
  without objects);
- an entry of those lists that is not an object;
- the ids that tie the entries together: an image's ``id`` and an annotation's ``image_id``
  (an integer or a string), a category's ``id`` and an annotation's ``category_id`` (an
  integer: classes follow ascending category ids), a category ``id`` given twice;
- a category's ``name`` (a non-blank string), ``keypoints`` (distinct joint names) and, when
  it has joints, ``skeleton`` (pairs of 1-based joint indices) and ``flip_pairs`` (pairs of
  1-based indices or joint names); an image's ``file_name`` when present (a string).

What concerns one image or one object (a missing image file, a ``width`` that is not a
number, a malformed ``bbox``, ``iscrowd`` or ``keypoints``, a ``category_id`` that no category
has, two images with one id) is the reader's: reported and counted, the rest of the file read
(see :func:`~centernet_keras.data.coco.read_coco`).
"""

from __future__ import annotations

import json
import os
import reprlib
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from centernet_keras.text import shorten

#: Renders a value for a message: bounded in length and depth, whatever the file holds.
_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict = 2, 4, 4
_REPR.maxstring = _REPR.maxlong = _REPR.maxother = 40
#: What a message calls each JSON type.
_KINDS = {dict: "an object", list: "a list", str: "a string", int: "an integer", float: "a number"}


class CocoFormatError(ValueError):
    """A COCO file that is not JSON or not shaped as COCO: one line naming the file, the entry
    and the field."""


def describe(value: object) -> str:
    """What a JSON value is, for a message: ``[3] (a list)``, ``null``, ``'7' (a string)``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"{_REPR.repr(value)} ({_KINDS.get(type(value), type(value).__name__)})"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_id(value: object) -> bool:
    return _is_int(value) or isinstance(value, str)


def _entries(data: dict, key: str, file: str) -> list[dict]:
    """``data[key]``, a list of objects (or ``[]`` for a missing ``annotations``)."""
    if key not in data:
        if key == "annotations":
            return []
        raise CocoFormatError(f"{file}: not a COCO detection file: no '{key}' list")
    entries = data[key]
    if not isinstance(entries, list):
        raise CocoFormatError(
            f"{file}: not a COCO detection file: '{key}' is {describe(entries)}, want a list"
        )
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise CocoFormatError(f"{file}: {key}[{i}] is {describe(entry)}, want an object")
    return entries


def _check_id(entry: dict, field: str, where: str, strings: bool) -> None:
    want = "an integer or a string" if strings else "an integer"
    if field not in entry:
        raise CocoFormatError(f"{where}.{field}: missing, want {want}")
    value = entry[field]
    if not (_is_id(value) if strings else _is_int(value)):
        raise CocoFormatError(f"{where}.{field}: {describe(value)}, want {want}")


def _check_pairs(value: object, names: Sequence[str], where: str, by_name: bool) -> None:
    """``value`` a list of pairs of 1-based joint indices (or, ``by_name``, joint names)."""
    want = "a list of pairs of joint indices 1..J" + (" or joint names" if by_name else "")
    if not isinstance(value, list):
        raise CocoFormatError(f"{where}: {describe(value)}, want {want}")
    for k, pair in enumerate(value):
        if not isinstance(pair, list) or len(pair) != 2:
            raise CocoFormatError(f"{where}[{k}]: {describe(pair)}, want a pair (J = {len(names)})")
        for joint in pair:
            index = _is_int(joint) and 1 <= joint <= len(names)
            if not (index or (by_name and isinstance(joint, str) and joint in names)):
                raise CocoFormatError(
                    f"{where}[{k}]: {describe(joint)} is not a joint ({want}, J = {len(names)})"
                )


def _check_category(category: dict, where: str) -> None:
    _check_id(category, "id", where, strings=False)
    name = category.get("name")
    if not isinstance(name, str) or not name.strip():
        shown = "missing" if "name" not in category else describe(name)
        raise CocoFormatError(f"{where}.name: {shown}, want a class name (a non-blank string)")
    if "keypoints" not in category:
        names: list[str] = []
    else:
        names = category["keypoints"]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise CocoFormatError(
                f"{where}.keypoints: {describe(names)}, want a list of joint names"
            )
        repeated = [n for n, count in Counter(names).items() if count > 1]
        if repeated:
            raise CocoFormatError(f"{where}.keypoints: {_REPR.repr(repeated)} named twice")
    if not names:  # a box category: its joint fields are not read
        return
    if "skeleton" in category and category["skeleton"] is not None:
        _check_pairs(category["skeleton"], names, f"{where}.skeleton", by_name=False)
    if "flip_pairs" in category:
        _check_pairs(category["flip_pairs"], names, f"{where}.flip_pairs", by_name=True)


def check_coco_structure(data: object, file: str) -> None:
    """Raise :class:`CocoFormatError` unless ``data`` (a parsed file) has the COCO structure
    of the module doc; ``file`` names it in the message."""
    if not isinstance(data, dict):
        raise CocoFormatError(
            f"{file}: not a COCO detection file: the top level is {describe(data)}, want an object "
            "with 'images', 'annotations' and 'categories' lists"
        )
    for i, image in enumerate(_entries(data, "images", file)):
        where = f"{file}: images[{i}]"
        _check_id(image, "id", where, strings=True)
        if "file_name" in image and not isinstance(image["file_name"], str):
            raise CocoFormatError(f"{where}.file_name: {describe(image['file_name'])}, want a path")
    categories = _entries(data, "categories", file)
    if not categories:
        raise CocoFormatError(f"{file}: 'categories' is empty: the file names no classes")
    first: dict[int, int] = {}
    for i, category in enumerate(categories):
        where = f"{file}: categories[{i}]"
        _check_category(category, where)
        if category["id"] in first:
            other = first[category["id"]]
            raise CocoFormatError(f"{where}.id: {category['id']} is also categories[{other}]'s id")
        first[category["id"]] = i
    for i, annotation in enumerate(_entries(data, "annotations", file)):
        where = f"{file}: annotations[{i}]"
        _check_id(annotation, "image_id", where, strings=True)
        _check_id(annotation, "category_id", where, strings=False)


def load_coco_json(path: str | os.PathLike) -> dict:
    """The parsed COCO file at ``path``, its structure checked (:func:`check_coco_structure`).

    Raises:
        CocoFormatError: not JSON, or not shaped as COCO (one line: the file, the entry, the
            field).
        OSError: the file cannot be read.
    """
    file = str(path)
    raw = Path(path).read_bytes()
    if not raw.strip():
        raise CocoFormatError(f"{file}: empty file, not JSON")
    try:
        data = json.loads(raw)
    except UnicodeDecodeError as err:
        raise CocoFormatError(
            f"{file}: not UTF-8 JSON text: byte {err.object[err.start]:#04x} at offset "
            f"{err.start} ({err.encoding}: {err.reason})"
        ) from None
    except json.JSONDecodeError as err:
        raise CocoFormatError(
            f"{file}: not JSON: {err.msg} at line {err.lineno} column {err.colno}"
        ) from None
    except RecursionError:
        raise CocoFormatError(f"{file}: not JSON this reader can take: nested too deeply") from None
    except ValueError as err:  # e.g. an integer of more digits than Python converts
        raise CocoFormatError(f"{file}: not JSON: {shorten(err, 200)}") from None
    check_coco_structure(data, file)
    return data
