"""ONNX Runtime behind the Predictor (centernet_keras/engines/onnx*.py): the Keras detections for
every detector, the graph cache (built once, reused, rebuilt for a changed model file), INT8,
and ``--runtime`` / ``--quantize`` through predict.py and get_map.py.

Each float graph costs one tf2onnx conversion (seconds): the three detectors' saved files are
made once for the module and the CLI tests reuse the CenterNet file's cached graph.
"""

import hashlib
import json
import os
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest
from detector_cases import CASES, CLASSES, tiny_centernet, tiny_fcos
from helpers import load_script
from PIL import Image

from centernet_keras import runtime
from centernet_keras.engines import onnx as onnx_engine
from centernet_keras.engines import onnx_cache
from centernet_keras.inference import Predictor

predict = load_script("predict.py")
get_map = load_script("get_map.py")
SETTINGS = {"score_threshold": 0.05}  # the CLI tests pass the same: one cached graph
IMAGE_SHAPES = ((48, 80), (70, 50))


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict:
    """Each tiny detector saved to its own folder: ``{case name: .keras path}``."""
    paths = {}
    for case in CASES:
        keras.utils.set_random_seed(0)
        path = tmp_path_factory.mktemp(case.name) / "model.keras"
        case.build().save(path)
        paths[case.name] = path
    return paths


@pytest.fixture(scope="module")
def images() -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    return [rng.integers(0, 256, (*hw, 3)).astype(np.uint8) for hw in IMAGE_SHAPES]


@pytest.fixture
def sessions_run(monkeypatch) -> list:
    """Counts ONNX Runtime runs (the ORT path ran, whatever the cache held before)."""
    calls: list = []
    real = runtime.run_session

    def spy(session, images):
        calls.append(images.shape)
        return real(session, images)

    monkeypatch.setattr(onnx_engine, "run_session", spy)
    return calls


def assert_same_detections(want, got) -> None:
    """The same detections as a set: each of ``want`` has its own one in ``got`` (same class,
    box to 1e-3); two near-equal scores may come out in either order."""
    assert len(got.boxes) == len(want.boxes) > 0
    distance = np.abs(want.boxes[:, None] - got.boxes[None]).max(-1)
    distance[want.class_ids[:, None] != got.class_ids[None]] = np.inf
    match = distance.argmin(1)
    assert len(set(match.tolist())) == len(match), "two detections matched one"
    np.testing.assert_allclose(got.boxes[match], want.boxes, rtol=0, atol=1e-3)
    np.testing.assert_array_equal(got.class_ids[match], want.class_ids)
    np.testing.assert_allclose(got.scores[match], want.scores, rtol=0, atol=1e-4)
    if want.keypoints is not None:
        np.testing.assert_allclose(got.keypoints[match], want.keypoints, rtol=0, atol=1e-3)
        np.testing.assert_allclose(
            got.keypoint_scores[match], want.keypoint_scores, rtol=0, atol=1e-4
        )


@pytest.mark.kernels
@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_onnxruntime_detections_equal_keras(case, files, images) -> None:
    keras_path = Predictor.from_checkpoint(files[case.name], **SETTINGS)
    ort_path = Predictor.from_checkpoint(files[case.name], runtime="onnxruntime", **SETTINGS)
    for image in images:  # letterboxed into the fixed 64 x 64 input: one graph
        assert_same_detections(keras_path(image), ort_path(image))
    assert ort_path.engine.builds == 1
    cache = files[case.name].parent / "model.onnxruntime"
    graphs = sorted(p.name for p in cache.glob("*.onnx"))
    assert len(graphs) == 1 and graphs[0].startswith("float_64x64_")
    sidecar = json.loads((cache / graphs[0]).with_suffix(".json").read_text())
    assert sidecar["decoder"]["score_threshold"] == 0.05
    if case.name == "centernet":  # the maps too (heatmap mode, fps mode's forward)
        batch, _ = keras_path.preprocess(images[0])
        want, got = keras_path.forward(batch), ort_path.forward(batch)
        assert set(got) == set(want)
        for key in want:
            np.testing.assert_allclose(got[key], want[key], rtol=0, atol=1e-4, err_msg=key)


