"""Malformed COCO files through the three commands that read one (``centernet convert coco``,
``centernet train --train-json``, ``centernet val --coco-json``): each is refused with exit
code 2 and one line naming the file and the field, no traceback, nothing written, no model
built or loaded."""

import copy
import json
from pathlib import Path

import pytest
from PIL import Image

from centernet_keras.console import main

ROOT = Path(__file__).resolve().parents[2]
#: A saved tiny CenterNet (val needs a model; the JSON is refused before it is loaded).
MODEL = ROOT / "tests" / "data" / "legacy" / "resnet18.keras"

#: A valid keypoints file: one 64x48 image, one person with 3 joints.
VALID = {
    "images": [{"id": 1, "file_name": "a.png", "width": 64, "height": 48}],
    "annotations": [
        {
            "id": 1,
            "image_id": 1,
            "category_id": 1,
            "bbox": [10, 5, 30, 30],
            "area": 900,
            "iscrowd": 0,
            "keypoints": [20, 10, 2, 18, 8, 2, 22, 8, 1],
        }
    ],
    "categories": [
        {
            "id": 1,
            "name": "person",
            "keypoints": ["nose", "left_eye", "right_eye"],
            "skeleton": [[1, 2], [1, 3]],
        }
    ],
}


def _set(path: str, value):
    """A change of ``VALID``: the value at ``path`` (``"images.0.id"``) set, or deleted when
    ``value`` is ``DELETE``; ``""`` is the top level."""

    def change(data):
        if not path:
            return value
        *parents, last = path.split(".")
        node = data
        for key in parents:
            node = node[int(key) if isinstance(node, list) else key]
        key = int(last) if isinstance(node, list) else last
        if value is DELETE:
            del node[key]
        elif isinstance(node, list) and key == len(node):
            node.append(value)
        else:
            node[key] = value
        return data

    return change


DELETE = object()

# case → (the file's content: bytes, or a change of VALID; what the message must name)
CASES = {
    "top_list": (_set("", []), "top level"),
    "top_null": (_set("", None), "top level"),
    "top_string": (_set("", "images"), "top level"),
    "top_number": (_set("", 3), "top level"),
    "empty_file": (b"", "empty"),
    "invalid_json": (b'{"images": [\n  {"id": 1,,}', "line 2 column"),
    "not_utf8": (b'{"images": "\xff\xfe\xfa"}', "UTF-8"),
    "too_deep": (b"[" * 100_000 + b"]" * 100_000, "nested"),
    "huge_integer": (b'{"images": [], "categories": [], "n": ' + b"7" * 5000 + b"}", "not JSON"),
    "images_missing": (_set("images", DELETE), "'images'"),
    "images_dict": (_set("images", {"1": {}}), "'images'"),
    "categories_missing": (_set("categories", DELETE), "'categories'"),
    "categories_null": (_set("categories", None), "'categories'"),
    "categories_empty": (_set("categories", []), "'categories'"),
    "annotations_null": (_set("annotations", None), "'annotations'"),
    "annotations_dict": (_set("annotations", {"1": {}}), "'annotations'"),
    "annotation_string": (_set("annotations.1", "person"), "annotations[1]"),
    "annotation_null": (_set("annotations.0", None), "annotations[0]"),
    "annotation_no_image_id": (_set("annotations.0.image_id", DELETE), "annotations[0].image_id"),
    "annotation_list_image_id": (_set("annotations.0.image_id", [1]), "annotations[0].image_id"),
    "annotation_bool_image_id": (_set("annotations.0.image_id", True), "annotations[0].image_id"),
    "annotation_no_category_id": (
        _set("annotations.0.category_id", DELETE),
        "annotations[0].category_id",
    ),
    "annotation_list_category_id": (
        _set("annotations.0.category_id", [1]),
        "annotations[0].category_id",
    ),
    "image_null": (_set("images.0", None), "images[0]"),
    "image_string": (_set("images.1", "b.png"), "images[1]"),
    "image_no_id": (_set("images.0.id", DELETE), "images[0].id"),
    "image_list_id": (_set("images.0.id", [1]), "images[0].id"),
    "image_float_id": (_set("images.0.id", 1.5), "images[0].id"),
    "image_file_name_list": (_set("images.0.file_name", ["a.png"]), "images[0].file_name"),
    "category_string": (_set("categories.1", "dog"), "categories[1]"),
    "category_null": (_set("categories.0", None), "categories[0]"),
    "category_no_id": (_set("categories.0.id", DELETE), "categories[0].id"),
    "category_no_name": (_set("categories.0.name", DELETE), "categories[0].name"),
    "category_list_name": (_set("categories.0.name", ["person"]), "categories[0].name"),
    "category_blank_name": (_set("categories.0.name", "  "), "categories[0].name"),
    "category_string_id": (_set("categories.0.id", "1"), "categories[0].id"),
    "category_list_id": (_set("categories.0.id", [1]), "categories[0].id"),
    "category_mixed_ids": (_set("categories.1", {"id": "2", "name": "dog"}), "categories[1].id"),
    "category_repeated_id": (_set("categories.1", {"id": 1, "name": "dog"}), "categories[1].id"),
    "keypoints_a_string": (_set("categories.0.keypoints", "nose"), "categories[0].keypoints"),
    "keypoints_not_strings": (_set("categories.0.keypoints", [1, 2, 3]), "categories[0].keypoints"),
    "keypoints_repeated": (
        _set("categories.0.keypoints", ["nose", "nose", "eye"]),
        "categories[0].keypoints",
    ),
    "skeleton_flat": (_set("categories.0.skeleton", [1, 2, 3]), "categories[0].skeleton"),
    "skeleton_triples": (_set("categories.0.skeleton", [[1, 2, 3]]), "categories[0].skeleton"),
    "skeleton_names": (_set("categories.0.skeleton", [["nose", "x"]]), "categories[0].skeleton"),
    "skeleton_out_of_range": (_set("categories.0.skeleton", [[1, 9]]), "categories[0].skeleton"),
    "skeleton_a_dict": (_set("categories.0.skeleton", {"1": 2}), "categories[0].skeleton"),
    "flip_pairs_flat": (_set("categories.0.flip_pairs", [2, 3]), "categories[0].flip_pairs"),
}


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("images")
    Image.new("RGB", (64, 48), (90, 90, 90)).save(folder / "a.png")
    return folder


