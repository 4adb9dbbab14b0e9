"""Small real TFDS datasets built offline: ``voc/2007`` from the synthetic VOC generator, and
a one-image ``coco/2017``; the fixtures build each once per test process.

The synthetic shapes are renamed to the first five VOC classes (the XML stays a genuine VOC
folder with VOC names), and each TFDS example is made by the real VOC builder's own
``_generate_example`` (its box normalisation included) and stored with the builder's own
``info.features`` by ``tfds.dataset_builders.store_as_tfds_dataset``: nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from centernet_keras.data.synthetic import SHAPE_CLASSES, generate_voc

#: The VOC names the synthetic shapes are renamed to (VOC class ids 0..4).
VOC_NAMES = ("aeroplane", "bicycle", "bird", "boat", "bottle")


def _rename_classes(voc_dir: Path) -> None:
    for xml in (voc_dir / "Annotations").glob("*.xml"):
        text = xml.read_text(encoding="utf-8")
        for shape, name in zip(SHAPE_CLASSES, VOC_NAMES, strict=True):
            text = text.replace(f"<name>{shape}</name>", f"<name>{name}</name>")
        xml.write_text(text, encoding="utf-8")


def build_voc_tfds(root: Path, num_images: int = 24, seed: int = 5) -> tuple[Path, Path]:
    """Write ``root/VOCdevkit/VOC2007`` and its TFDS ``voc/2007`` (splits ``train``,
    ``validation``, ``test`` from the VOC ImageSets) into ``root/tfds``.

    Returns:
        ``(VOCdevkit folder, TFDS data_dir)``.
    """
    import tensorflow_datasets as tfds

    devkit, data_dir = root / "VOCdevkit", root / "tfds"
    generate_voc(devkit, num_images, seed=seed)
    _rename_classes(devkit / "VOC2007")
    voc = tfds.builder("voc/2007", data_dir=str(data_dir))  # info from the code: offline
    splits = {}
    for split, set_name in (("train", "train"), ("validation", "val"), ("test", "test")):
        ids = (devkit / "VOC2007" / "ImageSets" / "Main" / f"{set_name}.txt").read_text().split()
        splits[split] = [(i, voc._generate_example(str(root), i, True)) for i in ids]
    tfds.dataset_builders.store_as_tfds_dataset(
        name="voc",
        version=str(voc.version),
        config="2007",
        features=voc.info.features,
        split_datasets=splits,
        data_dir=str(data_dir),
        disable_shuffling=True,
    )
    return devkit, data_dir


#: The COCO-layout fixture: image size, and its objects ``(x, y, w, h, label, is_crowd)``.
COCO_SIZE = (48, 64)  # height, width
COCO_OBJECTS = ((4, 6, 20, 30, 0, False), (30, 10, 24, 16, 2, True), (8, 20, 10, 12, 1, False))


def build_coco_tfds(data_dir: Path, file_format: str | None = None) -> None:
    """A one-image TFDS ``coco/2017`` (split ``validation``) with a crowd object, stored with
    the real COCO builder's ``info.features`` (offline), as TFRecord (TFDS's default) or
    ``file_format``."""
    import numpy as np
    import tensorflow_datasets as tfds

    coco = tfds.builder("coco/2017", data_dir=str(data_dir))
    names = (Path(__file__).parents[2] / "model_data" / "coco_classes.txt").read_text().split("\n")
    coco.info.features["objects"]["label"].names = [n for n in names if n]  # as the builder does
    height, width = COCO_SIZE
    bbox = [
        tfds.features.BBox(y / height, x / width, (y + h) / height, (x + w) / width)
        for x, y, w, h, *_ in COCO_OBJECTS
    ]
    example = {
        "image": np.full((height, width, 3), 90, np.uint8),
        "image/filename": "000000000001.jpg",
        "image/id": 1,
        "objects": {
            "area": [w * h for _, _, w, h, *_ in COCO_OBJECTS],
            "bbox": bbox,
            "id": list(range(1, len(COCO_OBJECTS) + 1)),
            "is_crowd": [crowd for *_, crowd in COCO_OBJECTS],
            "label": [label for *_, label, _ in COCO_OBJECTS],
        },
    }
    tfds.dataset_builders.store_as_tfds_dataset(
        name="coco",
        version=str(coco.version),
        config="2017",
        features=coco.info.features,
        split_datasets={"validation": [("1", example)]},
        data_dir=str(data_dir),
        file_format=file_format,
    )


_BUILT: dict[str, object] = {}  # what this test process built (a session cache)


@pytest.fixture
def voc_tfds(tmp_path_factory) -> dict:
    """``{"devkit", "data_dir"}``: a 24-image synthetic ``VOC2007`` (VOC class names) and the
    same images as the TFDS dataset ``voc/2007`` (splits train, validation, test); built once
    per test process."""
    if "voc" not in _BUILT:
        devkit, data_dir = build_voc_tfds(tmp_path_factory.mktemp("voc_tfds"))
        _BUILT["voc"] = {"devkit": devkit, "data_dir": data_dir}
    return _BUILT["voc"]


@pytest.fixture
def coco_tfds(tmp_path_factory) -> Path:
    """The data_dir of a one-image TFDS ``coco/2017`` (split validation) with a crowd object;
    built once per test process."""
    if "coco" not in _BUILT:
        _BUILT["coco"] = tmp_path_factory.mktemp("coco_tfds")
        build_coco_tfds(_BUILT["coco"])
    return _BUILT["coco"]


def build_pose_tfds(root: Path, num_images: int = 40) -> dict:
    """A synthetic COCO keypoints set (``data.synthetic_pose``) in the official layout, prepared
    as ``coco_keypoints/2017`` by the package's builder (offline).

    Returns:
        ``{"images", "train", "val"}`` (the JSON files and their image folder) and ``data_dir``.
    """
    from centernet_keras.data.synthetic_pose import generate_pose_dataset
    from centernet_keras.data.tfds_coco_keypoints import prepare

    files = generate_pose_dataset(root / "pose", num_images, seed=0)  # an empty image a split
    manual = root / "manual"
    (manual / "annotations").mkdir(parents=True)
    for split, stem in (("train", "train2017"), ("val", "val2017")):
        (manual / "annotations" / f"person_keypoints_{stem}.json").symlink_to(files[split])
        (manual / stem).symlink_to(files["images"])
    prepare(str(manual), str(root / "tfds"))
    return {**files, "data_dir": root / "tfds"}


@pytest.fixture
def pose_tfds(tmp_path_factory) -> dict:
    """``build_pose_tfds``, once per test process."""
    if "pose" not in _BUILT:
        _BUILT["pose"] = build_pose_tfds(tmp_path_factory.mktemp("pose_tfds"))
    return _BUILT["pose"]