@pytest.mark.slow
def test_cache_is_reused_then_rebuilt_when_the_model_file_changes(
    files, images, monkeypatch, tmp_path
) -> None:
    first = Predictor.from_checkpoint(files["centernet"], runtime="onnxruntime", **SETTINGS)
    first(images[0])  # built here or by the test above: either way, now cached
    shutil.copytree(files["centernet"].parent, tmp_path / "copy")  # the cache goes along
    path = tmp_path / "copy" / "model.keras"
    graph = next(path.parent.glob("model.onnxruntime/*.onnx"))
    stamp = graph.stat().st_mtime_ns
    again = Predictor.from_checkpoint(path, runtime="onnxruntime", **SETTINGS)
    again(images[0])
    assert again.engine.builds == 0 and graph.stat().st_mtime_ns == stamp
    # Another decoder setting is another graph (its key differs); no build needed to see it.
    other = Predictor.from_checkpoint(path, runtime="onnxruntime", score_threshold=0.3)
    assert other.engine.graph_path((64, 64), False) != graph

    converted, content = [], graph.read_bytes()

    def fake_convert(self, out, hw, decoder):  # the graph's contents are tested above
        converted.append(hw)
        out.write_bytes(content)

    monkeypatch.setattr(runtime.OnnxEngine, "_convert", fake_convert)
    changed = path.parent / "changed.keras"
    model = keras.saving.load_model(path)
    model.get_layer("size").bias.assign(np.array([4.0, 6.0], np.float32))
    model.save(changed)
    os.replace(changed, path)  # the same file name, new contents
    rebuilt = Predictor.from_checkpoint(path, runtime="onnxruntime", **SETTINGS)
    rebuilt.engine.session((64, 64))
    assert converted == [(64, 64)] and rebuilt.engine.builds == 1
    assert not graph.exists()  # the old model's graph is removed
    assert len(list(path.parent.glob("model.onnxruntime/*.onnx"))) == 1


@pytest.mark.slow
def test_dynamic_input_size_one_graph_for_every_size(images) -> None:
    """A CenterNet with a dynamic input size: one graph with dynamic H and W (an in-memory
    model: cached in a temporary folder)."""
    keras.utils.set_random_seed(1)
    model = tiny_centernet(input_shape=(None, None, 3))
    keras_path = Predictor(model, input_size=None, **SETTINGS)
    ort_path = Predictor(model, runtime="onnxruntime", **SETTINGS)
    shapes = set()
    for image in images:
        batch, _ = keras_path.preprocess(image)
        shapes.add(batch.shape[1:3])
        assert_same_detections(keras_path(image), ort_path(image))
    assert len(shapes) == 2 and ort_path.engine.builds == 1
    assert ort_path.engine.graph_hw((64, 96)) is None


def test_fcos_with_a_dynamic_size_gets_a_graph_per_size() -> None:
    engine = Predictor(tiny_fcos(input_shape=(None, None, 3)), runtime="onnxruntime").engine
    assert engine.graph_hw((64, 96)) == (64, 96)  # its decoder bakes in the locations
    assert engine.graph_path((64, 96), False) != engine.graph_path((96, 64), False)


