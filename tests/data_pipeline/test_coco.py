"""COCO instances JSON → records: bbox conversion, category mapping, crowd, bad input."""

import json

import numpy as np
import pytest
from PIL import Image

from centernet_keras.data.coco import read_coco


def write_coco(tmp_path, annotations, images=None, categories=None):
    image_dir = tmp_path / "images"
    image_dir.mkdir(exist_ok=True)
    images = images or [
        {"id": 1, "file_name": "a.jpg", "width": 40, "height": 30},
        {"id": 2, "file_name": "b.jpg", "width": 40, "height": 30},
    ]
    for img in images:
        Image.new("RGB", (40, 30)).save(image_dir / img["file_name"])
    categories = categories or [
        {"id": 7, "name": "dog"},
        {"id": 1, "name": "person"},
        {"id": 3, "name": "cat"},
    ]
    for i, ann in enumerate(annotations, 100):
        ann.setdefault("id", i)
        ann.setdefault("iscrowd", 0)
    path = tmp_path / "instances_val.json"
    data = {"images": images, "annotations": annotations, "categories": categories}
    path.write_text(json.dumps(data))
    return path, image_dir


def test_bbox_and_category_mapping(tmp_path):
    path, image_dir = write_coco(
        tmp_path,
        [
            {"image_id": 1, "category_id": 7, "bbox": [2, 3, 10, 5.5]},
            {"image_id": 1, "category_id": 1, "bbox": [0, 0, 40, 30]},
            {"image_id": 1, "category_id": 3, "bbox": [1, 1, 4, 4], "iscrowd": 1},
        ],
    )
    records, names, report = read_coco(path, image_dir)
    assert names == ["person", "cat", "dog"]  # ascending category id
    assert [r.path for r in records] == [str(image_dir / "a.jpg"), str(image_dir / "b.jpg")]
    np.testing.assert_allclose(records[0].boxes, [[2, 3, 12, 8.5], [0, 0, 40, 30]])
    np.testing.assert_array_equal(records[0].classes, [2, 0])
    assert records[1].boxes.shape == (0, 4)  # no annotations: kept
    assert report.counts() == {"crowd_skipped": 1, "no_objects": 1}
    assert report.objects["instances_val"] == [1, 0, 1]


def test_given_class_names_drop_and_report_others(tmp_path):
    path, image_dir = write_coco(
        tmp_path,
        [
            {"image_id": 1, "category_id": 7, "bbox": [2, 3, 10, 5]},
            {"image_id": 2, "category_id": 1, "bbox": [2, 3, 10, 5]},
            {"image_id": 2, "category_id": 99, "bbox": [2, 3, 10, 5]},
        ],
    )
    records, names, report = read_coco(path, image_dir, class_names=["dog", "cat"])
    assert names == ["dog", "cat"]
    np.testing.assert_array_equal(records[0].classes, [0])
    assert records[1].classes.size == 0
    unknown = [p for p in report.problems if p.kind == "unknown_class"]
    assert [p.detail for p in unknown] == ["person", "category_id=99"]
    assert all("b.jpg" in p.file and "instances_val.json" in p.file for p in unknown)


def test_bad_boxes_and_images(tmp_path):
    images = [
        {"id": 1, "file_name": "a.jpg", "width": 40, "height": 30},
        {"id": 2, "file_name": "big.jpg", "width": 80, "height": 60},
        {"id": 3, "file_name": "gone.jpg", "width": 40, "height": 30},
    ]
    path, image_dir = write_coco(
        tmp_path,
        [
            {"image_id": 1, "category_id": 1, "bbox": [30, 20, 20, 20]},  # clipped
            {"image_id": 1, "category_id": 1, "bbox": [5, 5, -3, 4]},  # inverted
            {"image_id": 1, "category_id": 1, "bbox": [5, 5, 0, 4]},  # zero size
            {"image_id": 1, "category_id": 1, "bbox": [5, 5, "x", 4]},  # garbage
            {"image_id": 1, "category_id": 1},  # missing
            {"image_id": 2, "category_id": 3, "bbox": [50, 10, 20, 10]},  # outside the real size
            {"image_id": 3, "category_id": 3, "bbox": [1, 1, 2, 2]},
            {"image_id": 42, "category_id": 3, "bbox": [1, 1, 2, 2]},
        ],
        images=images,
    )
    (image_dir / "gone.jpg").unlink()
    (image_dir / "big.jpg").unlink()
    Image.new("RGB", (40, 30)).save(image_dir / "big.jpg")
    records, _, report = read_coco(path, image_dir)
    assert [r.path.rsplit("/", 1)[1] for r in records] == ["a.jpg", "big.jpg"]
    np.testing.assert_array_equal(records[0].boxes, [[30, 20, 40, 30]])
    assert records[1].boxes.shape == (0, 4) and (records[1].width, records[1].height) == (40, 30)
    assert report.counts() == {
        "unknown_image": 1,
        "clipped_box": 1,
        "inverted_box": 1,
        "zero_size_box": 2,
        "bad_coordinates": 2,
        "size_mismatch": 1,
        "no_objects": 1,
        "missing_image": 1,
        "empty_category": 1,  # dog (7)
    }
    messages = {p.kind: str(p) for p in report.problems}
    assert "gone.jpg" in messages["missing_image"] and "42" in messages["unknown_image"]
    assert "80x60" in messages["size_mismatch"] and "big.jpg" in messages["size_mismatch"]


