"""The training pictures: results.png from log.csv, when val_predictions.jpg and the confusion
matrix are written (reusing the mAP pass), and both for a pose model."""

import csv
import json
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from centernet_keras.training import artefacts
from centernet_keras.training.artefacts import (
    CONFUSION_CSV,
    CONFUSION_PNG,
    GRID_JPG,
    LossPlotCallback,
    ValidationArtefacts,
    loss_figure,
    plot_results,
    results_figure,
)
from centernet_keras.training.map_callback import ValidationRun

MAP_GREEN = (44, 160, 44)  # matplotlib's tab:green, the mAP curve


def _write_log(path, rows):
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, columns, restval="")
        writer.writeheader()
        writer.writerows(rows)


def _green(path) -> int:
    pixels = np.asarray(Image.open(path).convert("RGB"), int)
    return int(np.all(np.abs(pixels - MAP_GREEN) <= 6, axis=-1).sum())


def test_results_has_a_panel_per_loss_term_and_the_map(tmp_path):
    rows = []
    for epoch in range(4):
        loss = 3.0 / (epoch + 1)
        row = {"epoch": epoch + 1, "heatmap_loss": loss * 0.8, "loss": loss}
        row["lr"] = 1e-3 / (epoch + 1)
        row |= {"size_loss": loss * 0.1, "val_heatmap_loss": loss, "val_loss": loss * 1.2}
        row["val_map"] = 0.2 * epoch if epoch % 2 else ""  # evaluated epochs only
        rows.append(row)
    _write_log(tmp_path / "log.csv", rows)
    panels = plot_results(tmp_path / "log.csv", tmp_path / "results.png")
    assert panels == ["loss", "heatmap_loss", "size_loss", "val_map", "lr"]
    image = Image.open(tmp_path / "results.png")
    assert image.size == (1600, 600)  # 4 panels a row of 400 x 300 px, 2 rows
    assert np.asarray(image.convert("L"), float).std() > 20.0
    assert _green(tmp_path / "results.png") > 40  # the mAP points and line

    for row in rows:
        del row["val_map"]
    _write_log(tmp_path / "log.csv", rows)
    assert plot_results(tmp_path / "log.csv", tmp_path / "results.png")[-2:] == ["val_map", "lr"]
    assert _green(tmp_path / "results.png") == 0  # a note instead of a curve
    _write_log(tmp_path / "empty.csv", [])
    assert plot_results(tmp_path / "empty.csv", tmp_path / "none.png") == []
    assert not (tmp_path / "none.png").exists()


def _one_epoch(**metrics) -> tuple[list[str], list[dict]]:
    """``log.csv``'s columns and row after epoch 1 (a run that validates)."""
    row = {"epoch": "1", "heatmap_loss": "2.5", "loss": "3.1", "size_loss": "0.3"}
    row |= {"val_heatmap_loss": "2.6", "val_loss": "3.3", "val_map": "", "val_size_loss": "0.4"}
    row |= {"lr": "2e-05", "skipped_images": "0", **metrics}
    return list(row), [row]


def _visible_ticks(ax) -> list[tuple[float, str]]:
    """``(position, label)`` of the x ticks inside the axes' view (after a draw)."""
    low, high = ax.get_xlim()
    ticks = zip(ax.get_xticks(), ax.get_xticklabels(), strict=True)
    return [(float(t), label.get_text()) for t, label in ticks if low <= t <= high]


def _metric_note(fig, title: str) -> str:
    (ax,) = [ax for ax in fig.axes if ax.get_title() == title]
    return " ".join(text.get_text() for text in ax.texts)