@pytest.mark.slow
def test_int8_runs_and_stays_close(files, images, tmp_path) -> None:
    folder = tmp_path / "calibration"
    folder.mkdir()
    rng = np.random.default_rng(5)
    for i in range(4):
        Image.fromarray(rng.integers(0, 256, (60, 60, 3)).astype(np.uint8)).save(
            folder / f"{i}.png"
        )
    (folder / "notes.txt").write_text("not an image")
    path = files["centernet"]
    with pytest.warns(UserWarning, match="int8 changes the detections"):
        int8 = Predictor.from_checkpoint(
            path, runtime="onnxruntime", quantize="int8", calibration_images=folder,
            calibration_count=3, **SETTINGS,
        )  # fmt: skip
    assert [p.name for p in int8.engine.calibration] == ["0.png", "2.png", "3.png"]
    detections = int8(images[0])
    assert len(detections.boxes) > 0 and np.all(np.isfinite(detections.boxes))
    assert np.all((detections.class_ids >= 0) & (detections.class_ids < len(CLASSES)))
    assert np.all((detections.scores >= 0.05) & (detections.scores <= 1))
    assert len(list(path.parent.glob("model.onnxruntime/int8_64x64_*.onnx"))) == 1
    batch, _ = int8.preprocess(images[0])
    want = Predictor.from_checkpoint(path, **SETTINGS).forward(batch)
    got = int8.forward(batch)
    assert 0 < np.abs(got["heatmap"] - want["heatmap"]).max() < 0.1  # quantized, not broken


def test_settings_errors(files, tmp_path) -> None:
    model = tiny_centernet()
    with pytest.raises(ValueError, match="runtime must be one of"):
        Predictor(model, runtime="tensorrt")
    with pytest.raises(ValueError, match="needs --runtime onnxruntime"):
        Predictor(model, quantize="int8", calibration_images=tmp_path)
    with pytest.raises(ValueError, match="needs --calibration-images"):
        Predictor(model, runtime="onnxruntime", quantize="int8")
    with pytest.raises(ValueError, match="no images in"):
        Predictor(model, runtime="onnxruntime", quantize="int8", calibration_images=tmp_path)
    with pytest.raises(FileNotFoundError, match="no such folder"):
        Predictor(model, runtime="onnxruntime", quantize="int8", calibration_images="nowhere")


def test_cli_errors_are_one_line(files, tmp_path, capsys) -> None:
    image = tmp_path / "a.png"
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(image)
    argv = ["--model", str(files["centernet"]), "--input", str(image)]
    assert predict.main([*argv, "--quantize", "int8", "--calibration-images", "x"]) == 1
    assert "error: --quantize int8 needs --runtime onnxruntime" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        predict.main([*argv, "--mode", "export", "--runtime", "onnxruntime"])
    assert "--mode export writes the model itself" in capsys.readouterr().err


@pytest.mark.slow
def test_predict_cli_runtime_onnxruntime(files, images, tmp_path, capsys, sessions_run) -> None:
    image = tmp_path / "street.png"
    Image.fromarray(images[0]).save(image)
    argv = ["--model", str(files["centernet"]), "--input", str(image), "--score-threshold"]
    printed = {}
    for name in ("keras", "onnxruntime"):
        out = tmp_path / name / "street.png"
        assert predict.main([*argv, "0.05", "--output", str(out), "--runtime", name]) == 0
        printed[name] = capsys.readouterr().out.replace(str(out), "OUT")
        assert len(sessions_run) == (name == "onnxruntime")
    assert printed["onnxruntime"] == printed["keras"]  # "<class> <score> [x1, y1, x2, y2]"
    assert printed["keras"].count("[") > 0
    assert list((files["centernet"].parent / "model.onnxruntime").glob("float_64x64_*.onnx"))


@pytest.mark.slow
def test_get_map_cli_runtime_onnxruntime(files, images, tmp_path, capsys, sessions_run) -> None:
    lines = []
    for i, image in enumerate(images):
        path = tmp_path / f"{i}.png"
        Image.fromarray(image).save(path)
        lines.append(f"{path} 5,6,30,33,0 10,12,40,44,1")
    (tmp_path / "val.txt").write_text("\n".join(lines) + "\n")
    argv = ["--model", str(files["centernet"]), "--annotation-file", str(tmp_path / "val.txt")]
    argv += ["--score-threshold", "0.05", "--no-progress", "--metrics", "voc", "--output-dir"]
    summaries = {}
    for name in ("keras", "onnxruntime"):
        assert get_map.main([*argv, str(tmp_path / name), "--runtime", name]) == 0
        summaries[name] = json.loads((tmp_path / name / "summary.json").read_text())
    capsys.readouterr()
    assert len(sessions_run) == len(images)
    keras_run, ort_run = summaries["keras"], summaries["onnxruntime"]
    assert ort_run["num_detections"] == keras_run["num_detections"] > 0
    assert ort_run["metrics"]["voc"]["mAP"] == pytest.approx(keras_run["metrics"]["voc"]["mAP"])


