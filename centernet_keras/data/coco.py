"""COCO ``instances_*.json`` → :class:`ImageRecord` list, validated like the VOC reader.

The reading loop; its parts live beside it: the file's structure (``coco_format``), the record
and the fields of one entry (``coco_fields``), categories → classes (``coco_classes``),
keypoints (``coco_joints``), where missing images are (``coco_images``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from centernet_keras.data.coco_classes import class_map
from centernet_keras.data.coco_fields import (
    CocoRecord,
    official_annotation,
    read_bbox,
    read_crowd,
    read_size,
    shown,
)
from centernet_keras.data.coco_format import describe, load_coco_json
from centernet_keras.data.coco_images import missing_images_hint
from centernet_keras.data.coco_joints import (
    align_joints,
    category_keypoint_spec,
    joints_on_image,
    read_joints,
)
from centernet_keras.data.problems import (
    DatasetReport,
    Problem,
    check_box,
    read_image_size,
    size_problem,
)
from centernet_keras.text import setting_name

__all__ = ["CocoRecord", "align_joints", "read_coco"]


def _repeated_ids(
    file: str, images: list[dict], by_image: dict[object, list[dict]], report: DatasetReport
) -> set[int]:
    """Indices of the ``images`` entries skipped for an ``id`` that another entry has too; one
    ``duplicate_image`` problem each.

    Annotations name their image by id alone, so two images with one id cannot be told apart:
    reading both would give each the other's objects (a wrong box on every one), which no
    later step could notice. Repeats of one file (the same ``file_name``) are one image listed
    twice: the first entry is kept with all of the id's annotations. Different files: every
    entry of the id is skipped with its annotations, and reported, so the rest of the file is
    still read (a merged export whose ids all collide skips every image: the run stops).
    """
    entries: dict[object, list[int]] = {}
    for i, img in enumerate(images):
        entries.setdefault(img["id"], []).append(i)
    skipped: set[int] = set()
    for image_id, where in entries.items():
        if len(where) < 2:
            continue
        names = [images[i].get("file_name", "") for i in where]
        same = len(set(names)) == 1
        anns = len(by_image.get(image_id, []))
        for k, i in enumerate(where):
            if same and k == 0:
                continue
            skipped.add(i)
            entry = f"images[{i}]"
            if same:
                message = f"{entry} repeats {names[0]!r} with its id {image_id!r}: skipped"
            else:
                message = (
                    f"{entry} shares id {image_id!r} with {len(where) - 1} other image(s) "
                    f"({shown(names)}): which of them its {anns} annotation(s) belong to is "
                    "unknown: skipped, with the annotations"
                )
            report.problems.append(
                Problem("duplicate_image", f"{file} [{names[k] or image_id}]", message)
            )
    return skipped


def _nothing_usable(
    file: str,
    images: list[dict],
    image_dir: object,
    report: DatasetReport,
    flags: Mapping[str, str] | None = None,
) -> str:
    """The message when no image of the file could be read (``flags`` name the settings)."""
    counts = report.counts()
    kinds = ("missing_image", "unreadable_image", "duplicate_image")
    why = ", ".join(f"{counts[k]} {k}" for k in kinds if counts[k])
    first = images[0].get("file_name")
    if counts["missing_image"] == len(images):
        return (
            f"{file}: none of the {len(images)} images found under {image_dir} (the first is "
            f"{first!r}): {missing_images_hint(images, image_dir, flags)}"
        )
    if counts["duplicate_image"]:
        return f"{file}: none of the {len(images)} images is usable ({why})"
    return (
        f"{file}: none of the {len(images)} images readable under {image_dir} ({why}; the first "
        f"is {first!r}): wrong {setting_name('image_dir', flags)}?"
    )


def read_coco(
    json_path: str | os.PathLike,
    image_dir: str | os.PathLike,
    class_names: Sequence[str] | None = None,
    check_images: bool = True,
    keep_crowd: bool = False,
    flags: Mapping[str, str] | None = None,
    data: Mapping | None = None,
) -> tuple[list[CocoRecord], list[str], DatasetReport]:
    """Read a COCO detection or keypoints file into records.

    ``bbox`` ``[x, y, w, h]`` becomes ``[x1, y1, x2, y2]``. Without ``class_names``, category
    ids map to 0-based contiguous ids in ascending category-id order (COCO's 80 classes →
    0..79); a category without annotations (a dummy supercategory, as in Roboflow exports)
    still takes a class id and is reported (``empty_category``). With ``class_names``,
    categories map by name, annotations of other categories are dropped and reported, and a
    class that no category has is reported (``missing_category``). ``iscrowd`` objects are
    skipped and counted (training), or with ``keep_crowd`` kept with the *difficult* flag, an
    object to ignore (evaluation); an ``iscrowd`` other than ``0``/``1`` (``"no"``, ``2``,
    ``null``) is reported (``bad_crowd``) and read as ``0``. Images without annotations are
    kept. Boxes are validated like VOC boxes (:func:`~.problems.check_box`).

    The file's structure is checked first (:func:`~.coco_format.load_coco_json`: one line
    naming the file, the entry and the field). What concerns one image or object is reported
    and counted, and the rest read: images sharing an id (``duplicate_image``: see
    ``_repeated_ids``), missing or unreadable image files, annotations of an unknown image or
    class, malformed boxes and keypoints.

    A keypoints file (``person_keypoints_*.json``: categories with ``keypoints`` joint names)
    also gives each record ``keypoints`` ``[N, K, 3]`` (``(x, y, v)`` as stored; an object of a
    category without joints, or with malformed ones (``bad_keypoints``), has all ``v = 0``; a
    labelled joint outside the image is reported (``bad_keypoints``) and unlabelled there, kept
    for the scorer) and the report its ``keypoint_spec`` (names, flip pairs, skeleton and OKS
    sigmas of ``KeypointSpec.from_coco_category``). People with no labelled joint are kept, as
    in the CenterNet reference (their boxes are trained on, their joints are not).

    Args:
        json_path: the ``instances_*.json`` file.
        image_dir: folder the images' ``file_name`` is relative to; record paths are absolute.
        class_names: optional class list fixing the class ids.
        check_images: open each image header: missing or unreadable images are skipped and the
            real size is trusted over the JSON's. Without it the JSON sizes are used as is.
        keep_crowd: keep ``iscrowd`` objects, flagged difficult.
        flags: how the messages name ``image_dir`` and ``class_names``: a command's flags
            (``{"image_dir": "--images", "class_names": "--classes"}``); by default the
            parameter names (``image_dir=``).
        data: the file's content as :func:`~.coco_format.load_coco_json` returned it, when
            the caller has read (and so checked) it already: the file is not read again.

    Returns:
        ``(records, class_names, report)``, records (:class:`CocoRecord`) in the order of the
        JSON's ``images``.

    Raises:
        CocoFormatError: (a ``ValueError``) not JSON, or not shaped as COCO (see
            :mod:`~.coco_format`).
        ValueError: duplicate category names when ``class_names`` is not given, or a class
            name that several categories have; no class of ``class_names`` is a category; none
            of the file's images is found in ``image_dir`` or usable (when none is found,
            the message names the folder one level up or down that holds them, if one does:
            ``did you mean --images DIR?``); the kept keypoint
            categories have different joint counts or malformed ``flip_pairs``.
        OSError: the file cannot be read.
    """
    file = str(json_path)
    if data is None:
        data = load_coco_json(json_path)
    images, annotations = data["images"], data.get("annotations", [])
    categories = sorted(data["categories"], key=lambda c: c["id"])
    cat_names = {c["id"]: c["name"].strip() for c in categories}
    annotated = {ann["category_id"] for ann in annotations}
    report = DatasetReport([])
    class_names, category_ids = class_map(file, categories, annotated, class_names, report, flags)
    report.class_names = class_names
    spec = report.keypoint_spec = category_keypoint_spec(file, categories, category_ids, flags)
    num_joints = spec.num_joints if spec is not None else 0
    with_joints = {c["id"] for c in categories if c.get("keypoints")}
    ids = {name: i for i, name in enumerate(class_names)}
    next_id = 1 + max((a["id"] for a in annotations if isinstance(a.get("id"), int)), default=0)

    by_image: dict[object, list[dict]] = {}
    for ann in annotations:
        by_image.setdefault(ann["image_id"], []).append(ann)
    image_ids = {img["id"] for img in images}
    for image_id, anns in by_image.items():
        if image_id not in image_ids:
            report.problems.append(
                Problem(
                    "unknown_image",
                    file,
                    f"{len(anns)} annotation(s) for image id {image_id!r} not in 'images': dropped",
                )
            )
    repeated = _repeated_ids(file, images, by_image, report)

    records = []
    for i, img in enumerate(images):
        if i in repeated:
            continue
        name = img.get("file_name", "")
        where = f"{file} [{name or img['id']}]"
        path = os.path.abspath(Path(image_dir) / name)
        annotated_size = (read_size(img.get("width")), read_size(img.get("height")))
        if not name:
            report.problems.append(
                Problem("missing_image", where, f"images[{i}] has no file_name: image skipped")
            )
            continue
        if check_images:
            if not os.path.isfile(path):
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
        elif None in annotated_size or min(annotated_size) < 1:  # type: ignore[type-var]
            report.problems.append(
                Problem("bad_coordinates", where, "no valid width/height: image skipped")
            )
            continue
        else:
            width, height = annotated_size  # type: ignore[assignment]
        boxes, classes, crowds, official, joints = [], [], [], [], []
        for ann in by_image.get(img["id"], []):
            label = cat_names.get(ann["category_id"])
            what = f"annotation {ann.get('id')} ({label or ann['category_id']!r})"
            crowd, well_formed = read_crowd(ann.get("iscrowd", 0))
            if not well_formed:
                report.problems.append(
                    Problem(
                        "bad_crowd",
                        where,
                        f"{what}: iscrowd {describe(ann['iscrowd'])} is not 0 or 1: read as 0 "
                        "(not a crowd: trained on and scored)",
                    )
                )
            if crowd and not keep_crowd:
                report.problems.append(Problem("crowd_skipped", where, f"{what}: crowd: skipped"))
                continue
            if label not in ids:
                detail = label if label is not None else f"category_id={ann['category_id']}"
                report.problems.append(
                    Problem("unknown_class", where, f"{what}: unknown class: dropped", detail)
                )
                continue
            xyxy = read_bbox(ann.get("bbox"))
            if xyxy is None:
                report.problems.append(
                    Problem(
                        "bad_coordinates",
                        where,
                        f"{what}: bbox {describe(ann.get('bbox'))} is not [x, y, w, h]: dropped",
                    )
                )
                continue
            box, problem = check_box(xyxy, width, height, where, what)
            if problem:
                report.problems.append(problem)
            if box is None:
                continue
            person, official_joints = np.zeros((num_joints, 3), np.float32), None
            if num_joints and ann["category_id"] in with_joints:
                official_joints, trouble = read_joints(ann.get("keypoints"), num_joints)
                person, outside = joints_on_image(official_joints, width, height)
                trouble = "; ".join(t for t in (trouble, outside) if t)
                if trouble and not crowd:  # crowd regions carry no joints
                    report.problems.append(Problem("bad_keypoints", where, f"{what}: {trouble}"))
            boxes.append(box)
            classes.append(ids[label])  # type: ignore[index]
            crowds.append(crowd)
            joints.append(person)
            official.append(
                official_annotation(ann, img["id"], ann["bbox"], next_id, crowd, official_joints)
            )
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
                image_id=img["id"],
                annotations=official,
                category_ids=category_ids,
                keypoint_spec=spec,
            )
        )
    if check_images and images and not records:
        raise ValueError(_nothing_usable(file, images, image_dir, report, flags))
    report.add_split(Path(json_path).stem, records)
    return records, class_names, report
