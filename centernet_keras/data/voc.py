"""PASCAL VOC: reading XML annotations, train/val/test splits, conversion to annotation lines.

Layout: ``<voc_root>/VOC<year>/{Annotations,JPEGImages,ImageSets/Main}``.

Box convention: ``xmin ymin xmax ymax`` are read as written, giving ``[x1, y1, x2, y2] =
[xmin, ymin, xmax, ymax]`` in image pixels, the convention of the Keras / PyTorch CenterNet
ports (so their annotation files and weights stay compatible). For genuine VOC files (1-based,
inclusive) this puts the left and top edges up to one pixel inside the object. The synthetic
dataset (:mod:`centernet_keras.data.synthetic`) writes pixel-edge coordinates (``xmin`` = first
0-based column of the object, ``xmax`` = last column + 1), which read back as the exact box.

Bad data never stops a run and is never silent: each finding is a :class:`Problem` naming the
file, and :class:`DatasetReport` counts them per kind (see :data:`PROBLEM_KINDS`).
"""

from __future__ import annotations

import math
import os
import random
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from centernet_keras.data.annotations import ImageRecord, write_annotation_file
from centernet_keras.io import atomic_write_text

#: Kind → what happened. The first block skips images, the second drops or fixes objects,
#: the last block is deliberate (counted, not listed one by one).
PROBLEM_KINDS: dict[str, str] = {
    "bad_xml": "unparsable XML (image skipped)",
    "missing_xml": "listed in ImageSets but no XML file (image skipped)",
    "missing_image": "image file not found (image skipped)",
    "unreadable_image": "image file unreadable (image skipped)",
    "unknown_image": "annotation for an image id missing from 'images' (dropped)",
    "size_mismatch": "annotated image size differs from the file (file trusted, boxes clipped)",
    "unknown_class": "unknown class name or id (object dropped)",
    "bad_coordinates": "missing or non-numeric coordinates (object dropped)",
    "inverted_box": "inverted box, x2 < x1 or y2 < y1 (object dropped)",
    "clipped_box": "box outside the image (clipped to it)",
    "zero_size_box": "zero-size box after clipping (object dropped)",
    "no_objects": "image with no objects left (kept as a negative)",
    "difficult_skipped": "difficult objects skipped (keep them with --keep-difficult)",
    "crowd_skipped": "COCO iscrowd objects skipped",
}
#: Kinds that are counted but whose messages are not listed in the summary.
QUIET_KINDS = frozenset({"difficult_skipped", "crowd_skipped"})
SPLITS = ("trainval", "train", "val", "test")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".JPG", ".JPEG", ".PNG", ".BMP")


@dataclass(frozen=True)
class Problem:
    """One finding about the data.

    Attributes:
        kind: a key of :data:`PROBLEM_KINDS`.
        file: the annotation (or image) file it concerns.
        message: what was found and what was done about it.
        detail: a value to aggregate on (the unknown class name), else ``""``.
    """

    kind: str
    file: str
    message: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.file}: {self.message}"