@pytest.mark.kernels
@pytest.mark.slow
def test_fcos_regnetx_onnxruntime_detections_equal_keras(images) -> None:
    """FCOS's default backbone: RegNetX's grouped convolutions (``GroupedConv2D``) convert to
    ONNX ``Conv`` with ``group`` and give the Keras detections and maps."""
    keras.utils.set_random_seed(2)
    model = tiny_fcos(backbone="regnetx_400mf")
    keras_path = Predictor(model, **SETTINGS)
    ort_path = Predictor(model, runtime="onnxruntime", **SETTINGS)
    for image in images:
        assert_same_detections(keras_path(image), ort_path(image))
    batch, _ = keras_path.preprocess(images[0])
    want, got = keras_path.forward(batch), ort_path.forward(batch)
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=0, atol=1e-4, err_msg=key)
    assert ort_path.engine.builds == 1


def _xla_grouped_backbone() -> keras.Model:
    """A user's backbone with a plain ``keras.layers.Conv2D(groups=2)`` (Keras runs it as an
    XLA function call)."""
    inputs = keras.Input((64, 64, 3))
    x = keras.layers.Conv2D(8, 3, strides=8, padding="same")(inputs)
    p3 = keras.layers.Conv2D(8, 3, padding="same", groups=2)(x)
    p4 = keras.layers.Conv2D(8, 3, strides=2, padding="same")(p3)
    p5 = keras.layers.Conv2D(8, 3, strides=2, padding="same")(p4)
    return keras.Model(inputs, {"P3": p3, "P4": p4, "P5": p5})


def test_a_model_onnx_runtime_cannot_run_is_a_clear_error():
    """tf2onnx leaves Keras' XLA call of a plain grouped Conv2D in the graph and ONNX Runtime
    refuses it: one ValueError naming the way out, not onnxruntime's."""
    from centernet_keras.models import build_fcos

    model = build_fcos(2, _xla_grouped_backbone(), fpn_channels=8, stem_channels=(8,))
    image = np.zeros((64, 64, 3), np.uint8)
    with pytest.raises(ValueError, match=r"GroupedConv2D.*use --runtime keras"):
        Predictor(model, runtime="onnxruntime")(image)


# ---- the cache key holds the code that builds the graph (issue 21 point 4) --------------------

#: Module attributes read into the key: the package, TensorFlow / Keras (they trace the graph),
#: tf2onnx / onnx (they write it) and ONNX Runtime (it quantizes and runs it).
VERSIONED = ("centernet_keras", "tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime")


def _fake_build(monkeypatch) -> list:
    """Graph builds replaced by writing placeholder bytes (the key is what is tested here)."""
    built: list = []

    def convert(self, out, hw, decoder):
        built.append(("convert", hw))
        out.write_bytes(b"graph")

    def quantize(self, source, out, hw):
        built.append(("quantize", hw))
        out.write_bytes(b"int8 graph")

    monkeypatch.setattr(runtime.OnnxEngine, "_convert", convert)
    monkeypatch.setattr(runtime.OnnxEngine, "_quantize", quantize)
    return built


@pytest.fixture
def calibration(tmp_path) -> str:
    folder = tmp_path / "calibration"
    folder.mkdir()
    for i in range(2):
        Image.fromarray(np.full((40, 70, 3), 60 * i, np.uint8)).save(folder / f"{i}.png")
    return str(folder)


