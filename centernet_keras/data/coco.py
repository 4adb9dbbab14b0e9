"""COCO ``instances_*.json`` → :class:`ImageRecord` list, validated like the VOC reader."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path

from centernet_keras.data.annotations import ImageRecord
from centernet_keras.data.problems import (
    DatasetReport,
    Problem,
    check_box,
    read_image_size,
    size_problem,
)


def _size(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _bbox(value: object) -> list[float] | None:
    """COCO ``[x, y, w, h]`` → ``[x1, y1, x2, y2]``, or ``None`` if malformed."""
    if not isinstance(value, list | tuple) or len(value) != 4:
        return None
    if not all(isinstance(v, int | float) and math.isfinite(v) for v in value):
        return None
    x, y, w, h = (float(v) for v in value)
    return [x, y, x + w, y + h]


def read_coco(
    json_path: str | os.PathLike,
    image_dir: str | os.PathLike,
    class_names: Sequence[str] | None = None,
    check_images: bool = True,
) -> tuple[list[ImageRecord], list[str], DatasetReport]:
    """Read a COCO detection file into records.

    ``bbox`` ``[x, y, w, h]`` becomes ``[x1, y1, x2, y2]``. Without ``class_names``, category
    ids map to 0-based contiguous ids in ascending category-id order (COCO's 80 classes →
    0..79). With ``class_names``, categories map by name and annotations of other categories
    are dropped and reported. ``iscrowd`` objects are skipped and counted. Images without
    annotations are kept. Boxes are validated like VOC boxes (:func:`~.voc.check_box`).

    Args:
        json_path: the ``instances_*.json`` file.
        image_dir: folder the images' ``file_name`` is relative to; record paths are absolute.
        class_names: optional class list fixing the class ids.
        check_images: open each image header: missing or unreadable images are skipped and the
            real size is trusted over the JSON's. Without it the JSON sizes are used as is.

    Returns:
        ``(records, class_names, report)``, records in the order of the JSON's ``images``.

    Raises:
        ValueError: the file has no ``images`` / ``categories`` lists, or duplicate category
            names when ``class_names`` is not given.
    """
    file = str(json_path)
    data = json.loads(Path(json_path).read_text(encoding="utf-8"))
    if not isinstance(data.get("images"), list) or not isinstance(data.get("categories"), list):
        raise ValueError(f"{file}: not a COCO detection file (no 'images'/'categories' list)")
    categories = sorted(data["categories"], key=lambda c: c["id"])
    cat_names = {c["id"]: str(c["name"]).strip() for c in categories}
    if class_names is None:
        names = [cat_names[c["id"]] for c in categories]
        if len(set(names)) != len(names):
            raise ValueError(f"{file}: duplicate category names {names}; pass class_names")
        class_names = names
    class_names = list(class_names)
    ids = {name: i for i, name in enumerate(class_names)}
    report = DatasetReport(class_names)

    by_image: dict[object, list[dict]] = {}
    for ann in data.get("annotations", []):
        by_image.setdefault(ann.get("image_id"), []).append(ann)
    image_ids = {img.get("id") for img in data["images"]}
    for image_id, anns in by_image.items():
        if image_id not in image_ids:
            report.problems.append(
                Problem(
                    "unknown_image",
                    file,
                    f"{len(anns)} annotation(s) for image id {image_id!r} not in 'images': dropped",
                )
            )

    records = []
    for img in data["images"]:
        name = str(img.get("file_name", ""))
        where = f"{file} [{name or img.get('id')}]"
        path = os.path.abspath(Path(image_dir) / name)
        annotated = (_size(img.get("width")), _size(img.get("height")))
        if check_images:
            if not name or not os.path.isfile(path):
                report.problems.append(
                    Problem("missing_image", where, f"no image {path}: image skipped")
                )
                continue
            try:
                width, height = read_image_size(path)
            except Exception as err:  # PIL raises many kinds for broken files
                report.problems.append(
                    Problem("unreadable_image", where, f"cannot read image {path} ({err}): skipped")
                )
                continue
            issue = size_problem(where, name, annotated, (width, height))
            if issue:
                report.problems.append(issue)
        elif None in annotated:
            report.problems.append(
                Problem("bad_coordinates", where, "no valid width/height: image skipped")
            )
            continue
        else:
            width, height = annotated  # type: ignore[assignment]
        boxes, classes = [], []
        for ann in by_image.get(img.get("id"), []):
            label = cat_names.get(ann.get("category_id"))
            what = f"annotation {ann.get('id')} ({label or ann.get('category_id')!r})"
            if ann.get("iscrowd"):
                report.problems.append(Problem("crowd_skipped", where, f"{what}: crowd: skipped"))
                continue
            if label not in ids:
                detail = label if label is not None else f"category_id={ann.get('category_id')}"
                report.problems.append(
                    Problem("unknown_class", where, f"{what}: unknown class: dropped", detail)
                )
                continue
            xyxy = _bbox(ann.get("bbox"))
            if xyxy is None:
                report.problems.append(
                    Problem(
                        "bad_coordinates",
                        where,
                        f"{what}: bbox {ann.get('bbox')!r} is not [x, y, w, h]: dropped",
                    )
                )
                continue
            box, problem = check_box(xyxy, width, height, where, what)
            if problem:
                report.problems.append(problem)
            if box is not None:
                boxes.append(box)
                classes.append(ids[label])  # type: ignore[index]
        if not boxes:
            report.problems.append(
                Problem("no_objects", where, "no objects: image kept as a negative")
            )
        records.append(ImageRecord(path, boxes, classes, [], width, height))
    report.add_split(Path(json_path).stem, records)
    return records, class_names, report
