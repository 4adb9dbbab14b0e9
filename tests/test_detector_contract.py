"""The contract every detector passes (keras-hub's ``run_task_test`` is the model).

For each case of ``detector_cases.CASES``: a tiny build gives its outputs and named loss terms;
one ``fit`` step lowers the loss; ``predict`` returns padded detections of fixed dtypes; the
``.keras`` file round-trips with ``safe_mode=True``; every export format gives the model's maps
and detections back; the flip-test merge mirrors; Keras's torch and JAX backends give the same
numbers.
"""

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from detector_cases import CASES, assert_same_detections, mirror_maps
from helpers import ROOT

from centernet_keras.export import export_model, exported_name, load_exported

SHAPE = (64, 64, 3)
BOX_KEYS = ("boxes", "scores", "classes", "num_detections")


@pytest.fixture(scope="module", params=CASES, ids=lambda case: case.name)
def case(request):
    return request.param


@pytest.fixture(scope="module")
def model(case):
    keras.utils.set_random_seed(0)
    return case.build(SHAPE)


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).integers(0, 256, (2, *SHAPE)).astype(np.uint8)


@pytest.fixture(scope="module")
def expected(case, model, images):
    """The Keras model's decode with the export settings, and its raw maps under their exported
    names."""
    raw = {k: np.asarray(v) for k, v in model(images.astype(np.float32), training=False).items()}
    decoder = model.decoder.replace(**case.export_settings)
    decoded = {k: np.asarray(v) for k, v in decoder(model.activate(raw)).items()}
    assert decoded["num_detections"].min() >= 3  # the comparison has something to compare
    return {**decoded, **{exported_name(k, decoded): v for k, v in raw.items()}}


def test_outputs_and_named_loss_terms(case, model):
    images, targets = case.batch(model, np.random.default_rng(1))
    raw = model(images, training=False)
    assert all(v.shape[0] == len(images) and np.all(np.isfinite(v)) for v in raw.values())
    losses = model.detector_losses(targets, raw)
    assert set(losses) == {"loss", *model.loss_terms}
    assert all(np.isfinite(float(v)) for v in losses.values())


@pytest.mark.slow
def test_one_fit_step_lowers_the_loss(case):
    keras.utils.set_random_seed(0)
    model = case.build(SHAPE)
    images, targets = case.batch(model, np.random.default_rng(1))
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = model.fit(images, targets, batch_size=len(images), epochs=2, verbose=0).history
    assert {"loss", *model.loss_terms} <= set(history)  # each named term logged
    assert history["loss"][1] < history["loss"][0], history["loss"]


def test_predict_is_padded_with_fixed_dtypes(model, images):
    out = model.predict(images.astype("float32"), verbose=0)
    k = model.decoder.max_detections
    assert out["boxes"].shape == (2, k, 4) and out["boxes"].dtype == np.float32
    assert out["scores"].shape == (2, k) and out["scores"].dtype == np.float32
    assert out["classes"].shape == (2, k) and out["classes"].dtype == np.int32
    assert out["num_detections"].shape == (2,) and out["num_detections"].dtype == np.int32
    for b, n in enumerate(out["num_detections"]):
        assert 0 < n <= k and np.all(out["classes"][b, n:] == -1)
        assert np.all((out["classes"][b, :n] >= 0) & (out["classes"][b, :n] < model.num_classes))
        assert np.all(np.diff(out["scores"][b, :n]) <= 0)  # best first


def test_keras_file_round_trips_in_safe_mode(model, images, tmp_path):
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    assert type(again) is type(model) and again.class_names == model.class_names
    assert again.decoder.get_config() == model.decoder.get_config()
    assert again.pretrained_layers == model.pretrained_layers
    x = images.astype(np.float32)
    want = model(x, training=False)
    for key, value in again(x, training=False).items():
        np.testing.assert_allclose(np.asarray(value), np.asarray(want[key]), rtol=0, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["keras", "saved_model", "tflite", "onnx"])