@pytest.mark.parametrize("component", [*VERSIONED, "source"])
def test_cache_key_changes_with_the_code_that_builds_the_graph(
    component, calibration, monkeypatch
) -> None:
    """A new package, TensorFlow, Keras, tf2onnx, onnx or ONNX Runtime version, or a changed
    package source (a developer checkout changes without a version bump), is a new graph path
    (the cache is looked up by path) for the float and the INT8 graph."""
    import importlib

    model = tiny_centernet()
    float_engine = Predictor(model, runtime="onnxruntime").engine
    with pytest.warns(UserWarning, match="int8"):
        int8_engine = Predictor(
            model, runtime="onnxruntime", quantize="int8", calibration_images=calibration
        ).engine
    before = float_engine.graph_path((64, 64), False), int8_engine.graph_path((64, 64), True)
    if component == "source":
        monkeypatch.setattr(onnx_cache, "source_sha256", lambda: "0" * 64)
    else:
        module = importlib.import_module(component)
        monkeypatch.setattr(module, "__version__", f"{module.__version__}.changed")
    after = float_engine.graph_path((64, 64), False), int8_engine.graph_path((64, 64), True)
    assert after[0] != before[0] and after[1] != before[1]


def test_source_sha256_covers_the_package_source(tmp_path, monkeypatch) -> None:
    """The hash is of every ``.py`` file of the package: an edited decoder changes it."""
    package = tmp_path / "package"
    shutil.copytree(
        os.path.dirname(runtime.__file__), package, ignore=shutil.ignore_patterns("__pycache__")
    )
    first = runtime.package_source_sha256(package)
    assert first == runtime.package_source_sha256(os.path.dirname(runtime.__file__))  # not where
    decoder = package / "decoding" / "centernet.py"
    decoder.write_text(decoder.read_text() + "\n# changed\n")
    assert runtime.package_source_sha256(package) != first


def test_a_code_change_builds_a_new_graph_not_a_reuse(files, tmp_path, monkeypatch) -> None:
    """Same model file and settings, other code: a build (the old graph is not served) and
    the graph of the old code is removed (one code's graphs per model folder)."""
    built = _fake_build(monkeypatch)
    shutil.copy(files["centernet"], tmp_path / "model.keras")
    path = tmp_path / "model.keras"
    first = Predictor.from_checkpoint(path, runtime="onnxruntime").engine
    old = first._ensure((64, 64), False)
    again = Predictor.from_checkpoint(path, runtime="onnxruntime").engine
    assert again._ensure((64, 64), False) == old and again.builds == 0  # reused
    monkeypatch.setattr(onnx_cache, "source_sha256", lambda: "0" * 64)
    changed = Predictor.from_checkpoint(path, runtime="onnxruntime").engine
    new = changed._ensure((64, 64), False)
    assert new != old and changed.builds == 1 and len(built) == 2
    assert not old.exists() and [p.name for p in path.parent.glob("*/*.onnx")] == [new.name]


def test_int8_key_has_the_calibration_input_size(tmp_path, calibration, monkeypatch) -> None:
    """A dynamic-size CenterNet has one dynamic graph, but its INT8 ranges are calibrated on
    images fitted to the input size: two input sizes are two INT8 graphs, not one reused."""
    built = _fake_build(monkeypatch)
    path = tmp_path / "dynamic.keras"
    tiny_centernet(input_shape=(None, None, 3)).save(path)
    graphs = {}
    for size in (64, 96, None):  # None: each image scaled to 512 on its longer side
        with pytest.warns(UserWarning, match="int8"):
            engine = Predictor.from_checkpoint(
                path, runtime="onnxruntime", quantize="int8", calibration_images=calibration,
                input_size=size,
            ).engine  # fmt: skip
        assert engine.graph_hw((size or 512, size or 512)) is None  # one dynamic graph
        graphs[size] = engine._ensure(None, True)
    assert len(set(graphs.values())) == 3
    assert sorted(p.name for p in path.parent.glob("*/int8_*.onnx")) == sorted(
        p.name for p in graphs.values()
    )
    assert [what for what, _ in built].count("quantize") == 3
    assert [what for what, _ in built].count("convert") == 1  # one float maps graph for all