def _base() -> dict:
    """``VALID`` with a second image, person and category (the entries ``[1]`` of the cases)."""
    data = copy.deepcopy(VALID)
    data["images"].append({"id": 2, "file_name": "a.png", "width": 64, "height": 48})
    data["annotations"].append({**data["annotations"][0], "id": 2, "image_id": 2})
    data["categories"].append({"id": 2, "name": "dog"})
    return data


def _write(case: str, folder: Path) -> Path:
    content, _ = CASES[case]
    path = folder / f"bad_{case}.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(json.dumps(content(_base())))
    return path


def _argv(command: str, json_path: Path, image_dir: Path, out: Path) -> list[str]:
    if command == "convert":
        return ["convert", "coco", "--json", str(json_path), "--images", str(image_dir),
                "--output", str(out / "lines.txt")]  # fmt: skip
    if command == "train":
        return ["train", "--train-json", str(json_path), "--train-images", str(image_dir),
                "--backbone", "resnet18", "--weights", "none", "--input-size", "64",
                "--epochs", "1", "--freeze-epochs", "0", "--save-dir", str(out / "run"),
                "--quiet"]  # fmt: skip
    return ["val", "--model", str(MODEL), "--coco-json", str(json_path),
            "--image-dir", str(image_dir), "--output-dir", str(out / "map")]  # fmt: skip


def test_the_valid_file_passes_every_command_s_check(image_dir, tmp_path, capsys):
    """The base of the table is read without complaint (convert writes it; the cases below are
    refused for what was changed, not for the base)."""
    path = tmp_path / "valid.json"
    path.write_text(json.dumps(_base()))
    assert main(_argv("convert", path, image_dir, tmp_path)) == 0, capsys.readouterr().err
    lines = (tmp_path / "lines.txt").read_text().splitlines()
    assert [line.split()[1:] for line in lines] == [["10,5,40,35,0"]] * 2


@pytest.mark.parametrize("command", ["convert", "train", "val"])
@pytest.mark.parametrize("case", list(CASES))
def test_a_malformed_file_is_one_line_naming_file_and_field(
    case, command, image_dir, tmp_path, capsys, monkeypatch
):
    import centernet_keras.training.trainer as trainer

    def no_model(*args, **kwargs):
        raise AssertionError("a model was built for a malformed file")

    monkeypatch.setattr(trainer, "build_model", no_model)
    json_path = _write(case, tmp_path)
    out = tmp_path / "out"
    code = main(_argv(command, json_path, image_dir, out))
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith(f"error: {json_path}"), err
    assert CASES[case][1] in err, err
    written = [p for p in out.rglob("*") if p.is_file()] if out.exists() else []
    assert all(p.name == "config.json" for p in written), written  # train saves its settings