def test_export_round_trip(case, model, images, expected, fmt, tmp_path):
    before = model.decoder.get_config()
    suffix = {"keras": ".keras", "tflite": ".tflite", "onnx": ".onnx", "saved_model": ""}[fmt]
    path = export_model(model, tmp_path / f"m{suffix}", fmt, **case.export_settings)
    out = load_exported(path)(images)
    assert set(out) == set(expected)
    detection_keys = set(model.decoder(model.activate(model(images[:1].astype("float32")))))
    for key in set(expected) - detection_keys:  # the raw maps
        np.testing.assert_allclose(out[key], expected[key], rtol=0, atol=1e-4, err_msg=key)
    assert out["boxes"].dtype == np.float32 and out["num_detections"].dtype == np.int32
    assert_same_detections(out, expected, tuple(sorted(detection_keys - set(BOX_KEYS))))
    one = load_exported(path)(images[:1])  # the batch size is dynamic
    np.testing.assert_array_equal(one["num_detections"], expected["num_detections"][:1])
    assert model.decoder.get_config() == before  # the model itself is not changed


def test_flip_test_merge_is_mirror_symmetric(model, images):
    """The merged maps of a mirrored image are the merged maps mirrored (for a pose model: with
    left/right joints swapped; FCOS: level by level, l and r swapped), and differ from the plain
    pass."""
    image = images[:1].astype(np.float32)
    merged = model.maps(image, flip_test=True)
    mirror = model.maps(image[:, :, ::-1].copy(), flip_test=True)
    mirrored = mirror_maps(model, merged)
    for key, want in mirrored.items():
        np.testing.assert_allclose(np.asarray(mirror[key]), want, rtol=0, atol=1e-5, err_msg=key)
    plain = model.maps(image)
    score = next(iter(mirrored))  # the score map: heatmap, or FCOS's classes
    assert not np.allclose(np.asarray(merged[score]), np.asarray(plain[score]))


BACKEND_SIDE = textwrap.dedent(
    """
    import sys
    import keras
    import numpy as np
    assert keras.backend.backend() == sys.argv[1], keras.backend.backend()
    import detector_cases  # registers every case's detector: the package's and the tests' own

    for arg in sys.argv[2:]:  # paths; "+path": also the compiled steps
        name = arg.lstrip("+")
        d = dict(np.load(name + ".in.npz"))
        model = keras.saving.load_model(name + ".keras", safe_mode=True)
        images = d["images"]
        targets = {k[2:]: d[k] for k in d if k.startswith("t_")}
        tf_out = {k[3:]: d[k] for k in d if k.startswith("tf_")}
        probe = {k[6:]: d[k] for k in d if k.startswith("probe_")}
        res = {}

        def add(prefix, tensors):
            res.update({prefix + k: keras.ops.convert_to_numpy(v) for k, v in tensors.items()})

        out = model(images)
        add("out_", out)
        add("own_", model.detector_losses(targets, out))
        add("same_", model.detector_losses(targets, tf_out))
        add("det_", model.decoder(model.activate(probe)))
        if arg.startswith("+"):  # jitted under JAX: predict = eager detect; fit logs the loss
            add("eager_", model.detect(images))
            add("pred_", model.predict(images, verbose=0))
            model.compile(optimizer=keras.optimizers.SGD(0.0))
            logs = model.fit(images, targets, batch_size=len(images), verbose=0).history
            add("fit_", {k: np.float32(v[0]) for k, v in logs.items()})
        np.savez(name + ".out.npz", **res)
    """
)


def _tensorflow_side(case, variant: dict, path) -> dict:
    """Build, save and run the variant here (TF); write the other backend's inputs."""
    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    model = case.build((64, 96, 3), **variant)
    images, targets = case.batch(model, rng)
    out = {k: np.asarray(v) for k, v in model(images, training=False).items()}
    probe = case.probe(out, rng)
    model.save(f"{path}.keras")
    arrays = {"images": images}
    arrays.update({"t_" + k: v for k, v in targets.items()})
    arrays.update({"tf_" + k: v for k, v in out.items()})
    arrays.update({"probe_" + k: v for k, v in probe.items()})
    np.savez(f"{path}.in.npz", **arrays)
    loss = {k: float(v) for k, v in model.detector_losses(targets, out).items()}
    det = {k: np.asarray(v) for k, v in model.decoder(model.activate(probe)).items()}
    # the training step's loss: batch statistics (last, it moves the BN moving statistics)
    train = model.detector_losses(targets, model(images, training=True))
    return {"out": out, "loss": loss, "det": det, "fit": {k: float(v) for k, v in train.items()}}


