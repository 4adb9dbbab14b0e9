"""``centernet check`` on a TFDS source (issue 23): the doctor reads the data with train's
loader, so ``--train-tfds`` works as ``--train``; images are hashed from the TFDS files."""

import re

from tfds_data import voc_tfds  # noqa: F401 (fixture)

from centernet_keras.console import main


def test_check_reads_a_tfds_split(voc_tfds, tmp_path, capsys):  # noqa: F811
    argv = ["check", "--train-tfds", "voc/2007:train", "--data-dir", str(voc_tfds["data_dir"]),
            "--detector", "fcos", "--backbone", "mobilenetv3_small", "--input-size", "128",
            "--output-dir", str(tmp_path)]  # fmt: skip
    assert main(argv) == 1  # the 18-image split has 5 of VOC's 20 classes
    out = capsys.readouterr().out
    assert "TFDS voc/2007:train (20 classes)" in out and "training: 18 images, 58 objects" in out
    assert re.search(r" 0 +0.0 % +images +unreadable", out), out
    assert "15 of 20 classes (75.0 %) classes without an object" in out
    assert (tmp_path / "data_report.png").is_file()
