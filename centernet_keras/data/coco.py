"""COCO ``instances_*.json`` → :class:`ImageRecord` list, validated like the VOC reader."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from centernet_keras.data.annotations import ImageRecord
from centernet_keras.data.problems import (
    DatasetReport,
    Problem,
    check_box,
    read_image_size,
    size_problem,
)

#: Names quoted in a message, at most.
_SHOWN = 10


@dataclass
class CocoRecord(ImageRecord):
    """An :class:`ImageRecord` that remembers the JSON it came from (for the official scorer).

    Attributes:
        image_id: the image's ``id`` in the JSON.
        annotations: the JSON annotations of the record's objects (crowds too, if kept) as
            pycocotools reads them: ``id``, ``image_id``, ``category_id``, ``bbox`` ``[x, y, w,
            h]`` as in the file (not clipped), ``area`` (the file's, the box area if it has
            none) and ``iscrowd``; no segmentation.
        category_ids: the JSON category id of each class id (``None``: no category of that
            name).
        keypoint_spec: the file's ``KeypointSpec`` (keypoints files), else ``None``.
    """

    image_id: object = None
    annotations: list[dict] = field(default_factory=list)
    category_ids: tuple[int | None, ...] = ()
    keypoint_spec: object = None


def _size(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _bbox(value: object) -> list[float] | None:
    """COCO ``[x, y, w, h]`` → ``[x1, y1, x2, y2]``, or ``None`` if malformed."""
    if not isinstance(value, list | tuple) or len(value) != 4:
        return None
    if not all(_number(v) for v in value):
        return None
    x, y, w, h = (float(v) for v in value)
    return [x, y, x + w, y + h]


def _shown(names: Sequence[str]) -> str:
    more = f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else ""
    return f"{list(names[:_SHOWN])}{more}"


def _class_map(
    file: str,
    categories: list[dict],
    annotated: set,
    class_names: Sequence[str] | None,
    report: DatasetReport,
) -> tuple[list[str], tuple[int | None, ...]]:
    """Class names and the category id of each; category findings go into ``report``."""
    names = [str(c["name"]).strip() for c in categories]
    if class_names is None:
        if len(set(names)) != len(names):
            raise ValueError(f"{file}: duplicate category names {_shown(names)}; pass class_names")
        for i, c in enumerate(categories):
            if c["id"] in annotated:
                continue
            shift = " (every later class id is one higher for it)" if i < len(names) - 1 else ""
            report.problems.append(
                Problem(
                    "empty_category",
                    file,
                    f"category {c['id']!r} {names[i]!r} has no annotations but takes class id "
                    f"{i}{shift}: pass class_names (your class list) to match categories by name",
                    names[i],
                )
            )
        return names, tuple(c["id"] for c in categories)
    class_names = list(class_names)
    by_name: dict[str, list] = {}
    for c, name in zip(categories, names, strict=True):
        by_name.setdefault(name, []).append(c["id"])
    if not any(name in by_name for name in class_names):
        raise ValueError(
            f"{file}: none of the classes {_shown(class_names)} is a category of the file "
            f"(its categories: {_shown(names)}): wrong class list?"
        )
    category_ids = []
    for name in class_names:
        ids = by_name.get(name, [])
        if len(ids) > 1:
            raise ValueError(f"{file}: categories {ids} are all named {name!r}")
        if not ids:
            report.problems.append(
                Problem(
                    "missing_category",
                    file,
                    f"class {name!r} is not a category of the file: no objects of it",
                    name,
                )
            )
        category_ids.append(ids[0] if ids else None)
    return class_names, tuple(category_ids)


def _official(
    ann: dict, image_id: object, bbox: list, new_id: int, joints: np.ndarray | None = None
) -> dict:
    """An annotation as the official scorer reads it (no segmentation; defaults filled in).

    ``joints`` ``[K, 3]`` (the validated keypoints) adds ``keypoints`` and ``num_keypoints``.
    """
    area = ann.get("area")
    official = {
        "id": ann["id"] if isinstance(ann.get("id"), int) else new_id,
        "image_id": image_id,
        "category_id": ann["category_id"],
        "bbox": [float(v) for v in bbox],
        "area": float(area) if _number(area) else float(bbox[2]) * float(bbox[3]),
        "iscrowd": int(bool(ann.get("iscrowd"))),
    }
    if joints is not None:
        official["keypoints"] = [float(v) for v in joints.reshape(-1)]
        official["num_keypoints"] = int((joints[:, 2] > 0).sum())
    return official


def _keypoint_spec(file: str, categories: list[dict], category_ids: Sequence[int | None]):
    """The ``KeypointSpec`` of the classes' keypoint categories, or ``None`` if none has any."""
    from centernet_keras.keypoints import KeypointSpec

    by_id = {c["id"]: c for c in categories}
    named = [by_id[i] for i in category_ids if i is not None and by_id[i].get("keypoints")]
    if not named:
        return None
    counts = sorted({len(c["keypoints"]) for c in named})
    if len(counts) > 1:
        raise ValueError(
            f"{file}: the keypoint categories have different joint counts {counts}: "
            f"pass class_names to choose categories with one joint set"
        )
    try:
        return KeypointSpec.from_coco_category(named[0])
    except ValueError as err:
        raise ValueError(f"{file}: category {named[0].get('name')!r}: {err}") from err


