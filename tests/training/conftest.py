"""A tiny synthetic VOC dataset converted to annotation lines, shared by the training tests."""

from pathlib import Path

import pytest

from centernet_keras.data.synthetic import SHAPE_CLASSES, generate_voc
from centernet_keras.data.voc import convert_voc

TINY_MODEL = {
    "backbone": "resnet18",
    "weights": None,
    "input_size": [64, 64],
    "neck_filters": [16, 16, 16],
    "head_channels": 8,
}


@pytest.fixture(scope="session")
def tiny_voc(tmp_path_factory) -> dict:
    """``{"classes", "train", "val"}`` paths of a 40-image synthetic dataset."""
    root = tmp_path_factory.mktemp("voc")
    generate_voc(root / "VOCdevkit", num_images=40, seed=3)
    convert_voc(root / "VOCdevkit", 2007, list(SHAPE_CLASSES), out_dir=root)
    classes = root / "classes.txt"
    classes.write_text("\n".join(SHAPE_CLASSES) + "\n")
    return {
        "classes": str(classes),
        "train": str(root / "2007_train.txt"),
        "val": str(root / "2007_val.txt"),
    }


def config_dict(voc: dict, save_dir: Path, **overrides) -> dict:
    base = {
        "classes_path": voc["classes"],
        "train_annotations": voc["train"],
        "val_annotations": voc["val"],
        "save_dir": str(save_dir),
        "freeze_epochs": 1,
        "freeze_batch_size": 4,
        "epochs": 3,
        "batch_size": 4,
        "lr": 2e-3,
        "scale_lr": False,
        **TINY_MODEL,
    }
    base.update(overrides)
    return base
