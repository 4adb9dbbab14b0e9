"""A seeded fuzz test of the COCO reader (issue 25): generated COCO files (images, categories
with and without joints, annotations) with random values (ids that repeat or point nowhere,
boxes and sizes that are garbage, ``iscrowd`` of any type, keypoints of any length) and random
structural damage (a value anywhere replaced by any JSON value, a key deleted, the text cut).
``read_coco`` raises nothing but its own ``ValueError`` (one line naming the file); otherwise
every annotation is either a box of a record or counted in the report, and every image either a
record or counted."""

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from PIL import Image

from centernet_keras.data.coco import read_coco

#: The files under the image folder: name → (width, height); "broken.png" is not an image.
FILES = {"a.png": (32, 24), "b.png": (48, 32), "c.png": (24, 24)}
#: The problem kinds that drop one annotation each (every other kind keeps it, or is about an
#: image or a category).
DROPPED = ("crowd_skipped", "unknown_class", "inverted_box", "zero_size_box")
#: The kinds that skip one ``images`` entry each (and the annotations of its id with it).
IMAGE_SKIPPED = ("missing_image", "unreadable_image", "duplicate_image")
JOINTS = ["nose", "left_eye", "right_eye"]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
#: Mostly coordinates near the images, sometimes anything a number field could hold.
numbers = st.one_of(
    *[st.integers(-5, 50)] * 6,
    *[st.floats(-5.0, 50.0)] * 3,
    st.sampled_from([0, 0.0001, 1e308, -1e308, 10**400, True, None, "3", [1]]),
    st.floats(allow_nan=True, allow_infinity=True),
)
crowd_values = st.sampled_from([0, 0, 0, 1, 1, True, False, "no", "yes", 2, -1, None, 0.5, "0"])


def _mostly(draw, weight: int = 3) -> bool:
    """``True`` in most draws (hypothesis favours the first of ``sampled_from``, and ``0`` or
    ``False`` of integers and booleans)."""
    return draw(st.sampled_from([True] * weight + [False]))


@st.composite
def keypoints(draw) -> object:
    form = draw(st.sampled_from(["good"] * 6 + ["short", "garbage", "missing"]))
    if form == "good":
        return [
            v
            for _ in JOINTS
            for v in (draw(numbers), draw(numbers), draw(st.sampled_from([0, 1, 2, 2, 3, -1])))
        ]
    if form == "short":
        return [1, 2, 2]
    return None if form == "missing" else draw(json_values)


@st.composite
def coco_files(draw) -> dict:
    """A COCO file: 1-5 images of the folder's files (two may share an id), 1-4 categories (one
    with joints, maybe), 0-7 annotations pointing at those ids or at none."""
    image_ids = draw(st.lists(st.sampled_from([1, 2, 3, "x"]), min_size=1, unique=True))
    if draw(st.integers(0, 5)) == 3:
        image_ids.append(image_ids[0])  # two images with one id
    images = []
    for image_id in image_ids:
        name = draw(st.sampled_from([*FILES, *FILES, "missing.png", "broken.png", ""]))
        image = {"id": image_id, "file_name": name}
        w, h = FILES.get(name, (40, 30))
        if _mostly(draw):
            image.update(width=w, height=h)
        else:
            image.update(width=draw(numbers), height=draw(numbers))
        images.append(image)
    names = draw(st.lists(st.sampled_from(["person", "cat", "dog"]), min_size=1, unique=True))
    if draw(st.integers(0, 19)) == 7:
        names.append(" cat ")  # the same name as "cat" once stripped
    categories = []
    for k, name in enumerate(names):
        category = {"id": draw(st.integers(0, 3)) * 10 + k, "name": name}
        if name == "person" and _mostly(draw, 1):
            category.update(keypoints=JOINTS, skeleton=[[1, 2], [1, 3]])
        categories.append(category)
    annotations = []
    for n in range(draw(st.sampled_from([3, 0, 1, 5, 7]))):
        x, y, w, h = (draw(numbers) for _ in range(4))
        if _mostly(draw, 2):
            x, y = draw(st.floats(-5.0, 40.0)), draw(st.floats(-5.0, 30.0))
            w, h = draw(st.floats(0.5, 30.0)), draw(st.floats(0.5, 30.0))
        bbox = draw(st.sampled_from([[x, y, w, h]] * 6 + [[x, y, w], None, "box", [x, y, w, h, 1]]))
        annotation = {
            "id": draw(st.sampled_from([n + 1, n + 1, 1, "a", None])),
            "image_id": draw(st.sampled_from([*image_ids] * 3 + [99])),
            "category_id": draw(st.sampled_from([c["id"] for c in categories] * 3 + [77])),
            "bbox": bbox,
            "keypoints": draw(keypoints()),
        }
        if _mostly(draw):
            annotation["iscrowd"] = draw(crowd_values)
        annotations.append(annotation)
    return {"images": images, "annotations": annotations, "categories": categories}