def align_joints(records: Sequence[CocoRecord], names: Sequence[str], file: str) -> bool:
    """Put the joints of records read from a keypoints file in the order of ``names`` (a
    model's), matched by name: records' ``keypoints``, their annotations' ``keypoints`` (what
    the OKS metric scores) and ``keypoint_spec`` (sigmas move with their joints). In place.

    Returns:
        Whether the order changed (``False``: the file already lists ``names`` in order).

    Raises:
        ValueError: the file's joint names are not ``names`` (one line naming ``file`` and the
            names found in only one of them).
    """
    spec = records[0].keypoint_spec if records else None
    if spec is None or tuple(spec.names) == tuple(names):
        return False
    if sorted(spec.names) != sorted(names):
        only_file = [n for n in spec.names if n not in names]
        only_model = [n for n in names if n not in spec.names]
        raise ValueError(
            f"{file}: its {spec.num_joints} joints are not the model's {len(names)}: only in the "
            f"file {only_file}, only in the model {only_model}"
        )
    order = [spec.names.index(name) for name in names]
    aligned = spec.reordered(names)
    for record in records:
        record.keypoints = record.keypoints[:, order]
        record.keypoint_spec = aligned
        for ann in record.annotations:
            if "keypoints" in ann:
                joints = np.reshape(ann["keypoints"], (-1, 3))[order]
                ann["keypoints"] = [float(v) for v in joints.reshape(-1)]
    return True


def _joints(value: object, num_joints: int) -> tuple[np.ndarray, str | None]:
    """COCO ``keypoints`` ``[x1, y1, v1, ...]`` → ``[K, 3]`` float32 and a problem (or None).

    Malformed (wrong length, non-numbers): all joints unlabelled. A joint with a non-finite
    coordinate or a visibility other than 0, 1, 2 is unlabelled and reported.
    """
    joints = np.zeros((num_joints, 3), np.float32)
    if value is None:
        return joints, f"no keypoints (want {3 * num_joints} numbers)"
    if not isinstance(value, list | tuple) or len(value) != 3 * num_joints:
        size = len(value) if isinstance(value, list | tuple) else type(value).__name__
        return joints, f"keypoints has {size} values, want {3 * num_joints}: joints unlabelled"
    if not all(_number(v) for v in value):
        return joints, "keypoints has non-numbers: joints unlabelled"
    joints = np.asarray(value, np.float32).reshape(num_joints, 3)
    bad = ~np.isin(joints[:, 2], (0, 1, 2)) | ~np.isfinite(joints).all(axis=1)
    joints[bad] = 0
    if bad.any():
        return joints, f"joints {np.flatnonzero(bad).tolist()} malformed: unlabelled"
    return joints, None


