"""The PR curve PNGs of val/get_map: the shaded area is the AP their title gives (the
interpolated precision the AP is computed from, not the raw precision)."""

import numpy as np
import pytest
from matplotlib.figure import Figure
from reference_data import load_json

from centernet_keras.evaluation import evaluate
from centernet_keras.evaluation.plots import plot_pr_curves

REF = load_json("voc_eval.json")


def _polygon_area(xy: np.ndarray) -> float:
    """Shoelace area of a closed polygon's ``[N, 2]`` vertices."""
    x, y = xy[:, 0], xy[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2.0)


def _shaded_area(fig: Figure) -> float:
    """The area (data units) of everything filled in the figure's axes: ``fill_between``
    polygons and bars, from the plotted vertices."""
    (ax,) = fig.axes
    area = 0.0
    for collection in ax.collections:
        for path in collection.get_paths():
            for polygon in path.to_polygons(closed_only=False):
                area += _polygon_area(np.asarray(polygon, float))
    for patch in ax.patches:
        corners = patch.get_patch_transform().transform(patch.get_path().vertices)
        area += _polygon_area(corners)
    return area


def _figures(monkeypatch, result, tmp_path) -> dict[str, Figure]:
    """``plot_pr_curves``' figures by file name (captured when saved)."""
    saved = {}
    original = Figure.savefig

    def record(fig, fname, *args, **kwargs):
        saved[len(saved)] = fig
        return original(fig, fname, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", record)
    paths = plot_pr_curves(result, tmp_path)
    assert len(paths) == len(saved)
    return {path.name: saved[i] for i, path in enumerate(paths)}


def _false_positives_first(seed: int) -> tuple[dict, list[dict]]:
    """One class, 10 GT boxes; the highest-scored detections are mostly false positives, so
    the raw precision stays far below its envelope (FCOS' early curves)."""
    rng = np.random.default_rng(seed)
    gt = [{"image_id": 1, "bbox": [20.0 * i, 0.0, 20.0 * i + 10, 10.0], "class": 0}
          for i in range(10)]  # fmt: skip
    ground_truth = {"classes": ["a"], "images": [{"id": 1, "width": 200, "height": 50}], "gt": gt}
    hits = [{"image_id": 1, "bbox": g["bbox"], "class": 0} for g in gt[: rng.integers(4, 10)]]
    misses = [{"image_id": 1, "bbox": [0.0, 30.0, 10.0, 40.0], "class": 0}] * rng.integers(5, 30)
    detections = [*misses[: len(misses) // 2], *hits, *misses[len(misses) // 2 :]]
    scores = np.sort(rng.uniform(0.0, 1.0, len(detections)))[::-1]
    detections = [{**d, "score": float(s)} for d, s in zip(detections, scores, strict=True)]
    return ground_truth, detections


@pytest.mark.parametrize("metric", ["voc07", "voc"])
def test_shaded_area_is_the_titles_ap(monkeypatch, tmp_path, metric):
    cases = [(REF, REF["det"])] + [_false_positives_first(seed) for seed in range(6)]
    checked = 0
    for ground_truth, detections in cases:
        result = evaluate(ground_truth, detections, metric)
        figures = _figures(monkeypatch, result, tmp_path / str(checked))
        for name, r in result.per_class.items():
            fig = figures[f"pr_{name}.png"]
            if np.isnan(r.ap):
                continue
            assert f"AP = {r.ap:.4f}" in fig.axes[0].get_title()
            assert _shaded_area(fig) == pytest.approx(r.ap, abs=1e-9), (metric, name)
            checked += 1
    assert checked >= 8
