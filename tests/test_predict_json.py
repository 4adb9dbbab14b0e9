"""predict --json: the detections in the COCO results format, for an image, a folder (one file)
or a video (frame index = image id), equal to the Predictor's (issue 26 point 8)."""

import contextlib
import io
import json
from pathlib import Path

import cv2
import keras
import numpy as np
import pytest
from helpers import load_script, save_tiny_centernet
from PIL import Image

from centernet_keras.inference import Predictor

predict = load_script("predict.py")
CLASSES = ["cat", "dog"]
#: The detections compared: up to 8 of an untrained model (after its NMS), every score kept.
SETTINGS = ["--score-threshold", "0", "--max-detections", "8", "--no-progress"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    keras.utils.set_random_seed(0)
    keras.utils.set_random_seed(0)
    return save_tiny_centernet(tmp_path_factory.mktemp("ckpt") / "tiny.keras", 16, 8, CLASSES)


@pytest.fixture(scope="module")
def predictor(checkpoint):
    return Predictor.from_checkpoint(checkpoint, score_threshold=0.0, max_detections=8)


def _images(folder: Path, rng) -> list[Path]:
    folder.mkdir()
    paths = []
    for name, (h, w) in {"b.png": (40, 90), "a.jpg": (96, 50)}.items():
        paths.append(folder / name)
        Image.fromarray(rng.integers(0, 256, (h, w, 3)).astype(np.uint8)).save(paths[-1])
    return sorted(paths)


def _expected(detections, image_id, file_name) -> list[dict]:
    """The results the Predictor's ``detections`` should be written as (image pixels)."""
    assert len(detections) > 0  # something to compare
    return [
        {
            "image_id": image_id,
            "category_id": int(c),
            "bbox": [float(x1), float(y1), float(x2) - float(x1), float(y2) - float(y1)],
            "score": float(s),
            "category_name": CLASSES[int(c)],
            "file_name": file_name,
        }
        for (x1, y1, x2, y2), c, s in zip(
            detections.boxes, detections.class_ids, detections.scores, strict=True
        )
    ]


def _load_res(results_file: Path, images: dict[int, tuple[str, int, int]]):
    """pycocotools' ``loadRes`` of the file, against a ground truth of ``images``
    (id → (name, height, width)) and the model's classes as categories."""
    from pycocotools.coco import COCO

    gt = COCO()
    gt.dataset = {
        "images": [
            {"id": i, "file_name": n, "height": h, "width": w} for i, (n, h, w) in images.items()
        ],
        "annotations": [],
        "categories": [{"id": i, "name": name} for i, name in enumerate(CLASSES)],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        return gt.loadRes(str(results_file))


def test_image_json_holds_the_predictors_detections(checkpoint, predictor, tmp_path, rng):
    (path,) = _images(tmp_path / "in", rng)[:1]
    out = tmp_path / "out" / "a.jpg"
    argv = ["--model", str(checkpoint), "--input", str(path), "--output", str(out), *SETTINGS]
    assert predict.main([*argv, "--json"]) == 0  # without FILE: next to --output
    results = json.loads(out.with_suffix(".json").read_text())
    assert results == _expected(predictor(path), 1, path.name)
    h, w = cv2.imread(str(path)).shape[:2]
    loaded = _load_res(out.with_suffix(".json"), {1: (path.name, h, w)})
    assert len(loaded.anns) == len(results)
    assert [a["area"] for a in loaded.anns.values()] == [
        r["bbox"][2] * r["bbox"][3] for r in results
    ]


def test_folder_json_is_one_file_for_every_image(checkpoint, predictor, tmp_path, rng, capsys):
    paths = _images(tmp_path / "in", rng)
    (tmp_path / "in" / "notes.txt").write_text("not an image")
    (tmp_path / "in" / "broken.png").write_bytes(b"garbage")  # skipped: no image id
    target = tmp_path / "results" / "folder.json"
    argv = ["--model", str(checkpoint), "--mode", "dir", "--input", str(tmp_path / "in")]
    assert (
        predict.main([*argv, "--output", str(tmp_path / "out"), "--json", str(target), *SETTINGS])
        == 0
    )
    want = [r for i, p in enumerate(paths, 1) for r in _expected(predictor(p), i, p.name)]
    assert f"{len(want)} detection(s) written to {target}" in capsys.readouterr().out
    assert json.loads(target.read_text()) == want
    sizes = {i: (p.name, *cv2.imread(str(p)).shape[:2]) for i, p in enumerate(paths, 1)}
    assert len(_load_res(target, sizes).anns) == len(want)
    assert sorted(p.name for p in target.parent.iterdir()) == ["folder.json"]  # no temporary


def test_video_json_numbers_frames_from_0(checkpoint, predictor, tmp_path):
    src = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(src), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (80, 48))
    rng = np.random.default_rng(1)
    for _ in range(3):
        writer.write(rng.integers(0, 256, (48, 80, 3)).astype(np.uint8))
    writer.release()
    out = tmp_path / "clip_out.mp4"
    argv = ["--model", str(checkpoint), "--mode", "video", "--input", str(src)]
    assert predict.main([*argv, "--output", str(out), "--json", *SETTINGS]) == 0
    capture, frames = cv2.VideoCapture(str(src)), []
    while (read := capture.read())[0]:
        frames.append(cv2.cvtColor(read[1], cv2.COLOR_BGR2RGB))
    want = [r for i, f in enumerate(frames) for r in _expected(predictor(f), i, "clip.mp4")]
    assert len(frames) == 3 and json.loads(out.with_suffix(".json").read_text()) == want
    sizes = {i: ("clip.mp4", 48, 80) for i in range(3)}
    assert len(_load_res(out.with_suffix(".json"), sizes).anns) == len(want)


@pytest.mark.parametrize("mode", ["fps", "heatmap", "export"])
def test_json_in_a_mode_without_detections_is_a_usage_error(checkpoint, tmp_path, mode, capsys):
    argv = ["--model", str(checkpoint), "--mode", mode, "--input", str(tmp_path / "x.jpg")]
    with pytest.raises(SystemExit) as exit_info:
        predict.main([*argv, "--json", str(tmp_path / "x.json")])
    assert exit_info.value.code == 2
    assert f"--json writes the detections of --mode image, dir or video, not {mode}" in (
        capsys.readouterr().err
    )


def test_json_over_the_input_image_is_refused(checkpoint, tmp_path, rng, capsys):
    (path,) = _images(tmp_path / "in", rng)[:1]
    before = path.read_bytes()
    argv = ["--model", str(checkpoint), "--input", str(path), "--output", str(tmp_path / "o.jpg")]
    assert predict.main([*argv, "--json", str(path)]) == 2
    err = capsys.readouterr().err
    assert (
        err
        == f"error: --json {path} is the --input file: it would be replaced (give another FILE)\n"
    )
    assert path.read_bytes() == before and not (tmp_path / "o.jpg").exists()