def read_coco(
    json_path: str | os.PathLike,
    image_dir: str | os.PathLike,
    class_names: Sequence[str] | None = None,
    check_images: bool = True,
    keep_crowd: bool = False,
) -> tuple[list[CocoRecord], list[str], DatasetReport]:
    """Read a COCO detection or keypoints file into records.

    ``bbox`` ``[x, y, w, h]`` becomes ``[x1, y1, x2, y2]``. Without ``class_names``, category
    ids map to 0-based contiguous ids in ascending category-id order (COCO's 80 classes →
    0..79); a category without annotations (a dummy supercategory, as in Roboflow exports)
    still takes a class id and is reported (``empty_category``). With ``class_names``,
    categories map by name, annotations of other categories are dropped and reported, and a
    class that no category has is reported (``missing_category``). ``iscrowd`` objects are
    skipped and counted (training), or with ``keep_crowd`` kept with the *difficult* flag, an
    object to ignore (evaluation). Images without annotations are kept. Boxes are validated like
    VOC boxes (:func:`~.problems.check_box`).

    A keypoints file (``person_keypoints_*.json``: categories with ``keypoints`` joint names)
    also gives each record ``keypoints`` ``[N, K, 3]`` (``(x, y, v)`` as stored; an object of a
    category without joints, or with malformed ones (``bad_keypoints``), has all ``v = 0``) and
    the report its ``keypoint_spec`` (names, flip pairs, skeleton and OKS sigmas of
    ``KeypointSpec.from_coco_category``). People with no labelled joint are kept, as in the
    CenterNet reference (their boxes are trained on, their joints are not).

    Args:
        json_path: the ``instances_*.json`` file.
        image_dir: folder the images' ``file_name`` is relative to; record paths are absolute.
        class_names: optional class list fixing the class ids.
        check_images: open each image header: missing or unreadable images are skipped and the
            real size is trusted over the JSON's. Without it the JSON sizes are used as is.
        keep_crowd: keep ``iscrowd`` objects, flagged difficult.

    Returns:
        ``(records, class_names, report)``, records (:class:`CocoRecord`) in the order of the
        JSON's ``images``.

    Raises:
        ValueError: the file has no ``images`` / ``categories`` lists; duplicate category names
            when ``class_names`` is not given, or a class name that several categories have;
            no class of ``class_names`` is a category; or none of the file's images is found in
            ``image_dir``; the kept keypoint categories have different joint counts.
    """
    file = str(json_path)
    data = json.loads(Path(json_path).read_text(encoding="utf-8"))
    if not isinstance(data.get("images"), list) or not isinstance(data.get("categories"), list):
        raise ValueError(f"{file}: not a COCO detection file (no 'images'/'categories' list)")
    categories = sorted(data["categories"], key=lambda c: c["id"])
    cat_names = {c["id"]: str(c["name"]).strip() for c in categories}
    annotations = data.get("annotations", [])
    annotated = {ann.get("category_id") for ann in annotations}
    report = DatasetReport([])
    class_names, category_ids = _class_map(file, categories, annotated, class_names, report)
    report.class_names = class_names
    spec = report.keypoint_spec = _keypoint_spec(file, categories, category_ids)
    num_joints = spec.num_joints if spec is not None else 0
    with_joints = {c["id"] for c in categories if c.get("keypoints")}
    ids = {name: i for i, name in enumerate(class_names)}
    next_id = 1 + max((a["id"] for a in annotations if isinstance(a.get("id"), int)), default=0)

    by_image: dict[object, list[dict]] = {}
    for ann in annotations:
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
        annotated_size = (_size(img.get("width")), _size(img.get("height")))
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
            issue = size_problem(where, name, annotated_size, (width, height))
            if issue:
                report.problems.append(issue)
        elif None in annotated_size:
            report.problems.append(
                Problem("bad_coordinates", where, "no valid width/height: image skipped")
            )
            continue
        else:
            width, height = annotated_size  # type: ignore[assignment]
        boxes, classes, crowds, official, joints = [], [], [], [], []
        for ann in by_image.get(img.get("id"), []):
            label = cat_names.get(ann.get("category_id"))
            what = f"annotation {ann.get('id')} ({label or ann.get('category_id')!r})"
            crowd = bool(ann.get("iscrowd"))
            if crowd and not keep_crowd:
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
            if box is None:
                continue
            person, official_joints = np.zeros((num_joints, 3), np.float32), None
            if num_joints and ann.get("category_id") in with_joints:
                person, trouble = _joints(ann.get("keypoints"), num_joints)
                official_joints = person
                if trouble and not crowd:  # crowd regions carry no joints
                    report.problems.append(Problem("bad_keypoints", where, f"{what}: {trouble}"))
            boxes.append(box)
            classes.append(ids[label])  # type: ignore[index]
            crowds.append(crowd)
            joints.append(person)
            official.append(_official(ann, img.get("id"), ann["bbox"], next_id, official_joints))
            next_id += 1
        if not boxes:
            report.problems.append(
                Problem("no_objects", where, "no objects: image kept as a negative")
            )
        records.append(
            CocoRecord(
                path,
                boxes,
                classes,
                crowds,
                width,
                height,
                keypoints=np.asarray(joints, np.float32).reshape(len(boxes), num_joints, 3),
                image_id=img.get("id"),
                annotations=official,
                category_ids=category_ids,
                keypoint_spec=spec,
            )
        )
    if check_images and data["images"] and not records:
        missing = report.counts()["missing_image"] == len(data["images"])
        raise ValueError(
            f"{file}: none of the {len(data['images'])} images "
            f"{'found' if missing else 'readable'} under {image_dir} "
            f"(the first is {data['images'][0].get('file_name')!r}): wrong image_dir?"
        )
    report.add_split(Path(json_path).stem, records)
    return records, class_names, report