def test_without_image_check_uses_json_sizes(tmp_path):
    path, image_dir = write_coco(
        tmp_path, [{"image_id": 2, "category_id": 1, "bbox": [1, 1, 50, 5]}]
    )
    for f in image_dir.iterdir():
        f.unlink()
    records, _, report = read_coco(path, image_dir, check_images=False)
    assert len(records) == 2 and report.counts()["clipped_box"] == 1
    np.testing.assert_array_equal(records[1].boxes, [[1, 1, 40, 6]])


def test_not_a_coco_file(tmp_path):
    path = tmp_path / "x.json"
    path.write_text("{}")
    with pytest.raises(ValueError, match=r"x\.json: not a COCO detection file"):
        read_coco(path, tmp_path)


ROBOFLOW_CATEGORIES = [
    {"id": 0, "name": "pets", "supercategory": "none"},
    {"id": 1, "name": "cat", "supercategory": "pets"},
    {"id": 2, "name": "dog", "supercategory": "pets"},
]


def test_dummy_category_without_annotations_is_warned_about(tmp_path):
    anns = [
        {"image_id": 1, "category_id": 1, "bbox": [2, 3, 10, 5]},
        {"image_id": 2, "category_id": 2, "bbox": [2, 3, 10, 5]},
    ]
    path, image_dir = write_coco(tmp_path, anns, categories=ROBOFLOW_CATEGORIES)
    records, names, report = read_coco(path, image_dir)
    assert names == ["pets", "cat", "dog"]  # the category list as given: cat is class 1
    np.testing.assert_array_equal(records[0].classes, [1])
    empty = [p for p in report.problems if p.kind == "empty_category"]
    assert len(empty) == 1
    assert (
        "'pets'" in str(empty[0])
        and "class id 0" in str(empty[0])
        and "class_names" in str(empty[0])
    )
    assert "empty_category" in report.summary()
    # With the user's class list the categories are matched by name: no shift, no warning.
    records, names, report = read_coco(path, image_dir, class_names=["cat", "dog"])
    assert names == ["cat", "dog"]
    np.testing.assert_array_equal(records[0].classes, [0])
    np.testing.assert_array_equal(records[1].classes, [1])
    assert report.counts() == {}


def test_class_names_that_match_no_category(tmp_path):
    anns = [{"image_id": 1, "category_id": 1, "bbox": [2, 3, 10, 5]}]
    path, image_dir = write_coco(tmp_path, anns, categories=ROBOFLOW_CATEGORIES)
    with pytest.raises(ValueError, match=r"none of the classes \['class_0'\] .*'cat'"):
        read_coco(path, image_dir, class_names=["class_0"])
    _, _, report = read_coco(path, image_dir, class_names=["cat", "bird"])
    missing = [str(p) for p in report.problems if p.kind == "missing_category"]
    assert len(missing) == 1 and "'bird'" in missing[0]


def test_wrong_image_dir_is_an_error(tmp_path):
    path, _ = write_coco(tmp_path, [{"image_id": 1, "category_id": 1, "bbox": [2, 3, 10, 5]}])
    with pytest.raises(ValueError, match=r"none of the 2 images found under .*wrong"):
        read_coco(path, tmp_path / "wrong")