# ---- fps mode: the parts are stages of the timed call (issue 21 point 8) -----------------------


@pytest.mark.slow
def test_fps_mode_parts_add_up_to_at_most_the_total(files, images, tmp_path, capsys) -> None:
    """``--mode fps`` prints stages measured inside the timed calls: each, and their sum, at
    most the total, for Keras and ONNX Runtime (whose decoder runs inside its graph: the
    Keras decoder's time is not one of its parts)."""
    image = tmp_path / "street.png"
    Image.fromarray(images[0]).save(image)
    argv = ["--model", str(files["centernet"]), "--input", str(image), "--mode", "fps"]
    argv += ["--runs", "5", "--score-threshold", "0.05"]  # SETTINGS: the cached graph
    for name in ("keras", "onnxruntime"):
        assert predict.main([*argv, "--runtime", name]) == 0
        lines = capsys.readouterr().out.splitlines()
        ms = json.loads(lines[0])
        total = ms.pop("total_ms")
        assert len(ms) >= 3 and all(0 <= part <= total for part in ms.values()), (name, ms)
        # Each printed figure is rounded to 0.01 ms: the sum may gain 0.005 per figure.
        assert sum(ms.values()) <= total + 0.005 * (len(ms) + 1), (name, ms, total)
        fps = float(lines[1].removesuffix(" FPS (file to boxes)"))
        assert fps == pytest.approx(1000.0 / total, rel=0.005)  # total printed to 0.01 ms


# ---- the cache trusts nothing it finds (issue 25 point 4) -------------------------------------
#
# The graph of the CenterNet file is built once (``built``); a "rebuild" in these tests writes
# those good bytes again (``_rebuild_from``), so each case costs an ONNX Runtime load, not a
# tf2onnx conversion (that the conversion gives the Keras detections is tested above). The
# Predictors share one loaded model (``keras_centernet``), given its file as ``model_file``.


@pytest.fixture(scope="module")
def built(files) -> Path:
    """The float graph of the CenterNet file at ``SETTINGS`` (built here or by a test above)."""
    return Predictor.from_checkpoint(
        files["centernet"], runtime="onnxruntime", **SETTINGS
    ).engine._ensure((64, 64), False)


@pytest.fixture(scope="module")
def keras_centernet(files) -> Predictor:
    """The CenterNet file in Keras (its traced detect function kept for the module)."""
    return Predictor.from_checkpoint(files["centernet"], **SETTINGS)


def _ort(keras_path: Predictor, path: Path) -> Predictor:
    """The ONNX Runtime Predictor of ``keras_path``'s model, cached as the file ``path``'s."""
    return Predictor(keras_path.model, runtime="onnxruntime", model_file=path, **SETTINGS)


def _rebuild_from(monkeypatch, content: bytes) -> list:
    """Graph builds write ``content`` (a good graph); returns the input sizes built."""
    rebuilds: list = []

    def convert(self, out, hw, decoder):
        rebuilds.append(hw)
        out.write_bytes(content)

    monkeypatch.setattr(runtime.OnnxEngine, "_convert", convert)
    return rebuilds


