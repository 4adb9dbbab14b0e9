"""The TFDS dataset ``coco_keypoints/2017``: COCO person keypoints, prepared from local files.

TFDS has no COCO keypoints (tensorflow/datasets#3133). This builder makes one from a COCO
keypoints JSON and its image folder, read by :func:`~centernet_keras.data.coco.read_coco`
(the same checks and counted skips as ``--train-json``). Its manual folder holds
``annotations/person_keypoints_{train,val}2017.json`` and ``{train,val}2017/`` (the official
layout; either split may be missing); prepare it once, offline::

    python -m centernet_keras.data.tfds_coco_keypoints --manual-dir COCO --data-dir DIR

then train with ``--detector pose --train-tfds coco_keypoints/2017:train --data-dir DIR``.

Features (``objects``, as TFDS's ``coco``): ``bbox`` (normalised ``[ymin, xmin, ymax, xmax]``),
``label`` (``person``), ``is_crowd``, and ``keypoints`` ``[17, 3]`` float32 ``(x / W, y / H, v)``
(``v`` as COCO: 0 unlabelled, 1 hidden, 2 visible). The joint names, flip pairs, skeleton and
OKS sigmas (:class:`~centernet_keras.keypoints.KeypointSpec` ``get_config()``) are the
dataset's ``info.metadata["keypoint_spec"]`` (one value per dataset, so not a per-example
feature), read by :func:`~centernet_keras.data.tfds_source.keypoint_spec`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
import tensorflow_datasets as tfds

from centernet_keras.data.coco import read_coco
from centernet_keras.keypoints import KeypointSpec

#: COCO's person joints: the ``keypoints`` feature's first dimension.
NUM_JOINTS = 17
#: TFDS split → the official file stem (``person_keypoints_<stem>.json``, ``<stem>/``).
SPLITS = {"train": "train2017", "validation": "val2017"}


class CocoKeypoints(tfds.core.GeneratorBasedBuilder):
    """COCO 2017 person keypoints from a local JSON + image folder (module docstring)."""

    VERSION = tfds.core.Version("1.0.0")
    BUILDER_CONFIGS: ClassVar = [
        tfds.core.BuilderConfig(name="2017", description="COCO 2017 keypoints")
    ]
    #: How to prepare it (``tfds_source`` names it when it is not prepared).
    PREPARE_COMMAND = (
        "python -m centernet_keras.data.tfds_coco_keypoints --manual-dir COCO --data-dir {data_dir}"
    )
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "put annotations/person_keypoints_{train,val}2017.json and the train2017/, val2017/ "
        "image folders in the manual folder"
    )

    def _info(self) -> tfds.core.DatasetInfo:
        objects = {
            "bbox": tfds.features.BBoxFeature(),
            "label": tfds.features.ClassLabel(names=["person"]),
            "is_crowd": np.bool_,
            "keypoints": tfds.features.Tensor(shape=(NUM_JOINTS, 3), dtype=np.float32),
        }
        features = {
            "image": tfds.features.Image(encoding_format="jpeg"),
            "image/filename": tfds.features.Text(),
            "image/id": np.int64,
            "objects": tfds.features.Sequence(objects),
        }
        metadata = tfds.core.MetadataDict(keypoint_spec=KeypointSpec.coco17().get_config())
        return tfds.core.DatasetInfo(  # not dataset_info_from_configs: it reads package
            builder=self,  # resources, which `python -m` (module __main__) does not have
            description="COCO 2017 person keypoints, prepared from local files",
            features=tfds.features.FeaturesDict(features),
            metadata=metadata,
        )

    def _split_generators(self, dl_manager):
        root = Path(dl_manager.manual_dir)
        found = {
            split: (root / "annotations" / f"person_keypoints_{stem}.json", root / stem)
            for split, stem in SPLITS.items()
            if (root / "annotations" / f"person_keypoints_{stem}.json").is_file()
        }
        if not found:
            raise FileNotFoundError(f"{root}: {self.MANUAL_DOWNLOAD_INSTRUCTIONS}")
        return {split: self._generate_examples(*paths) for split, paths in found.items()}

    def _generate_examples(self, json_path: Path, image_dir: Path):
        records, _, report = read_coco(json_path, image_dir, ["person"], keep_crowd=True)
        spec = report.keypoint_spec
        if spec is None or spec.num_joints != NUM_JOINTS:
            raise ValueError(
                f"{json_path}: want a COCO person keypoints file ({NUM_JOINTS} joints)"
            )
        self.info.metadata["keypoint_spec"] = spec.get_config()
        for record in records:
            size = np.array([record.width, record.height], np.float32)
            boxes = record.boxes.reshape(-1, 2, 2) / size  # [[x1, y1], [x2, y2]] normalised
            joints = record.keypoints.copy()
            joints[..., :2] /= size
            yield (
                record.image_id,
                {
                    "image": record.path,
                    "image/filename": Path(record.path).name,
                    "image/id": record.image_id,
                    "objects": {
                        "bbox": np.clip(boxes[..., ::-1].reshape(-1, 4), 0, 1),  # [y1, x1, y2, x2]
                        "label": record.classes.astype(np.int64),
                        "is_crowd": record.difficult,
                        "keypoints": joints.astype(np.float32),
                    },
                },
            )


def prepare(manual_dir: str, data_dir: str) -> tfds.core.DatasetBuilder:
    """Prepare ``coco_keypoints/2017`` in ``data_dir`` from ``manual_dir`` (no download)."""
    builder = CocoKeypoints(config="2017", data_dir=data_dir)
    config = tfds.download.DownloadConfig(manual_dir=manual_dir)
    builder.download_and_prepare(download_config=config)
    return builder


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manual-dir", required=True, help="folder of the COCO files")
    parser.add_argument("--data-dir", required=True, help="the TFDS data folder to write")
    args = parser.parse_args(argv)
    builder = prepare(args.manual_dir, args.data_dir)
    counts = ", ".join(f"{k} {v.num_examples}" for k, v in sorted(builder.info.splits.items()))
    print(f"prepared {builder.name}/2017 in {builder.data_dir}: {counts} images")
    return 0


if __name__ == "__main__":
    sys.exit(main())