def test_crowds_kept_as_ignored_objects_on_request(tmp_path):
    anns = [
        {"image_id": 1, "category_id": 7, "bbox": [2, 3, 10, 5]},
        {"image_id": 1, "category_id": 3, "bbox": [1, 1, 4, 4], "iscrowd": 1},
    ]
    path, image_dir = write_coco(tmp_path, anns)
    records, _, report = read_coco(path, image_dir)  # training: crowds skipped and counted
    np.testing.assert_array_equal(records[0].classes, [2])
    assert report.counts()["crowd_skipped"] == 1
    records, _, report = read_coco(path, image_dir, keep_crowd=True)  # evaluation: ignored
    np.testing.assert_array_equal(records[0].classes, [2, 1])
    np.testing.assert_array_equal(records[0].difficult, [False, True])
    assert "crowd_skipped" not in report.counts()


def test_two_images_with_one_id_are_reported_not_given_each_other_s_boxes(tmp_path):
    """Annotations name their image by id: two files with one id cannot be told apart, so both
    are skipped (with the id's boxes) and reported; one file listed twice is read once."""
    images = [
        {"id": 1, "file_name": "a.jpg", "width": 40, "height": 30},
        {"id": 1, "file_name": "b.jpg", "width": 40, "height": 30},
        {"id": 2, "file_name": "c.jpg", "width": 40, "height": 30},
        {"id": 2, "file_name": "c.jpg", "width": 40, "height": 30},
        {"id": 3, "file_name": "d.jpg", "width": 40, "height": 30},
    ]
    anns = [
        {"image_id": 1, "category_id": 1, "bbox": [1, 1, 10, 10]},  # a's or b's?
        {"image_id": 1, "category_id": 1, "bbox": [20, 5, 10, 10]},
        {"image_id": 2, "category_id": 1, "bbox": [2, 2, 5, 5]},
        {"image_id": 3, "category_id": 3, "bbox": [3, 3, 5, 5]},
    ]
    path, image_dir = write_coco(tmp_path, anns, images=images)
    records, _, report = read_coco(path, image_dir)
    assert [r.path.rsplit("/", 1)[1] for r in records] == ["c.jpg", "d.jpg"]
    assert [len(r.boxes) for r in records] == [1, 1]
    duplicates = [str(p) for p in report.problems if p.kind == "duplicate_image"]
    assert len(duplicates) == 3  # a.jpg and b.jpg skipped, the second c.jpg entry skipped
    assert (
        "a.jpg" in duplicates[0] and "b.jpg" in duplicates[1] and "2 annotation(s)" in duplicates[0]
    )
    assert "repeats 'c.jpg'" in duplicates[2]
    assert "duplicate_image" in report.summary()


def test_all_images_sharing_ids_is_an_error_that_says_so(tmp_path):
    images = [
        {"id": 1, "file_name": "a.jpg", "width": 40, "height": 30},
        {"id": 1, "file_name": "b.jpg", "width": 40, "height": 30},
    ]
    path, image_dir = write_coco(tmp_path, [], images=images)
    with pytest.raises(ValueError, match=r"none of the 2 images is usable \(2 duplicate_image\)"):
        read_coco(path, image_dir)


def test_iscrowd_other_than_0_or_1_is_reported_and_read_as_not_a_crowd(tmp_path):
    values = ["no", "yes", 2, None, 0.5, True, 1, 0, False]
    anns = [
        {"image_id": 1, "category_id": 1, "bbox": [1 + 3 * i, 1, 2, 2], "iscrowd": value}
        for i, value in enumerate(values)
    ]
    path, image_dir = write_coco(tmp_path, anns)
    records, _, report = read_coco(path, image_dir, keep_crowd=True)  # evaluation
    assert records[0].difficult.tolist() == [False] * 5 + [True, True, False, False]
    assert [a["iscrowd"] for a in records[0].annotations] == [0] * 5 + [1, 1, 0, 0]
    bad = [str(p) for p in report.problems if p.kind == "bad_crowd"]
    assert len(bad) == 5 and "iscrowd 'no'" in bad[0] and "iscrowd null" in bad[3]
    assert all("read as 0" in message for message in bad)
    records, _, report = read_coco(path, image_dir)  # training: the two crowds skipped
    assert len(records[0].boxes) == 7
    assert report.counts()["crowd_skipped"] == 2 and report.counts()["bad_crowd"] == 5