@dataclass
class DatasetReport:
    """What a conversion read, wrote and found.

    Attributes:
        class_names: the class list used.
        problems: every :class:`Problem`, in reading order.
        images: split name → number of images written.
        objects: split name → objects written per class id.
        files: the files written.
    """

    class_names: list[str]
    problems: list[Problem] = field(default_factory=list)
    images: dict[str, int] = field(default_factory=dict)
    objects: dict[str, list[int]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    def counts(self) -> Counter[str]:
        """Number of problems per kind."""
        return Counter(p.kind for p in self.problems)

    def add_split(self, split: str, records: Iterable[ImageRecord]) -> None:
        """Count the images and per-class objects of ``records`` under ``split``."""
        per_class = [0] * len(self.class_names)
        n = 0
        for record in records:
            n += 1
            for cls in record.classes:
                per_class[int(cls)] += 1
        self.images[split] = n
        self.objects[split] = per_class

    def summary(self, max_messages: int = 10) -> str:
        """A printable report: the per-class table, problem counts, and messages.

        Args:
            max_messages: messages listed per kind (``0``: all).
        """
        lines = []
        if self.objects:
            splits = list(self.objects)
            width = max(len("images"), *(len(c) for c in self.class_names))
            lines.append(f"{'class':<{width}}" + "".join(f"{s:>10}" for s in splits))
            for i, name in enumerate(self.class_names):
                lines.append(
                    f"{name:<{width}}" + "".join(f"{self.objects[s][i]:>10}" for s in splits)
                )
            totals = [sum(self.objects[s]) for s in splits]
            lines.append(f"{'objects':<{width}}" + "".join(f"{t:>10}" for t in totals))
            lines.append(f"{'images':<{width}}" + "".join(f"{self.images[s]:>10}" for s in splits))
        counts = self.counts()
        if not counts:
            lines.append("No problems found.")
        else:
            files = len({p.file for p in self.problems if p.kind not in QUIET_KINDS})
            lines.append(f"Findings ({files} files affected):")
            for kind, text in PROBLEM_KINDS.items():
                if counts[kind]:
                    lines.append(f"  {counts[kind]:>7}  {kind:<18} {text}")
            unknown = Counter(p.detail for p in self.problems if p.kind == "unknown_class")
            if unknown:
                seen = ", ".join(f"{name!r} ×{n}" for name, n in unknown.most_common(20))
                lines.append(f"Unknown class names: {seen}")
            for kind in PROBLEM_KINDS:
                if kind in QUIET_KINDS or not counts[kind]:
                    continue
                listed = [p for p in self.problems if p.kind == kind]
                shown = listed if max_messages <= 0 else listed[:max_messages]
                lines.append(f"[{kind}]")
                lines.extend(f"  {p}" for p in shown)
                if len(listed) > len(shown):
                    lines.append(f"  ... and {len(listed) - len(shown)} more")
        lines.extend(f"Wrote {f}" for f in self.files)
        return "\n".join(lines)


def _number(text: str | None) -> float | None:
    try:
        value = float(text.strip())  # type: ignore[union-attr]
    except (AttributeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _fmt_box(box: Sequence[float]) -> str:
    return "[" + ", ".join(f"{v:g}" for v in box) + "]"


def check_box(
    box: Sequence[float], width: int, height: int, file: str, what: str
) -> tuple[list[float] | None, Problem | None]:
    """Validate one ``[x1, y1, x2, y2]`` box against a ``width`` × ``height`` image.

    Inverted boxes are dropped; boxes reaching outside the image are clipped to it; boxes with
    zero width or height (after clipping) are dropped.

    Args:
        box: finite coordinates in image pixels.
        width, height: the real image size.
        file: named in the problem.
        what: names the object in the problem (``"object 2 'dog'"``).

    Returns:
        ``(box or None if dropped, problem or None)``.
    """
    x1, y1, x2, y2 = (float(v) for v in box)
    if x2 < x1 or y2 < y1:
        return None, Problem(
            "inverted_box",
            file,
            f"{what}: inverted box {_fmt_box(box)} (x2 < x1 or y2 < y1): dropped",
        )
    clipped = [min(max(x1, 0.0), width), min(max(y1, 0.0), height)]
    clipped += [min(max(x2, 0.0), width), min(max(y2, 0.0), height)]
    moved = clipped != [x1, y1, x2, y2]
    if clipped[2] <= clipped[0] or clipped[3] <= clipped[1]:
        where = f" after clipping to the {width}x{height} image" if moved else ""
        return None, Problem(
            "zero_size_box", file, f"{what}: box {_fmt_box(box)} has zero size{where}: dropped"
        )
    if moved:
        return clipped, Problem(
            "clipped_box",
            file,
            f"{what}: box {_fmt_box(box)} outside the {width}x{height} image: "
            f"clipped to {_fmt_box(clipped)}",
        )
    return clipped, None


def read_image_size(path: str | os.PathLike) -> tuple[int, int]:
    """``(width, height)`` of an image file from its header (the pixels are not decoded).

    The stored size is returned; EXIF orientation is not applied (neither does ``tf.io``).

    Raises:
        OSError: the file is missing or is not an image PIL can identify.
    """
    with Image.open(path) as image:
        return image.size


def size_problem(
    file: str, image_name: str, annotated: tuple[int | None, int | None], real: tuple[int, int]
) -> Problem | None:
    """A ``size_mismatch`` problem if a complete annotated size differs from the real one."""
    if None in annotated or tuple(annotated) == tuple(real):
        return None
    hint = " (width and height swapped: EXIF rotation?)" if tuple(annotated) == real[::-1] else ""
    return Problem(
        "size_mismatch",
        file,
        f"size {annotated[0]}x{annotated[1]} in the annotation but {image_name} is "
        f"{real[0]}x{real[1]}{hint}: using the file's size, boxes clipped to it, not rescaled",
    )


def find_image(image_dir: str | os.PathLike, stem: str, filename: str | None = None) -> Path | None:
    """The image of annotation ``stem`` in ``image_dir``, or ``None``.

    Tries ``<stem>.jpg`` (the VOC layout), then the XML's ``<filename>`` (base name only), then
    ``<stem>`` with the other common suffixes.
    """
    image_dir = Path(image_dir)
    names = [f"{stem}.jpg"]
    if filename and filename.strip():
        names.append(Path(filename.strip().replace("\\", "/")).name)
    names += [stem + suffix for suffix in IMAGE_SUFFIXES]
    for name in names:
        if (image_dir / name).is_file():
            return image_dir / name
    return None


def parse_voc_xml(
    xml_path: str | os.PathLike,
    class_names: Sequence[str],
    image_path: str | os.PathLike | None = None,
    keep_difficult: bool = False,
) -> tuple[ImageRecord | None, list[Problem]]:
    """Read one VOC XML file into an :class:`ImageRecord`, validating it against its image.

    The image size is read from the image file (header only) and trusted over ``<size>``.
    Objects with an unknown class, missing or non-numeric coordinates, an inverted box or a
    zero-size box are dropped; boxes outside the image are clipped; difficult objects are
    skipped unless ``keep_difficult`` (then they carry the difficult flag). Coordinates are
    read as written (see the module docstring).

    Args:
        xml_path: the ``.xml`` file.
        class_names: the classes; an object's class id is the index of its ``<name>``.
        image_path: the image; default: found next to the XML's folder in ``../JPEGImages``.
        keep_difficult: keep ``<difficult>1</difficult>`` objects.

    Returns:
        ``(record, problems)``; ``record`` is ``None`` when the image is skipped (unparsable
        XML, missing or unreadable image). A record may have no objects.
    """
    file = str(xml_path)
    xml_path = Path(xml_path)
    try:
        root = ET.parse(xml_path).getroot()
    except (ET.ParseError, OSError, UnicodeError, ValueError) as err:
        return None, [Problem("bad_xml", file, f"unparsable XML ({err}): image skipped")]
    if image_path is None:
        image_dir = xml_path.parent.parent / "JPEGImages"
        found = find_image(image_dir, xml_path.stem, root.findtext("filename"))
        if found is None:
            where = image_dir / f"{xml_path.stem}.jpg"
            return None, [Problem("missing_image", file, f"no image {where}: image skipped")]
        image_path = found
    elif not Path(image_path).is_file():
        return None, [Problem("missing_image", file, f"no image {image_path}: image skipped")]
    try:
        width, height = read_image_size(image_path)
    except Exception as err:  # PIL raises many kinds for broken files
        return None, [
            Problem("unreadable_image", file, f"cannot read image {image_path} ({err}): skipped")
        ]
    problems: list[Problem] = []
    annotated = tuple(_number(root.findtext(f"size/{t}")) for t in ("width", "height"))
    annotated = tuple(None if v is None else int(v) for v in annotated)
    size_issue = size_problem(file, Path(image_path).name, annotated, (width, height))
    if size_issue:
        problems.append(size_issue)
    ids = {name: i for i, name in enumerate(class_names)}
    lowered = {name.lower(): name for name in class_names}
    boxes, classes, difficult = [], [], []
    for k, obj in enumerate(root.findall("object"), 1):
        label = (obj.findtext("name") or "").strip()
        what = f"object {k} {label!r}"
        if label not in ids:
            hint = (
                f" (did you mean {lowered[label.lower()]!r}?)" if label.lower() in lowered else ""
            )
            problems.append(
                Problem("unknown_class", file, f"{what}: unknown class{hint}: dropped", label)
            )
            continue
        is_difficult = _number(obj.findtext("difficult")) == 1
        if is_difficult and not keep_difficult:
            problems.append(Problem("difficult_skipped", file, f"{what}: difficult: skipped"))
            continue
        raw = [obj.findtext(f"bndbox/{t}") for t in ("xmin", "ymin", "xmax", "ymax")]
        coords = [_number(v) for v in raw]
        if None in coords:
            problems.append(
                Problem(
                    "bad_coordinates",
                    file,
                    f"{what}: missing or non-numeric coordinates "
                    f"(xmin, ymin, xmax, ymax) = {tuple(raw)}: dropped",
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


def read_voc_split(
    voc_root: str | os.PathLike,
    year: str | int,
    split: str,
    class_names: Sequence[str],
    keep_difficult: bool = False,
) -> tuple[list[ImageRecord], list[Problem]]:
    """Records of the images listed in ``VOC<year>/ImageSets/Main/<split>.txt``.

    Image paths are absolute. Images that cannot be used are skipped and reported.

    Raises:
        FileNotFoundError: the split file does not exist.
    """
    voc_dir = Path(voc_root) / f"VOC{year}"
    split_file = voc_dir / "ImageSets" / "Main" / f"{split}.txt"
    if not split_file.is_file():
        raise FileNotFoundError(f"{split_file} not found (create it with --mode split)")
    records, problems = [], []
    for line in split_file.read_text(encoding="utf-8-sig").splitlines():
        if not line.strip():
            continue
        stem = line.split()[0]
        xml_path = voc_dir / "Annotations" / f"{stem}.xml"
        if not xml_path.is_file():
            problems.append(
                Problem("missing_xml", str(split_file), f"no {xml_path}: image {stem!r} skipped")
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
    keep_difficult: bool = False,
    out_dir: str | os.PathLike = ".",
) -> DatasetReport:
    """Prepare a VOC dataset for training (the Keras ports' ``voc_annotation.py``).

    Args:
        voc_root: the ``VOCdevkit`` folder.
        year: selects ``VOC<year>``.
        class_names: the classes to keep (others are dropped and reported).
        mode: ``"split"`` writes ``ImageSets/Main/{trainval,train,val,test}.txt``;
            ``"lines"`` reads ``train``/``val`` and writes ``<out_dir>/<year>_train.txt`` and
            ``<year>_val.txt`` (absolute image paths); ``"all"`` does both.
        trainval_percent, train_percent, seed: the split (see :func:`split_stems`).
        keep_difficult: write difficult objects (with the difficult flag) instead of skipping.
        out_dir: where the line files go.

    Returns:
        The report: per-split image and per-class object counts, problems, files written.

    Raises:
        ValueError: unknown mode or bad percentages.
        FileNotFoundError: no annotations, or (``"lines"``) no split files.
    """
    if mode not in ("all", "split", "lines"):
        raise ValueError(f"mode must be 'all', 'split' or 'lines', got {mode!r}")
    report = DatasetReport(list(class_names))
    if mode in ("all", "split"):
        split_voc(voc_root, year, trainval_percent, train_percent, seed)
        main = Path(voc_root) / f"VOC{year}" / "ImageSets" / "Main"
        report.files += [str(main / f"{s}.txt") for s in SPLITS]
    if mode in ("all", "lines"):
        for split in ("train", "val"):
            records, problems = read_voc_split(voc_root, year, split, class_names, keep_difficult)
            report.problems += problems
            out = Path(out_dir) / f"{year}_{split}.txt"
            write_annotation_file(out, records)
            report.add_split(split, records)
            report.files.append(str(out))
    return report
