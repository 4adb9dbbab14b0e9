"""The README's code examples run as written."""

import contextlib
import io
import os
import re
from pathlib import Path

import coco_data
import pytest

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


@pytest.mark.slow
def test_onnx_example_gives_the_predictors_detections(tmp_path, monkeypatch) -> None:
    """The README's ONNX Runtime example, run as written (NumPy, ONNX Runtime and OpenCV only)
    on a model exported by ``centernet export``, finds the ``Predictor``'s detections in the
    original image's pixels; the same letterbox resized by PIL does not."""
    import ast
    import types

    import cv2
    import numpy as np
    from detector_cases import tiny_centernet
    from PIL import Image
    from test_runtime import assert_same_detections

    from centernet_keras.console import main
    from centernet_keras.inference import Predictor

    code = readme_block("A runnable example with NumPy, ONNX Runtime and OpenCV")
    tree = ast.parse(code)
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert imported == {"cv2", "numpy", "onnxruntime"}
    assert not any(isinstance(n, ast.ImportFrom) for n in ast.walk(tree))
    tiny_centernet().save(tmp_path / "best.keras")
    export = ["export", "--model", str(tmp_path / "best.keras"), "--format", "onnx"]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main([*export, "--output", str(tmp_path / "model.onnx")]) == 0
    rng = np.random.default_rng(0)  # wide: the letterbox pads above and below
    cv2.imwrite(str(tmp_path / "photo.jpg"), rng.integers(0, 256, (45, 100, 3), np.uint8))
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(code, "README.md", "exec"), scope)
    want = Predictor.from_checkpoint(tmp_path / "best.keras")(tmp_path / "photo.jpg")
    assert len(want.boxes) >= 3 and want.boxes[:, 3].max() > 20  # found, mapped to 45 px high

    def found(boxes, scores, classes):
        return types.SimpleNamespace(
            boxes=np.asarray(boxes, np.float32), scores=scores, class_ids=classes, keypoints=None
        )

    assert_same_detections(want, found(scope["boxes"], scope["scores"], scope["classes"]))
    # PIL's bilinear resize (antialiased when shrinking) is another image: other detections
    image, (new_w, new_h) = scope["image"], (scope["new_w"], scope["new_h"])
    pil = np.asarray(Image.fromarray(image).resize((new_w, new_h), Image.BILINEAR))
    assert not np.array_equal(pil, cv2.resize(image, (new_w, new_h)))
    canvas = scope["canvas"].copy()
    y, x = scope["pad_y"], scope["pad_x"]
    canvas[y : y + new_h, x : x + new_w] = pil
    other = scope["session"].run(None, {"images": canvas[None]})
    assert not np.allclose(other[scope["names"].index("scores")], scope["out"]["scores"], atol=1e-4)
