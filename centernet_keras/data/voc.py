"""PASCAL VOC: reading XML annotations, train/val/test splits, conversion to annotation lines.

Layout: ``<voc_root>/VOC<year>/{Annotations,JPEGImages,ImageSets/Main}``.

Box convention: ``xmin ymin xmax ymax`` are read as written, giving ``[x1, y1, x2, y2] =
[xmin, ymin, xmax, ymax]`` in image pixels, the convention of the Keras / PyTorch CenterNet
ports (so their annotation files and weights stay compatible). For genuine VOC files (1-based,
inclusive) this puts the left and top edges up to one pixel inside the object. The synthetic
dataset (:mod:`centernet_keras.data.synthetic`) writes pixel-edge coordinates (``xmin`` = first
0-based column of the object, ``xmax`` = last column + 1), which read back as the exact box.

Bad data never stops a run and is never silent: each finding is a ``Problem`` naming the file,
and ``DatasetReport`` counts them per kind (``centernet_keras.data.problems``).

*Difficult* objects (``<difficult>1</difficult>``) are kept and flagged (the ``,1`` field of an
annotation line): training leaves them out and the VOC metrics ignore them, as the devkit does.
Existing ``ImageSets/Main`` split files (e.g. the official VOC split) are never replaced unless
asked for (``resplit``).
"""

from __future__ import annotations

import math
import os
import random
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from centernet_keras.data.annotations import ImageRecord, write_annotation_file
from centernet_keras.data.image_check import incomplete_image
from centernet_keras.data.problems import (
    DatasetReport,
    Problem,
    check_box,
    read_image_size,
    size_problem,
)
from centernet_keras.data.xml_text import read_xml
from centernet_keras.io import atomic_write_text
from centernet_keras.text import quote, shorten

SPLITS = ("trainval", "train", "val", "test")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".JPG", ".JPEG", ".PNG", ".BMP")
#: The children of ``<bndbox>``, in the order of a box ``[x1, y1, x2, y2]``.
_COORDINATES = ("xmin", "ymin", "xmax", "ymax")