def _flip_weights(data: bytes, count: int = 50) -> bytes:
    """``count`` float32 weights of the graph's largest initializer with a high exponent bit
    flipped: a graph that still loads, with wrong weights."""
    import onnx

    tensor = max(onnx.load_from_string(data).graph.initializer, key=lambda t: len(t.raw_data))
    start = data.find(tensor.raw_data)
    assert start > 0 and len(tensor.raw_data) >= 4 * count
    out = bytearray(data)
    for i in np.linspace(0, len(tensor.raw_data) // 4 - 1, count).astype(int):
        out[start + 4 * i + 3] ^= 0x40
    return bytes(out)


def _truncate(graph: Path) -> None:
    graph.write_bytes(graph.read_bytes()[: graph.stat().st_size // 2])


def _flip_and_drop_sidecar(graph: Path) -> None:
    graph.write_bytes(_flip_weights(graph.read_bytes()))
    graph.with_suffix(".json").unlink()


DAMAGE = {
    "truncated": _truncate,
    "empty": lambda graph: graph.write_bytes(b""),
    "flipped weights": lambda graph: graph.write_bytes(_flip_weights(graph.read_bytes())),
    "flipped weights, no sidecar": _flip_and_drop_sidecar,
    "unreadable": lambda graph: graph.chmod(0),
}


@pytest.mark.slow  # the first one builds ``built`` (a tf2onnx conversion); then 1-3 s each
@pytest.mark.kernels  # Keras against ONNX Runtime
@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_cached_graph_is_rebuilt_with_one_warning(
    damage, files, built, keras_centernet, images, tmp_path, monkeypatch, capsys
) -> None:
    """A truncated, empty, unreadable or altered cached graph is never run: one warning line
    naming it, a rebuild, the Keras detections; then the rebuilt graph is reused quietly."""
    good = built.read_bytes()
    folder = tmp_path / "model"
    shutil.copytree(files["centernet"].parent, folder)  # the model and its cache
    path, graph = folder / "model.keras", folder / built.parent.name / built.name
    DAMAGE[damage](graph)
    if damage == "unreadable" and os.access(graph, os.R_OK):
        pytest.skip("this user (root) reads a file of mode 000")
    rebuilds = _rebuild_from(monkeypatch, good)
    capsys.readouterr()
    ort_path = _ort(keras_centernet, path)
    for image in images:
        assert_same_detections(keras_centernet(image), ort_path(image))
    err = capsys.readouterr().err
    warned = [line for line in err.splitlines() if "warning" in line]
    assert len(warned) == 1 and str(graph) in warned[0], err
    assert rebuilds == [(64, 64)] and graph.read_bytes() == good
    sidecar = json.loads(graph.with_suffix(".json").read_text())
    assert sidecar["graph_sha256"] == hashlib.sha256(good).hexdigest()  # the hash beside it
    again = _ort(keras_centernet, path)
    assert_same_detections(keras_centernet(images[0]), again(images[0]))
    assert again.engine.builds == 0 and "warning" not in capsys.readouterr().err


def test_a_model_file_replaced_while_it_loads_keys_the_graph_on_the_weights_used(
    files, tmp_path, monkeypatch
) -> None:
    """``train.py`` replaces ``best.keras`` (``os.replace``) while a prediction may be loading
    it: the graph is stored under the key of the weights it was made from, so the new file
    never gets the old weights' graph. A "graph" here is the bytes of the model's ``size``
    bias (which weights it was built from)."""

    def convert(self, out, hw, decoder):
        out.write_bytes(self.model.get_layer("size").bias.numpy().tobytes())

    monkeypatch.setattr(runtime.OnnxEngine, "_convert", convert)
    path, new = tmp_path / "best.keras", tmp_path / "new.keras"
    shutil.copy(files["centernet"], path)
    model = keras.saving.load_model(path)
    model.get_layer("size").bias.assign(np.array([4.0, 6.0], np.float32))
    model.save(new)
    load = keras.saving.load_model

    def load_then_replace(*args, **kwargs):  # the new file lands right after the old is read
        loaded = load(*args, **kwargs)
        if new.exists():
            os.replace(new, path)
        return loaded

    monkeypatch.setattr(keras.saving, "load_model", load_then_replace)
    during = Predictor.from_checkpoint(path, runtime="onnxruntime", **SETTINGS).engine
    assert not new.exists()  # replaced during that load
    old_bias = during.model.get_layer("size").bias.numpy()
    assert during._ensure((64, 64), False).read_bytes() == old_bias.tobytes()
    after = Predictor.from_checkpoint(path, runtime="onnxruntime", **SETTINGS).engine
    new_bias = after.model.get_layer("size").bias.numpy()
    assert new_bias.tolist() == [4.0, 6.0] != old_bias.tolist()
    assert after._ensure((64, 64), False).read_bytes() == new_bias.tobytes()


def _read_only(monkeypatch, *folders: Path) -> None:
    """``folders`` made read-only; where this user writes into them anyway (root), the
    writability check is told they are not."""
    for folder in folders:
        folder.chmod(0o555)
    if any(os.access(folder, os.W_OK) for folder in folders):
        real = getattr(onnx_cache, "_writable", None)

        def writable(folder) -> bool:
            inside = any(Path(folder).resolve().is_relative_to(f.resolve()) for f in folders)
            return not inside and real(folder)

        monkeypatch.setattr(onnx_cache, "_writable", writable, raising=False)


@pytest.mark.slow  # needs ``built`` (a tf2onnx conversion, unless a test above made it)
@pytest.mark.kernels  # Keras against ONNX Runtime
@pytest.mark.parametrize("user_cache", ["writable", "read-only"])
def test_a_read_only_model_folder_runs_with_the_graph_cached_elsewhere(
    user_cache, files, built, keras_centernet, images, tmp_path, monkeypatch, capsys
) -> None:
    """A model in a read-only folder without a cache: the graph is cached in the user's cache
    folder (``$XDG_CACHE_HOME/centernet-keras``), or, if that is read-only too, in a temporary
    folder for this run; a note says so, the detections are Keras's, and nothing is written
    next to the model."""
    _rebuild_from(monkeypatch, built.read_bytes())
    folder, cache = tmp_path / "models", tmp_path / "xdg"
    folder.mkdir()
    cache.mkdir()
    path = folder / "model.keras"
    shutil.copy(files["centernet"], path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    _read_only(monkeypatch, folder, *([cache] if user_cache == "read-only" else []))
    try:
        capsys.readouterr()
        ort_path = _ort(keras_centernet, path)
        for image in images:
            assert_same_detections(keras_centernet(image), ort_path(image))
        assert os.listdir(folder) == ["model.keras"]
        notes = [line for line in capsys.readouterr().err.splitlines() if "note" in line]
        assert len(notes) == 1 and str(folder) in notes[0]
        graphs = list(cache.rglob("*.onnx"))
        again = _ort(keras_centernet, path)
        again(images[0])
        if user_cache == "writable":
            assert len(graphs) == 1 and str(graphs[0]) in notes[0]
            assert again.engine.builds == 0  # reused from the user cache
        else:
            assert graphs == [] and "not cached" in notes[0]
            assert again.engine.builds == 1
    finally:
        folder.chmod(0o755)
        cache.chmod(0o755)


def test_models_of_the_same_name_in_read_only_folders_keep_their_own_graphs(
    keras_centernet, tmp_path, monkeypatch
) -> None:
    """Two read-only folders each with a ``best.keras`` of other weights: each gets its own
    user-cache folder, so building one's graph does not remove the other's (graphs of an
    earlier version of a model are removed from its folder)."""
    rebuilds = _rebuild_from(monkeypatch, b"graph")  # not run: where it goes is tested
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    paths = [tmp_path / name / "best.keras" for name in ("a", "b")]
    for path in paths:
        path.parent.mkdir()
        path.touch()  # where the model came from (the engines hash the loaded model)
    _read_only(monkeypatch, *(path.parent for path in paths))
    try:
        graphs = []
        for i, path in enumerate(paths):
            engine = _ort(keras_centernet, path).engine
            engine.model_sha256 = f"{i}" * 64  # stands for other weights
            graphs.append(engine._ensure((64, 64), False))
        assert len(rebuilds) == 2 and graphs[0].parent != graphs[1].parent
        assert all(graph.exists() for graph in graphs)
        again = _ort(keras_centernet, paths[0]).engine
        again.model_sha256 = "0" * 64
        assert again._ensure((64, 64), False) == graphs[0] and again.builds == 0
    finally:
        for path in paths:
            path.parent.chmod(0o755)