@pytest.mark.parametrize(
    "eval_every,validation,says",
    [
        (2, True, ["first measured after epoch 2", "(--eval-every 2)"]),
        (5, True, ["first measured after epoch 3", "(--eval-every 5)"]),  # the last, 3
        (0, True, ["none measured", "(--eval-every 0)"]),
        (1, False, ["no validation set"]),
    ],
)
def test_results_of_one_epoch_integer_ticks_labels_inside_and_why_no_map(
    eval_every, validation, says
):
    """After epoch 1: one tick, "1", on every panel; every title, label and tick label inside the
    figure and off the other panels; the empty mAP panel says why, with the run's --eval-every."""
    columns, rows = _one_epoch()
    fig, panels = results_figure(columns, rows, eval_every, validation, last_epoch=3)
    assert panels == ["loss", "heatmap_loss", "size_loss", "val_map", "lr"]
    renderer = fig.canvas.get_renderer()
    fig.canvas.draw()
    boxes = []
    for ax in fig.axes:
        assert _visible_ticks(ax) == [(1.0, "1")], ax.get_title()
        box = ax.get_tightbbox(renderer)  # the axes with its title, labels and tick labels
        assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1, ax.get_title()
        assert fig.bbox.y0 <= box.y0 and box.y1 <= fig.bbox.y1, ax.get_title()
        assert not any(box.overlaps(other) for other in boxes), ax.get_title()
        boxes.append(box)
    note = _metric_note(fig, "val mAP@0.5 (VOC07)")
    assert all(words in note for words in says), note
    assert ("--eval-every" in note) == validation


def test_results_draw_a_pose_runs_keypoint_ap():
    columns, rows = _one_epoch(val_keypoint_ap="")
    rows = [rows[0], {**rows[0], "epoch": "2", "val_map": "0.25", "val_keypoint_ap": "0.125"}]
    fig, panels = results_figure(columns, rows, eval_every=2, last_epoch=2)
    assert panels[-3:] == ["val_map", "val_keypoint_ap", "lr"]
    (ax,) = [ax for ax in fig.axes if ax.get_title().startswith("val keypoint AP")]
    (line,) = ax.get_lines()
    assert list(line.get_xdata()) == [2] and list(line.get_ydata()) == [0.125]


def test_loss_png_of_one_epoch_shows_its_points(tmp_path):
    rows = _one_epoch()[1]
    fig = loss_figure(rows)
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    assert set(lines) == {"loss", "val_loss"}
    for line in lines.values():
        assert len(line.get_xdata()) == 1
        assert line.get_marker() not in ("None", "", " ", None) and line.get_markersize() > 0
    assert [t for t, _ in _visible_ticks(fig.axes[0])] == [1.0]
    _write_log(tmp_path / "log.csv", rows)
    LossPlotCallback(tmp_path / "log.csv", tmp_path / "loss.png").on_epoch_end(0)
    assert Image.open(tmp_path / "loss.png").size == (700, 400)


def _run(epoch: int, score_threshold: float = 0.01) -> ValidationRun:
    ground_truth = {"classes": ["a"], "images": [{"id": 1}], "gt": []}
    image = np.full((40, 60, 3), 128, np.uint8)
    from centernet_keras.detections import Detections

    none = Detections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32),
                      np.zeros(0, np.int32), [], (40, 60))  # fmt: skip
    return ValidationRun(epoch, score_threshold, ground_truth, [], [(image, none)])


def _model(stop_training: bool) -> SimpleNamespace:
    """A stand-in for the trained detector: what the callbacks read of it (a box model)."""
    return SimpleNamespace(stop_training=stop_training, keypoint_spec=None)


def test_grid_every_eval_epoch_and_the_matrix_after_the_last(tmp_path, monkeypatch):
    """The grid after epochs 2, 4 and 5 (every 2, last 5), from the mAP pass of that epoch;
    the matrix after epoch 5 only; the validation set is never run a second time."""
    source = SimpleNamespace(latest=None)
    callback = ValidationArtefacts([object()], tmp_path, every=2, last_epoch=5, source=source)
    callback.set_model(_model(stop_training=False))
    monkeypatch.setattr(artefacts, "run_validation", lambda *a, **k: pytest.fail("ran twice"))
    written = []
    for epoch in range(5):
        if (epoch + 1) % 2 == 0 or epoch == 4:
            source.latest = _run(epoch)
        (tmp_path / GRID_JPG).unlink(missing_ok=True)
        callback.on_epoch_end(epoch, {"loss": 1.0})
        written.append(((tmp_path / GRID_JPG).exists(), (tmp_path / CONFUSION_PNG).exists()))
    assert written == [(False, False), (True, False), (False, False), (True, False), (True, True)]
    assert Image.open(tmp_path / GRID_JPG).size == (256, 256)
    with open(tmp_path / CONFUSION_CSV) as f:
        assert next(csv.reader(f)) == ["true\\predicted", "a", "background"]