def _number(text: str | None) -> float | None:
    try:
        value = float(text.strip())  # type: ignore[union-attr]
    except (AttributeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _is_file(path: Path) -> bool:
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
    names += [stem + suffix for suffix in IMAGE_SUFFIXES]
    for name in names:
        if _is_file(image_dir / name):
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
    elif not _is_file(Path(image_path)):
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


def split_stems(
    stems: Sequence[str], trainval_percent: float = 0.9, train_percent: float = 0.9, seed: int = 0
) -> dict[str, list[str]]:
    """Randomly split annotation stems into ``trainval``/``train``/``val``/``test``.

    The proportions of the Keras ports' ``voc_annotation.py``: ``int(n · trainval_percent)``
    stems go to trainval, ``int(that · train_percent)`` of those to train, the rest of trainval
    to val, the others to test. Stems are sorted first, so the result depends only on the stems
    and the seed (not on directory listing order). Each list keeps the sorted order.

    Raises:
        ValueError: a percentage outside ``[0, 1]``.
    """
    for name, value in (("trainval_percent", trainval_percent), ("train_percent", train_percent)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {value}")
    stems = sorted(set(stems))
    rng = random.Random(seed)
    n_trainval = int(len(stems) * trainval_percent)
    trainval = set(rng.sample(range(len(stems)), n_trainval))
    train = set(rng.sample(sorted(trainval), int(n_trainval * train_percent)))
    return {
        "trainval": [s for i, s in enumerate(stems) if i in trainval],
        "train": [s for i, s in enumerate(stems) if i in train],
        "val": [s for i, s in enumerate(stems) if i in trainval and i not in train],
        "test": [s for i, s in enumerate(stems) if i not in trainval],
    }


def write_splits(image_sets_dir: str | os.PathLike, splits: dict[str, list[str]]) -> list[Path]:
    """Write ``<split>.txt`` files (one stem a line) atomically; returns the paths."""
    paths = []
    for split, stems in splits.items():
        path = Path(image_sets_dir) / f"{split}.txt"
        atomic_write_text(path, "".join(f"{s}\n" for s in stems))
        paths.append(path)
    return paths


def split_voc(
    voc_root: str | os.PathLike,
    year: str | int = 2007,
    trainval_percent: float = 0.9,
    train_percent: float = 0.9,
    seed: int = 0,
) -> dict[str, list[str]]:
    """Split the XML stems of ``VOC<year>/Annotations`` and write ``ImageSets/Main/*.txt``.

    Existing split files are replaced (:func:`convert_voc` keeps them unless ``resplit``).

    Returns:
        The split (see :func:`split_stems`).

    Raises:
        FileNotFoundError: no ``.xml`` file in the Annotations folder.
    """
    voc_dir = Path(voc_root) / f"VOC{year}"
    stems = [p.stem for p in (voc_dir / "Annotations").glob("*.xml")]
    if not stems:
        raise FileNotFoundError(f"no .xml files in {voc_dir / 'Annotations'}")
    splits = split_stems(stems, trainval_percent, train_percent, seed)
    write_splits(voc_dir / "ImageSets" / "Main", splits)
    return splits


#: A line of the devkit's per-class split files: ``<image id> <-1|0|1>``.
_CLASS_SPLIT_LINE = re.compile(r"(.*\S)\s+-?[01]")


def read_voc_split(
    voc_root: str | os.PathLike,
    year: str | int,
    split: str,
    class_names: Sequence[str],
    keep_difficult: bool = True,
) -> tuple[list[ImageRecord], list[Problem]]:
    """Records of the images listed in ``VOC<year>/ImageSets/Main/<split>.txt``.

    One image id a line; an id may contain spaces (the whole line is the id). In the devkit's
    per-class files (``cat_train.txt``: ``<id> <-1|0|1>``) the flag is dropped when the whole
    line names no annotation. Image paths are absolute. Images that cannot be used are skipped
    and reported. ``keep_difficult``: see :func:`parse_voc_xml`.

    Raises:
        FileNotFoundError: the split file does not exist.
    """
    voc_dir = Path(voc_root) / f"VOC{year}"
    split_file = voc_dir / "ImageSets" / "Main" / f"{split}.txt"
    if not split_file.is_file():
        raise FileNotFoundError(f"{split_file} not found (create it with --mode split)")
    records, problems = [], []
    for line in split_file.read_text(encoding="utf-8-sig").split("\n"):
        stem = line.strip()
        if not stem:
            continue
        xml_path = voc_dir / "Annotations" / f"{stem}.xml"
        per_class = _CLASS_SPLIT_LINE.fullmatch(stem)
        if not _is_file(xml_path) and per_class:
            shorter = voc_dir / "Annotations" / f"{per_class.group(1)}.xml"
            if _is_file(shorter):
                stem, xml_path = per_class.group(1), shorter
        if not _is_file(xml_path):
            where = quote(str(xml_path), 300)
            problems.append(
                Problem("missing_xml", str(split_file), f"no {where}: image {quote(stem)} skipped")
            )
            continue
        record, found = parse_voc_xml(xml_path, class_names, keep_difficult=keep_difficult)
        problems += found
        if record is not None:
            record.path = os.path.abspath(record.path)
            records.append(record)
    return records, problems


def convert_voc(
    voc_root: str | os.PathLike,
    year: str | int,
    class_names: Sequence[str],
    *,
    mode: str = "all",
    trainval_percent: float = 0.9,
    train_percent: float = 0.9,
    seed: int = 0,
    keep_difficult: bool = True,
    out_dir: str | os.PathLike = ".",
    resplit: bool = False,
) -> DatasetReport:
    """Prepare a VOC dataset for training (the Keras ports' ``voc_annotation.py``).

    Existing split files are kept: ``"all"`` then reads the existing ``train``/``val``
    (the official split of a real VOCdevkit), ``"split"`` refuses; ``resplit`` replaces them.
    The report's ``notes`` say which split was used.

    Args:
        voc_root: the ``VOCdevkit`` folder.
        year: selects ``VOC<year>``.
        class_names: the classes to keep (others are dropped and reported).
        mode: ``"split"`` writes ``ImageSets/Main/{trainval,train,val,test}.txt``;
            ``"lines"`` reads ``train``/``val`` and writes ``<out_dir>/<year>_train.txt`` and
            ``<year>_val.txt`` (absolute image paths); ``"all"`` does both.
        trainval_percent, train_percent, seed: the split (see :func:`split_stems`).
        keep_difficult: write difficult objects flagged ``,1`` (default: training ignores
            them, the VOC metrics too); ``False`` leaves them out of the line files.
        out_dir: where the line files go.
        resplit: write a new split even if ``ImageSets/Main`` has split files.

    Returns:
        The report: per-split image and per-class object counts, problems, notes, files
        written.

    Raises:
        ValueError: unknown mode or bad percentages.
        FileNotFoundError: no annotations, or (``"lines"``) no split files.
        FileExistsError: split files exist, no ``resplit``, and ``"split"`` mode or (``"all"``)
            no ``train.txt``/``val.txt`` among them.
    """
    if mode not in ("all", "split", "lines"):
        raise ValueError(f"mode must be 'all', 'split' or 'lines', got {mode!r}")
    report = DatasetReport(list(class_names))
    main = Path(voc_root) / f"VOC{year}" / "ImageSets" / "Main"
    existing = [s for s in SPLITS if (main / f"{s}.txt").is_file()]
    kept = ""
    if mode in ("all", "split") and existing and not resplit:
        if mode == "split" or not {"train", "val"} <= set(existing):
            names = ", ".join(f"{s}.txt" for s in existing)
            raise FileExistsError(
                f"{main} already has {names} (the dataset's own split?): not replaced; "
                "pass --resplit to write a new split over them"
                + ("" if mode == "split" else ", or add train.txt and val.txt")
            )
        mode, kept = "lines", " (kept; --resplit writes a new one)"
    if mode in ("all", "split"):
        splits = split_voc(voc_root, year, trainval_percent, train_percent, seed)
        report.files += [str(main / f"{s}.txt") for s in SPLITS]
        counts = ", ".join(f"{len(v)} {k}" for k, v in splits.items())
        replaced = f"; replaced the existing {', '.join(existing)}" if existing else ""
        report.notes.append(
            f"Split: new split of {main} (seed {seed}, trainval {trainval_percent}, "
            f"train {train_percent}): {counts}{replaced}"
        )
    else:
        report.notes.append(
            f"Split: existing split {main / 'train.txt'} and {main / 'val.txt'}{kept}"
        )
    if mode in ("all", "lines"):
        for split in ("train", "val"):
            records, problems = read_voc_split(voc_root, year, split, class_names, keep_difficult)
            report.problems += problems
            out = Path(out_dir) / f"{year}_{split}.txt"
            write_annotation_file(out, records)
            report.add_split(split, records)
            report.files.append(str(out))
    return report
