"""The README's code examples run as written."""

import contextlib
import io
import os
import re
from pathlib import Path

import coco_data

from centernet_keras.data.annotations import read_annotation_file

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_block(after: str) -> str:
    """The first ```python block of the README that follows the paragraph starting ``after``."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n{after}")
    match = re.compile(r"```python\n(.*?)```", re.S).search(text, start)
    next_heading = text.find("\n#", start)
    assert match and (next_heading < 0 or match.start() < next_heading), f"no example: {after}"
    return match.group(1)


def test_coco_conversion_example(tmp_path, monkeypatch) -> None:
    """The README's ``read_coco`` block, then its ``centernet convert coco`` line as written."""
    import shlex

    from centernet_keras.console import main

    code = readme_block("COCO-format datasets")
    json_path, image_dir = coco_data.write_coco(tmp_path)
    json_path.rename(tmp_path / "instances_train.json")
    image_dir.rename(tmp_path / "train_images")
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    assert "empty_category" in out.getvalue()  # the dummy category 0 is reported

    text = README.read_text(encoding="utf-8")
    line = re.search(r"^centernet convert coco .*$", text, re.M).group(0)
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(shlex.split(line)[1:]) == 0
    names = (tmp_path / "coco_train_classes.txt").read_text().split()
    assert names == ["animals", "cat", "dog"]  # ascending category id
    records, problems = read_annotation_file(tmp_path / "coco_train.txt")
    assert problems == [] and [os.path.basename(r.path) for r in records] == [
        "a.jpg",
        "b.png",
        "c.jpg",
    ]
    got = [
        (names[c], [round(float(v)) for v in b])
        for r in records
        for b, c, crowd in zip(r.boxes, r.classes, r.difficult, strict=True)
        if not crowd
    ]
    want = [  # the non-crowd objects, [x, y, w, h] → [x1, y1, x2, y2]
        (name, [x, y, x + w, y + h])
        for _, name, (x, y, w, h), _, crowd in coco_data.ANNOTATIONS
        if not crowd
    ]
    assert got == want
    crowds = sum(int(d) for r in records for d in r.difficult)
    assert crowds == sum(a[4] for a in coco_data.ANNOTATIONS)  # written flagged


def test_fcos_example() -> None:
    code = readme_block("`--neck-filters N` sets")
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    model = namespace["model"]
    assert model.output["classes"].shape == (None, 64 * 64 + 32 * 32 + 16 * 16, 20)
    assert model.decoder.image_size == (512, 512)
