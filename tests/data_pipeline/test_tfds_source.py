"""TFDS splits as records: the same records as the VOC XML of the same images (boxes to 1 px,
classes, difficult flags, pixels), crowd objects as in a COCO JSON, class names from
info.features, one-line errors for a dataset not prepared or a split it does not have, and the
tf.data pipeline reading the images from the TFDS files."""

from pathlib import Path

import numpy as np
import pytest
from tfds_data import COCO_OBJECTS, VOC_NAMES, build_coco_tfds, coco_tfds, voc_tfds  # noqa: F401 (fixtures)

from centernet_keras.data.image_io import read_image_rgb, read_image_size
from centernet_keras.data.pipeline import PipelineConfig, make_dataset
from centernet_keras.data.tfds_source import TfdsError, read_tfds
from centernet_keras.data.voc import read_voc_split
from centernet_keras.evaluation.runner import load_split


@pytest.mark.parametrize(("split", "voc_split"), [("train", "train"), ("validation", "val")])
def test_tfds_records_equal_the_voc_xml_records(voc_tfds, split, voc_split):  # noqa: F811
    records, names, problems = read_tfds(f"voc/2007:{split}", str(voc_tfds["data_dir"]), "--x")
    assert names[:5] == list(VOC_NAMES) and len(names) == 20  # the builder's ClassLabel names
    assert problems == []
    xml, _ = read_voc_split(voc_tfds["devkit"], 2007, voc_split, names, keep_difficult=True)
    assert len(records) == len(xml) > 0
    assert sum(int(r.difficult.sum()) for r in xml) > 0  # the flag is exercised
    for tfds_record, xml_record in zip(records, xml, strict=True):
        assert tfds_record.path.endswith("/" + Path(xml_record.path).name)
        np.testing.assert_array_equal(tfds_record.boxes, xml_record.boxes)  # float32 noise off
        np.testing.assert_array_equal(tfds_record.classes, xml_record.classes)
        np.testing.assert_array_equal(tfds_record.difficult, xml_record.difficult)
        assert (tfds_record.width, tfds_record.height) == (xml_record.width, xml_record.height)
        assert read_image_size(tfds_record.path) == read_image_size(xml_record.path)
        np.testing.assert_array_equal(
            read_image_rgb(tfds_record.path), read_image_rgb(xml_record.path)
        )


def test_crowd_objects_are_skipped_for_training_and_kept_flagged_for_evaluation(coco_tfds):  # noqa: F811
    spec = "coco/2017:validation"
    (train,), names, problems = read_tfds(spec, str(coco_tfds), "--train-tfds")
    assert len(names) == 80 and names[0] == "person"
    assert [p.kind for p in problems] == ["crowd_skipped"]
    np.testing.assert_allclose(train.boxes, [[4, 6, 24, 36], [8, 20, 18, 32]], atol=0.01)
    np.testing.assert_array_equal(train.classes, [0, 1])
    (val,), _ = load_split(names, tfds=spec, data_dir=coco_tfds)
    expected = [[x, y, x + w, y + h] for x, y, w, h, *_ in COCO_OBJECTS]
    np.testing.assert_allclose(val.boxes, expected, atol=0.01)
    np.testing.assert_array_equal(val.difficult, [crowd for *_, crowd in COCO_OBJECTS])


def test_not_prepared_is_one_line_saying_how_to_prepare(tmp_path):
    with pytest.raises(TfdsError) as err:
        read_tfds("voc/2007:train", str(tmp_path), "--train-tfds")
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("--train-tfds 'voc/2007:train': voc/2007 is not prepared in")
    assert f"tfds build voc/2007 --data_dir {tmp_path}" in message


def test_a_missing_split_lists_the_splits(voc_tfds):  # noqa: F811
    with pytest.raises(TfdsError, match=r"has no split 'trian'; its splits: test, train, valid"):
        read_tfds("voc/2007:trian", str(voc_tfds["data_dir"]), "--train-tfds")
    with pytest.raises(TfdsError, match="want NAME:SPLIT"):
        read_tfds("voc/2007", str(voc_tfds["data_dir"]), "--train-tfds")


def test_a_slice_reads_its_examples(voc_tfds):  # noqa: F811
    data_dir = str(voc_tfds["data_dir"])
    whole, _, _ = read_tfds("voc/2007:train", data_dir, "--x")
    part, _, _ = read_tfds("voc/2007:train[2:5]", data_dir, "--x")
    assert [r.path.split("/")[-1] for r in part] == [r.path.split("/")[-1] for r in whole[2:5]]
    np.testing.assert_array_equal(read_image_rgb(part[0].path), read_image_rgb(whole[2].path))


def test_the_pipeline_reads_tfds_images_like_files(voc_tfds):  # noqa: F811
    records, names, _ = read_tfds("voc/2007:train", str(voc_tfds["data_dir"]), "--x")
    xml, _ = read_voc_split(voc_tfds["devkit"], 2007, "train", names, keep_difficult=True)
    config = PipelineConfig((64, 64), batch_size=1, seed=3)
    streams = [make_dataset(r[:8], config, training=True, encoder=None) for r in (records, xml)]
    for (image, targets), (xml_image, xml_targets) in zip(
        *(s.take(4) for s in streams), strict=True
    ):
        # augmented training examples: the same order, augmentation and pixels
        np.testing.assert_allclose(image.numpy(), xml_image.numpy(), atol=1e-3)
        np.testing.assert_allclose(
            targets["boxes"].numpy(), xml_targets["boxes"].numpy(), atol=0.05
        )


def test_an_array_record_dataset_reads_as_its_tfrecord_twin(coco_tfds, tmp_path):  # noqa: F811
    build_coco_tfds(tmp_path, file_format="array_record")
    spec = "coco/2017:validation"
    (twin,), _, _ = read_tfds(spec, str(coco_tfds), "--x", keep_crowd=True)
    (record,), _, _ = read_tfds(spec, str(tmp_path), "--x", keep_crowd=True)
    assert record.path.startswith("tfds:coco/2017:validation@")  # another data_dir: its own key
    np.testing.assert_array_equal(record.boxes, twin.boxes)
    np.testing.assert_array_equal(record.difficult, twin.difficult)
    np.testing.assert_array_equal(read_image_rgb(record.path), read_image_rgb(twin.path))