def _containers(node, path=()):
    """``(path, container)`` of every list and object in a parsed file, the top level first."""
    yield path, node
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        if isinstance(value, dict | list):
            yield from _containers(value, (*path, key))


@st.composite
def damaged(draw) -> bytes:
    """A generated file with 0-3 random changes anywhere (a value replaced, a key deleted, an
    item appended), or the whole file replaced, or its text cut short."""
    data = json.loads(json.dumps(draw(coco_files())))  # a copy: shared lists stay as they are
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 1, 2, 3]))):
        if not isinstance(data, dict | list):
            break
        places = list(_containers(data))
        _, node = places[draw(st.integers(0, len(places) - 1))]
        if not node or draw(st.integers(0, 5)) == 0:
            if isinstance(node, list):
                node.append(draw(json_values))
            else:
                node[draw(st.sampled_from(["id", "images", "name", "keypoints"]))] = draw(
                    json_values
                )
            continue
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        key = keys[draw(st.integers(0, len(keys) - 1))]
        if isinstance(node, dict) and draw(st.booleans()):
            del node[key]
        else:
            node[key] = draw(json_values)
    if draw(st.integers(0, 40)) == 17:  # (not 0: hypothesis draws the bounds often)
        data = draw(json_values)
    text = json.dumps(data).encode()
    if draw(st.integers(0, 30)) == 17:
        text = text[: draw(st.integers(0, len(text) - 1))]
    return text


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("coco_fuzz")
    for name, (w, h) in FILES.items():
        Image.new("RGB", (w, h), (80, 80, 80)).save(root / name)
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    return root


def _is_number(value) -> bool:
    try:
        return (
            isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        )
    except OverflowError:
        return False


def _check_accounting(data: dict, records, report) -> None:
    """Every image a record or one image-level problem; every annotation of a kept image a box
    or one dropping problem; every id no image has one ``unknown_image``."""
    images, annotations = data["images"], data.get("annotations", [])
    counts = report.counts()
    bad_size = [
        p
        for p in report.problems
        if p.kind == "bad_coordinates" and p.message.endswith("image skipped")
    ]
    skipped_images = sum(counts[k] for k in IMAGE_SKIPPED) + len(bad_size)
    assert len(records) + skipped_images == len(images), counts
    kept = {r.image_id for r in records}
    assert len(kept) == len(records)  # no image id read twice
    on_kept = [a for a in annotations if a["image_id"] in kept]
    dropped = sum(counts[k] for k in DROPPED) + counts["bad_coordinates"] - len(bad_size)
    written = sum(len(r.boxes) for r in records)
    assert written + dropped == len(on_kept), counts
    unknown = {a["image_id"] for a in annotations} - {img["id"] for img in images}
    assert counts["unknown_image"] == len(unknown)
    for record in records:
        assert len(record.annotations) == len(record.boxes)
        boxes = record.boxes.reshape(-1, 4)
        assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()
        assert (boxes >= 0).all() and (boxes[:, [0, 2]] <= record.width).all()
        assert (boxes[:, [1, 3]] <= record.height).all()
        joints = record.keypoints
        labelled = joints[..., 2] > 0
        assert np.isin(joints[..., 2], (0, 1, 2)).all()
        assert (joints[..., 0][labelled] >= 0).all() and (
            joints[..., 0][labelled] <= record.width
        ).all()
        assert (joints[..., 1][labelled] >= 0).all() and (
            joints[..., 1][labelled] <= record.height
        ).all()
        for ann in record.annotations:
            assert ann["iscrowd"] in (0, 1) and all(_is_number(v) for v in ann["bbox"])
    event(f"read, {min(written, 4)}{'+' if written >= 4 else ''} boxes written")


@settings(
    max_examples=300,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    file=damaged(),  # the file's bytes
    check_images=st.booleans(),
    keep_crowd=st.booleans(),
    class_names=st.sampled_from([None, None, None, ["cat", "person"], ["dog"]]),
)
def test_read_coco_raises_only_its_error_and_accounts_for_every_object(
    folder, file, check_images, keep_crowd, class_names
):
    text = file
    path = folder / "instances_fuzz.json"
    path.write_bytes(text)
    try:
        records, _, report = read_coco(
            path, folder, class_names, check_images=check_images, keep_crowd=keep_crowd
        )
    except ValueError as err:  # the reader's error (CocoFormatError is one): one line, the file
        message = str(err)
        assert message.startswith(f"{path}: ") and "\n" not in message, message
        event("refused")
        return
    _check_accounting(json.loads(text), records, report)
