"""Data problems found while reading a dataset: kinds, one ``Problem`` per finding, the
``DatasetReport`` that counts and prints them, and the box / image-size checks shared by the
VOC and COCO readers. Bad data never stops a run and is never silent.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from centernet_keras.data import image_io
from centernet_keras.data.annotations import LINE_DECIMALS, ImageRecord, line_value
from centernet_keras.text import quote, shorten

#: Kind → what happened. The first block skips images, the second drops or fixes objects,
#: the last block is deliberate (counted, not listed one by one).
PROBLEM_KINDS: dict[str, str] = {
    "bad_xml": "unparsable XML (image skipped)",
    "missing_xml": "listed in ImageSets but no XML file (image skipped)",
    "missing_image": "image file not found (image skipped)",
    "unreadable_image": "image file unreadable, truncated or corrupt (image skipped)",
    "unknown_image": "annotation for an image id missing from 'images' (dropped)",
    "duplicate_image": "COCO image id given to several images (skipped with its annotations)",
    "size_mismatch": "annotated image size differs from the file (file trusted, boxes clipped)",
    "nested_object": "<object> inside another <object> (read as an object of its own)",
    "repeated_field": "object with a repeated <name>, <bndbox>, coordinate, ... (first used)",
    "bad_difficult": "<difficult> other than 0 or 1 (read as its truth value)",
    "bad_crowd": "COCO iscrowd other than 0 or 1 (read as 0: an object, not a crowd)",
    "unknown_class": "unknown class name or id (object dropped)",
    "empty_category": "COCO category without annotations, yet it takes a class id",
    "missing_category": "class that no COCO category has (no objects of it)",
    "bad_coordinates": "missing or non-numeric coordinates (object dropped)",
    "inverted_box": "inverted box, x2 < x1 or y2 < y1 (object dropped)",
    "clipped_box": "box outside the image (clipped to it)",
    "zero_size_box": "zero-size box after clipping (object dropped)",
    "bad_keypoints": "malformed or off-image COCO keypoints (object kept, those unlabelled)",
    "no_objects": "image with no objects left (kept as a negative)",
    "difficult_skipped": "difficult objects skipped (--skip-difficult)",
    "crowd_skipped": "COCO iscrowd objects skipped",
}
#: Kinds that are counted but whose messages are not listed in the summary.
QUIET_KINDS = frozenset({"difficult_skipped", "crowd_skipped"})
#: Kinds that skip a whole image (no record of it is read).
IMAGE_SKIPPED_KINDS = frozenset(
    {"bad_xml", "missing_xml", "missing_image", "unreadable_image", "duplicate_image"}
)


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

    def __str__(self) -> str:  # bounded, whatever a reader put in (see ``text.shorten``)
        return f"{shorten(self.file, 300)}: {shorten(self.message, 1000)}"


def skips_image(problem: Problem) -> bool:
    """Whether ``problem`` skipped a whole image: its kind (``IMAGE_SKIPPED_KINDS``), or a COCO
    image read without its file whose size is invalid (``bad_coordinates``, image skipped)."""
    if problem.kind in IMAGE_SKIPPED_KINDS:
        return True
    return problem.kind == "bad_coordinates" and problem.message.endswith("image skipped")


@dataclass
class DatasetReport:
    """What a conversion read, wrote and found.

    Attributes:
        class_names: the class list used.
        problems: every :class:`Problem`, in reading order.
        images: split name → number of images written.
        objects: split name → objects written per class id (difficult ones included).
        difficult: split name → difficult objects written (flagged ``,1``).
        files: the files written.
        notes: what was done besides writing (e.g. which split was used), printed.
        keypoint_spec: the joints of a COCO keypoints file (``KeypointSpec``), else ``None``.
    """

    class_names: list[str]
    problems: list[Problem] = field(default_factory=list)
    images: dict[str, int] = field(default_factory=dict)
    objects: dict[str, list[int]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    difficult: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    keypoint_spec: object = None

    def counts(self) -> Counter[str]:
        """Number of problems per kind."""
        return Counter(p.kind for p in self.problems)

    def add_split(self, split: str, records: Iterable[ImageRecord]) -> None:
        """Count the images and per-class objects of ``records`` under ``split``."""
        per_class = [0] * len(self.class_names)
        n = difficult = 0
        for record in records:
            n += 1
            difficult += int(record.difficult.sum())
            for cls in record.classes:
                per_class[int(cls)] += 1
        self.images[split] = n
        self.objects[split] = per_class
        self.difficult[split] = difficult

    def summary(self, max_messages: int = 10) -> str:
        """A printable report: the per-class table, problem counts, and messages.

        Args:
            max_messages: messages listed per kind (``0``: all).
        """
        lines = []
        if self.objects:
            splits = list(self.objects)
            names = [shorten(c, 40) for c in self.class_names]
            width = max(len("difficult"), *(len(c) for c in names))
            lines.append(f"{'class':<{width}}" + "".join(f"{s:>10}" for s in splits))
            for i, name in enumerate(names):
                lines.append(
                    f"{name:<{width}}" + "".join(f"{self.objects[s][i]:>10}" for s in splits)
                )
            totals = [sum(self.objects[s]) for s in splits]
            lines.append(f"{'objects':<{width}}" + "".join(f"{t:>10}" for t in totals))
            hard = [self.difficult.get(s, 0) for s in splits]
            lines.append(f"{'difficult':<{width}}" + "".join(f"{t:>10}" for t in hard))
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
                seen = ", ".join(f"{quote(name)} ×{n}" for name, n in unknown.most_common(20))
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
        lines.extend(self.notes)
        lines.extend(f"Wrote {f}" for f in self.files)
        return "\n".join(lines)


def _fmt_box(box: Sequence[float]) -> str:
    return "[" + ", ".join(f"{v:g}" for v in box) + "]"


def check_box(
    box: Sequence[float], width: int, height: int, file: str, what: str
) -> tuple[list[float] | None, Problem | None]:
    """Validate one ``[x1, y1, x2, y2]`` box against a ``width`` × ``height`` image.

    Inverted boxes are dropped; boxes reaching outside the image are clipped to it; boxes with
    zero width or height (after clipping, at the precision of an annotation line:
    ``annotations.line_value``, so no box is written with zero size) are dropped.

    Args:
        box: finite coordinates in image pixels.
        width, height: the real image size.
        file: named in the problem.
        what: names the object in the problem (``"object 2 'dog'"``).

    Returns:
        ``(box or None if dropped, problem or None)``.
    """
    x1, y1, x2, y2 = (float(v) for v in box)
    what = shorten(what, 200)
    if x2 < x1 or y2 < y1:
        return None, Problem(
            "inverted_box",
            file,
            f"{what}: inverted box {_fmt_box(box)} (x2 < x1 or y2 < y1): dropped",
        )
    clipped = [min(max(x1, 0.0), width), min(max(y1, 0.0), height)]
    clipped += [min(max(x2, 0.0), width), min(max(y2, 0.0), height)]
    moved = clipped != [x1, y1, x2, y2]
    written = [line_value(v) for v in clipped]
    if written[2] <= written[0] or written[3] <= written[1]:
        where = f" after clipping to the {width}x{height} image" if moved else ""
        if clipped[2] > clipped[0] and clipped[3] > clipped[1]:
            where += f" at the precision of annotation lines ({10**-LINE_DECIMALS:g} px)"
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
    """``(width, height)`` of an image file in its displayed frame, from its header.

    EXIF orientations 5–8 swap the stored width and height, as every decoder of the package
    does (see ``data.image_io.read_image_size``).

    Raises:
        OSError: the file is missing or is not an image PIL can identify.
    """
    return image_io.read_image_size(path)


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
        f"size {annotated[0]}x{annotated[1]} in the annotation but {shorten(image_name, 200)} is "
        f"{real[0]}x{real[1]}{hint}: using the file's size, boxes clipped to it, not rescaled",
    )