def _assert_backend_matches(backend: str, variants: dict, tmp_path, env: dict | None = None):
    """Run ``variants`` (name → (case, build kwargs, compiled steps?)) here and in one
    subprocess under ``KERAS_BACKEND=backend`` loading the same ``.keras`` files; compare model
    outputs, the loss (on its own outputs and on TensorFlow's) and the decoder; with the
    compiled steps also ``predict`` (against its own eager ``detect``) and the loss that one
    ``fit`` step logs (training mode, against TensorFlow's)."""
    expected = {n: _tensorflow_side(c, v, tmp_path / n) for n, (c, v, _) in variants.items()}
    env = {**os.environ, "KERAS_BACKEND": backend, "CUDA_VISIBLE_DEVICES": "", **(env or {})}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "tests"), env.get("PYTHONPATH", "")])
    paths = [("+" if steps else "") + str(tmp_path / n) for n, (*_, steps) in variants.items()]
    cmd = [sys.executable, "-c", BACKEND_SIDE, backend, *paths]
    subprocess.run(cmd, env=env, check=True, timeout=600)
    for name, exp in expected.items():
        got = dict(np.load(tmp_path / f"{name}.out.npz"))
        for k, v in exp["out"].items():
            np.testing.assert_allclose(got["out_" + k], v, atol=1e-4, err_msg=f"{name} {k}")
        for k, v in exp["loss"].items():
            np.testing.assert_allclose(got["own_" + k], v, rtol=1e-4, err_msg=f"{name} {k}")
            np.testing.assert_allclose(got["same_" + k], v, rtol=1e-5, err_msg=f"{name} {k}")
        for k, v in exp["det"].items():
            assert got["det_" + k].dtype == v.dtype, (name, k, got["det_" + k].dtype)
        np.testing.assert_array_equal(got["det_classes"], exp["det"]["classes"])
        np.testing.assert_array_equal(got["det_num_detections"], exp["det"]["num_detections"])
        np.testing.assert_allclose(got["det_scores"], exp["det"]["scores"], atol=1e-6)
        np.testing.assert_allclose(got["det_boxes"], exp["det"]["boxes"], atol=1e-4)
        for k in set(exp["det"]) - set(BOX_KEYS):  # e.g. keypoints
            np.testing.assert_allclose(got["det_" + k], exp["det"][k], atol=1e-4, err_msg=k)
        if not variants[name][2]:
            continue
        for k, v in exp["fit"].items():
            np.testing.assert_allclose(got["fit_" + k], v, rtol=1e-4, err_msg=f"{name} fit {k}")
        assert got["eager_num_detections"].min() >= 3, name  # predict has something to show
        for k, v in exp["det"].items():
            assert got["pred_" + k].dtype == v.dtype, (name, k, got["pred_" + k].dtype)
            np.testing.assert_allclose(
                got["pred_" + k], got["eager_" + k], atol=1e-4, err_msg=f"{name} predict {k}"
            )


@pytest.mark.slow
def test_torch_backend_matches_tensorflow(case, tmp_path):
    """Model, loss and decoder under KERAS_BACKEND=torch equal TensorFlow's, for the case and
    its backbone variants; ``predict`` and ``fit``'s loss for the case."""
    variants = {case.name: (case, {}, True)}
    variants.update({n: (case, v, False) for n, v in case.backend_variants.items()})
    _assert_backend_matches("torch", variants, tmp_path)


#: the backbone variants checked on JAX: those of our own layers (deformable conv, the depthwise
#: transposed conv, RegNet); keras.applications' MobileNetV3 is Keras's own, tested on JAX there.
JAX_VARIANTS = ("dla34", "regnetx_400mf")


@pytest.mark.slow
def test_jax_backend_matches_tensorflow(tmp_path):
    """The same under KERAS_BACKEND=jax, where ``predict`` and ``fit`` are jitted: every case
    (and ``JAX_VARIANTS``) in one subprocess, so JAX starts once. XLA compiles unoptimised
    (compile time dominates at these sizes; the numbers are still TensorFlow's)."""
    variants = {}
    for case in CASES:
        variants[case.name] = (case, {}, True)
        for name in set(case.backend_variants) & set(JAX_VARIANTS):
            variants[name] = (case, case.backend_variants[name], False)
    assert set(JAX_VARIANTS) <= set(variants)
    flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_backend_optimization_level=0"
    _assert_backend_matches("jax", variants, tmp_path, {"XLA_FLAGS": flags.strip()})
