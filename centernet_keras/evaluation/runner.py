"""Run a detector over a split, collect its detections, and write the mAP reports.

A split is a list of ``ImageRecord`` (image path, boxes, classes, difficult flags) from an
annotation-lines file (``2007_val.txt``; difficult = the ``,1`` field), from VOC
``ImageSets/Main/<split>.txt`` + ``Annotations`` XML (difficult objects kept and flagged), or
from a COCO ``instances_*.json`` (``iscrowd`` objects kept and flagged like difficult ones;
the COCO metric scores the JSON itself, and ``coco_results.json`` is written), or from a TFDS
split (``voc/2007:test``; difficult and crowd objects flagged, images read from its files).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from centernet_keras.data.annotations import (
    ImageRecord,
    drop_out_of_range_classes,
    read_annotation_file,
)
from centernet_keras.data.classes import class_list_difference
from centernet_keras.data.coco import CocoRecord, read_coco
from centernet_keras.data.image_io import load_image
from centernet_keras.data.problems import QUIET_KINDS
from centernet_keras.data.tfds_source import read_tfds
from centernet_keras.data.voc import read_voc_split
from centernet_keras.detections import Detections
from centernet_keras.evaluation import KEYPOINT_METRIC, METRICS, evaluate
from centernet_keras.evaluation.coco import coco_results
from centernet_keras.evaluation.plots import format_table, plot_pr_curves, write_summary
from centernet_keras.evaluation.triage import TRIAGE_BELOW_MAP, diagnose, report_lines
from centernet_keras.io import atomic_write_text
from centernet_keras.text import setting_name

#: Default score threshold for mAP: low, so the precision–recall curve reaches high recall.
MAP_CONFIDENCE = 0.01


def load_split(
    class_names: Sequence[str],
    annotation_file: str | os.PathLike | None = None,
    voc_root: str | os.PathLike | None = None,
    year: str | int = 2007,
    split: str = "test",
    coco_json: str | os.PathLike | None = None,
    image_dir: str | os.PathLike | None = None,
    root: str | os.PathLike | None = None,
    flags: Mapping[str, str] | None = None,
    coco_data: Mapping | None = None,
    tfds: str | None = None,
    data_dir: str | os.PathLike | None = None,
) -> tuple[list[ImageRecord], list[str]]:
    """Read the records of one split from exactly one source.

    Args:
        class_names: the model's classes (VOC names are mapped to ids with them; a COCO file
            must use the same names).
        annotation_file: an annotation-lines file; relative paths resolve against ``root``.
        voc_root: folder holding ``VOC<year>``; with ``year`` and ``split``.
        coco_json: a COCO detection file; with ``image_dir``.
        flags: how the messages name the sources and ``image_dir``: a command's flags
            (``{"coco_json": "--coco-json", ...}``); by default the parameter names.
        coco_data: ``coco_json``'s content, if the caller has read it already (with
            :func:`~centernet_keras.data.coco_format.load_coco_json`): not read again.
        tfds: a TFDS split ``NAME:SPLIT`` prepared in ``data_dir``
            (:func:`~centernet_keras.data.tfds_source.read_tfds`; its classes must be
            ``class_names``; crowd objects kept, flagged difficult).

    Returns:
        ``(records, problems)``: messages about skipped lines, images or objects, and about
        boxes dropped for a class id outside the model's classes (images without objects are
        not listed). COCO records are :class:`~centernet_keras.data.coco.CocoRecord` with
        their crowd objects flagged difficult.

    Raises:
        ValueError: no source or more than one; a split without images; COCO: see
            :func:`~centernet_keras.data.coco.read_coco`.
        OSError: a file is missing or unreadable.
    """
    given = [s is not None for s in (annotation_file, voc_root, coco_json, tfds)]
    if sum(given) != 1:
        sources = ", ".join(
            setting_name(s, flags) for s in ("annotation_file", "voc_root", "coco_json", "tfds")
        )
        raise ValueError(f"give exactly one of {sources}")
    quiet = {*QUIET_KINDS, "no_objects"}  # counted by the readers, normal in a test split
    if annotation_file is not None:
        source = annotation_file
        records, problems = read_annotation_file(annotation_file, root)
    elif tfds is not None:
        source = tfds
        records, problems = _read_tfds_split(tfds, data_dir, class_names, flags)
    elif voc_root is not None:
        source = voc_root
        records, found = read_voc_split(voc_root, year, split, class_names, keep_difficult=True)
        problems = [str(p) for p in found if p.kind not in quiet]
    else:
        if image_dir is None:
            raise ValueError(
                f"{setting_name('coco_json', flags)} needs {setting_name('image_dir', flags)} "
                "(its image folder)"
            )
        source = coco_json
        records, _, report = read_coco(
            coco_json, image_dir, class_names, keep_crowd=True, flags=flags, data=coco_data
        )
        problems = [str(p) for p in report.problems if p.kind not in quiet]
    problems += drop_out_of_range_classes(records, len(class_names))[1]
    if not records:
        raise ValueError(f"{source}: no images to evaluate")
    return records, problems


def _read_tfds_split(
    spec: str,
    data_dir: str | os.PathLike | None,
    class_names: Sequence[str],
    flags: Mapping[str, str] | None,
) -> tuple[list[ImageRecord], list[str]]:
    """The records of a TFDS split for evaluation; its classes must be ``class_names``."""
    flag = setting_name("tfds", flags)
    data_dir = None if data_dir is None else os.fspath(data_dir)
    records, names, found = read_tfds(spec, data_dir, flag, keep_crowd=True)
    difference = class_list_difference(names, class_names, spec, "the model")
    if difference:
        raise ValueError(f"{flag} {spec} has other classes than the model: {difference}")
    return records, [str(p) for p in found]


def collect_detections(
    detector: Callable[[np.ndarray], Detections],
    records: Sequence[ImageRecord],
    class_names: Sequence[str],
    progress: bool = True,
    on_image: Callable[[int, np.ndarray, Detections], None] | None = None,
    label: str | None = None,
) -> tuple[dict, list[dict], list[str]]:
    """Run ``detector`` on every image of a split (``progress``: a progress bar on stderr,
    ``label`` its prefix).

    Image ids are ``1..N`` in record order; image sizes are those of the decoded (EXIF-rotated)
    image. An image that cannot be read is left out of ground truth and detections alike.
    Records read from a COCO json (:class:`~centernet_keras.data.coco.CocoRecord`) also give
    the ground truth its ``coco_json`` entry (the JSON's images, annotations and categories of the
    evaluated images; see :func:`~centernet_keras.evaluation.coco.evaluate_coco`).
    ``on_image(image_id, rgb, detections)``, if given, sees each read image and its detections
    (e.g. to draw some of them without running the detector again).

    Returns:
        ``(ground_truth, detections, failures)``: the plain records of ``evaluation``
        (ground truth with ``classes``) and one message per unreadable image.

    Raises:
        ValueError: a ground-truth class id outside ``0..len(class_names) - 1``.
    """
    from tqdm import tqdm

    for record in records:
        if len(record.classes) and (
            record.classes.min() < 0 or record.classes.max() >= len(class_names)
        ):
            raise ValueError(
                f"{record.path}: class id {int(record.classes.max())} in the annotations, but "
                f"the model has {len(class_names)} classes: wrong classes file or annotations?"
            )
    coco = _coco_entry(records, class_names)
    images, gt, detections, failures = [], [], [], []
    bar = tqdm(records, desc=label, unit="img", disable=not progress)
    for image_id, record in enumerate(bar, 1):
        try:
            rgb = load_image(record.path)
        except (OSError, ValueError, SyntaxError) as err:
            failures.append(f"{record.path}: {type(err).__name__}: {err}")
            continue
        height, width = rgb.shape[:2]
        images.append({"id": image_id, "width": int(width), "height": int(height)})
        if coco is not None:
            images[-1]["coco_id"] = record.image_id
            coco["images"].append({"id": record.image_id, "width": width, "height": height})
            coco["annotations"] += record.annotations
        for box, cls, diff in zip(record.boxes, record.classes, record.difficult, strict=True):
            gt.append(
                {
                    "image_id": image_id,
                    "bbox": [float(v) for v in box],
                    "class": int(cls),
                    "difficult": int(bool(diff)),
                }
            )
        found = detector(rgb)
        if on_image is not None:
            on_image(image_id, rgb, found)
        detections += found.to_records(image_id)
    ground_truth = {"classes": list(class_names), "images": images, "gt": gt}
    if coco is not None:
        ground_truth["coco_json"] = coco
    return ground_truth, detections, failures


def _coco_entry(records: Sequence[ImageRecord], class_names: Sequence[str]) -> dict | None:
    """The empty ``coco_json`` ground-truth entry of records read from one COCO json, else None."""
    if not records or not all(isinstance(r, CocoRecord) for r in records):
        return None
    category_ids = records[0].category_ids
    if any(r.category_ids != category_ids for r in records) or len(category_ids) != len(
        class_names
    ):
        raise ValueError("COCO records of different files or class lists cannot be mixed")
    categories = [
        {"id": i, "name": str(name)}
        for i, name in zip(category_ids, class_names, strict=True)
        if i is not None
    ]
    entry = {"images": [], "annotations": [], "categories": categories}
    spec = records[0].keypoint_spec
    if spec is not None:  # a keypoints file: the joints the OKS metric scores
        entry["keypoint_spec"] = spec.get_config()
    return {**entry, "category_ids": list(category_ids)}


def evaluate_detections(
    ground_truth: Mapping,
    detections: Sequence[Mapping],
    output_dir: str | os.PathLike,
    metrics: Sequence[str] = METRICS,
    extra: Mapping | None = None,
    data_classes: Sequence[str] | None = None,
) -> tuple[dict, str]:
    """Evaluate and write the reports into ``output_dir``.

    Below an mAP of ``triage.TRIAGE_BELOW_MAP`` (the first of ``METRICS`` computed), the
    summary's ``"triage"`` holds ``triage.diagnose``'s findings and the ``lines`` to print
    (``data_classes``: the data's class names where it names them; ``extra``'s
    ``score_threshold``, default ``MAP_CONFIDENCE``).

    Files: ``summary.json`` (every metric, ``extra`` on top), ``per_class.txt`` (the table),
    ``coco_summary.txt`` (pycocotools' text), ``keypoints_summary.txt`` (the same for the
    ``"keypoints"`` metric, OKS AP), ``pr_curves/pr_<class>.png`` (VOC all-point
    curves, or VOC07 if that is the only VOC metric), ``detections.json`` (the records, to
    re-evaluate without the model) and, for ground truth read from a COCO json,
    ``coco_results.json`` (the detections in the official results format, on the JSON's image
    and category ids: re-score them with pycocotools or submit them).

    Returns:
        ``(summary dict, table text)``.
    """
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    results = {m: evaluate(ground_truth, detections, m) for m in metrics}
    table = format_table(results) if set(results) & set(METRICS) else ""
    atomic_write_text(out / "per_class.txt", table + "\n")
    if "coco" in results:
        atomic_write_text(out / "coco_summary.txt", results["coco"].summary_text + "\n")
    if KEYPOINT_METRIC in results:
        text = results[KEYPOINT_METRIC].summary_text
        atomic_write_text(out / "keypoints_summary.txt", text + "\n")
    voc = results.get("voc") or results.get("voc07")
    if voc is not None:
        plot_pr_curves(voc, out / "pr_curves")
    payload = {"ground_truth": dict(ground_truth), "detections": list(detections)}
    atomic_write_text(out / "detections.json", json.dumps(payload) + "\n")
    if "coco_json" in ground_truth:
        official = coco_results(ground_truth, detections)
        atomic_write_text(out / "coco_results.json", json.dumps(official) + "\n")
    info = {
        **(extra or {}),
        "num_images": len(ground_truth["images"]),
        "num_gt": len(ground_truth["gt"]),
        "num_detections": len(detections),
    }
    mean_ap = next((results[m].mean_ap for m in METRICS if m in results), None)
    if mean_ap is not None and 0.0 <= mean_ap < TRIAGE_BELOW_MAP:  # why: evaluation.triage
        threshold = info.get("score_threshold", MAP_CONFIDENCE)
        found = diagnose(ground_truth, detections, threshold, data_classes=data_classes)
        info["triage"] = {"findings": [f.to_dict() for f in found],
                          "lines": report_lines(found, mean_ap)}  # fmt: skip
    summary = write_summary(out / "summary.json", results, info)
    return summary, table


def evaluate_split(
    detector: Callable[[np.ndarray], Detections],
    records: Sequence[ImageRecord],
    class_names: Sequence[str],
    output_dir: str | os.PathLike,
    metrics: Sequence[str] = METRICS,
    extra: Mapping | None = None,
    progress: bool = True,
    data_classes: Sequence[str] | None = None,
) -> tuple[dict, str, list[str]]:
    """``collect_detections`` then ``evaluate_detections`` (``data_classes``: see there).

    Returns:
        ``(summary dict, per-class table text, failures)``; the summary also records the run
        time and the images that could not be read.
    """
    start = time.perf_counter()
    ground_truth, detections, failures = collect_detections(
        detector, records, class_names, progress
    )
    if not ground_truth["images"]:
        raise ValueError(f"none of the {len(records)} images could be read: {failures[:3]}")
    extra = {**(extra or {}), "seconds": round(time.perf_counter() - start, 2)}
    extra["unreadable_images"] = failures
    summary, table = evaluate_detections(
        ground_truth, detections, output_dir, metrics, extra, data_classes
    )
    return summary, table, failures