def test_a_pass_above_the_pictures_threshold_is_not_reused(tmp_path, monkeypatch):
    """mAP detections at --eval-score-threshold 0.5 lack the 0.3-0.5 ones: run again at 0.3;
    without an mAP callback (--eval-every 0) the last epoch runs the set once."""
    calls = []

    def fake(model, records, score_threshold, samples, epoch):
        calls.append((score_threshold, samples, epoch))
        return _run(epoch, score_threshold)

    monkeypatch.setattr(artefacts, "run_validation", fake)
    source = SimpleNamespace(latest=_run(0, score_threshold=0.5))
    callback = ValidationArtefacts([object()], tmp_path, every=1, last_epoch=1, source=source)
    callback.set_model(_model(stop_training=False))
    callback.on_epoch_end(0, {"loss": 1.0})
    assert calls == [(0.3, 16, 0)] and (tmp_path / CONFUSION_PNG).exists()

    calls.clear()
    plain = ValidationArtefacts([object()], tmp_path / "b", every=0, last_epoch=2)
    (tmp_path / "b").mkdir()
    plain.set_model(_model(stop_training=False))
    plain.on_epoch_end(0, {"loss": 1.0})
    assert calls == [] and not (tmp_path / "b" / GRID_JPG).exists()
    plain.on_epoch_end(1, {"loss": 1.0})
    assert calls == [(0.3, 16, 1)] and (tmp_path / "b" / CONFUSION_PNG).exists()


def test_stopped_early_writes_the_matrix_unless_the_loss_is_nan(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(artefacts, "run_validation", lambda m, r, s, n, epoch: _run(epoch, s))
    for loss, written in ((1.0, True), (float("nan"), False)):
        out = tmp_path / str(written)
        out.mkdir()
        callback = ValidationArtefacts([object()], out, every=0, last_epoch=10)
        callback.set_model(_model(stop_training=True))
        callback.on_epoch_end(2, {"loss": loss})
        callback.on_train_end()
        assert (out / CONFUSION_PNG).exists() == written
    assert "non-finite loss" in caplog.text


@pytest.mark.slow
def test_pose_model_pictures(tmp_path):
    """A tiny pose model on synthetic people: skeletons in the grid, a 1-class matrix whose true
    row counts every person."""
    from detector_cases import tiny_pose

    from centernet_keras.data.coco import read_coco
    from centernet_keras.data.synthetic_pose import generate_pose_dataset
    from centernet_keras.visualize.pose import LEFT_COLOR, RIGHT_COLOR

    paths = generate_pose_dataset(tmp_path / "data", num_images=4, seed=5, val_fraction=0.5)
    records, _, _ = read_coco(paths["val"], paths["images"])
    people = len(json.loads(paths["val"].read_text())["annotations"])
    model = tiny_pose(input_shape=(64, 64, 3), class_names=["person"])
    callback = ValidationArtefacts(records, tmp_path, every=1, last_epoch=1)
    callback.set_model(model)
    callback.on_epoch_end(0, {"loss": 1.0})

    grid = np.asarray(Image.open(tmp_path / GRID_JPG).convert("RGB"), int)
    assert grid.shape == (256, 2 * 256 + 2, 3)  # 2 validation images, one row
    for color in (LEFT_COLOR, RIGHT_COLOR):  # limbs of the detected people (JPEG: tolerance)
        assert np.all(np.abs(grid - color) <= 40, axis=-1).sum() > 20, color
    with open(tmp_path / CONFUSION_CSV) as f:
        rows = list(csv.reader(f))
    assert [r[0] for r in rows] == ["true\\predicted", "person", "background"]
    assert sum(int(v) for v in rows[1][1:]) == people  # found + missed = every person
