"""Annotation-line format: round trip, spaces in paths, difficult flag, malformed lines."""

import numpy as np
import pytest

from centernet_keras.data.annotations import (
    AnnotationError,
    ImageRecord,
    format_line,
    parse_line,
    read_annotation_file,
    write_annotation_file,
)


def test_round_trip_with_spaces_floats_and_difficult():
    record = ImageRecord(
        "data/my images/a b.jpg",
        boxes=[[1, 2, 30, 40], [5.5, 6.25, 7, 8]],
        classes=[3, 0],
        difficult=[False, True],
    )
    line = format_line(record)
    assert line == "data/my images/a b.jpg 1,2,30,40,3 5.5,6.25,7,8,0,1"
    back = parse_line(line)
    assert back.path == record.path
    np.testing.assert_array_equal(back.boxes, record.boxes)
    np.testing.assert_array_equal(back.classes, record.classes)
    np.testing.assert_array_equal(back.difficult, record.difficult)


def test_image_without_objects():
    record = parse_line("JPEGImages/empty.jpg\n")
    assert record.path == "JPEGImages/empty.jpg" and record.boxes.shape == (0, 4)


@pytest.mark.parametrize("line", ["", "   ", "img.jpg 1,2,3,x,0", "1,2,3,4,0"])
def test_malformed_lines_raise(line):
    with pytest.raises(AnnotationError):
        parse_line(line)


def test_file_reports_bad_lines_and_keeps_good_ones(tmp_path):
    good = [ImageRecord("a.jpg", [[0, 0, 5, 5]], [1]), ImageRecord("b.jpg")]
    path = tmp_path / "train.txt"
    write_annotation_file(path, good)
    with path.open("a") as f:
        f.write("c.jpg 1,2,3\n\nd.jpg 0,0,4,4,2\n")
    records, problems = read_annotation_file(path, root="/data")
    assert [r.path for r in records] == ["/data/a.jpg", "/data/b.jpg", "/data/d.jpg"]
    assert len(problems) == 1 and "train.txt:3" in problems[0]
