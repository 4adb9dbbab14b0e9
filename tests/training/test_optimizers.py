"""``--optimizer adam_torch`` (``TorchAdam``): torch.optim.Adam's update step for step, picked
through the CLI, saved in the run's ``.keras`` files and resumed (issue 21, point 13)."""

import json

import keras
import numpy as np
import pytest
from conftest import TINY_MODEL, config_dict
from helpers import load_script

from centernet_keras.commands.train_run import config_from_args
from centernet_keras.training import TrainConfig, train
from centernet_keras.training.optimizers import TorchAdam

torch = pytest.importorskip("torch")

LR = 2.0**-9  # exact in float32: the optimizers' LR variable is float32
#: case → (keyword arguments of both optimizers, the torch optimizer they describe)
CASES = {
    "adam": ({}, "Adam"),
    "weight_decay": ({"weight_decay": 2.0**-4}, "AdamW"),  # Keras' decay is decoupled
    "amsgrad": ({"amsgrad": True}, "Adam"),
}


def _gradients(dtype: str, steps: int = 5) -> tuple[np.ndarray, list[np.ndarray]]:
    """Start weights ``[64]`` and ``steps`` gradients ``[64]`` of magnitudes 1e-6 to 1."""
    rng = np.random.default_rng(0)
    scale = 10.0 ** rng.uniform(-6, 0, 64)
    grads = [(rng.standard_normal(64) * scale).astype(dtype) for _ in range(steps)]
    return rng.standard_normal(64).astype(dtype), grads


def _keras_steps(optimizer, start: np.ndarray, grads: list[np.ndarray]) -> np.ndarray:
    variable = keras.Variable(start)
    for grad in grads:
        optimizer.apply_gradients([(keras.ops.convert_to_tensor(grad), variable)])
    return keras.ops.convert_to_numpy(variable)


def _torch_steps(name: str, kwargs: dict, start: np.ndarray, grads: list[np.ndarray]):
    param = torch.nn.Parameter(torch.tensor(start))
    optimizer = getattr(torch.optim, name)([param], lr=LR, **kwargs)
    for grad in grads:
        param.grad = torch.tensor(grad)
        optimizer.step()
    return param.detach().numpy()


@pytest.mark.parametrize("case", sorted(CASES))
def test_torch_adam_equals_torch_over_steps(case):
    """Five steps of TorchAdam equal torch's Adam (AdamW with weight decay): the updates to
    1e-10 in float64, the weights to one ulp in float32. Keras' Adam does not (eps)."""
    kwargs, torch_name = CASES[case]
    start, grads = _gradients("float64")
    want = _torch_steps(torch_name, kwargs, start, grads) - start
    got = _keras_steps(TorchAdam(LR, **kwargs), start, grads) - start
    scale = np.abs(want).max()
    assert np.abs(got - want).max() <= 1e-10 * scale
    # Keras' own Adam, even with torch's epsilon, takes other steps on small gradients
    for keras_eps in (1e-7, 1e-8):
        other = _keras_steps(keras.optimizers.Adam(LR, epsilon=keras_eps, **kwargs), start, grads)
        assert np.abs(other - start - want).max() > 0.05 * scale

    start32, grads32 = _gradients("float32")
    want32 = _torch_steps(torch_name, kwargs, start32, grads32)
    got32 = _keras_steps(TorchAdam(LR, **kwargs), start32, grads32)
    assert np.all(np.abs(got32 - want32) <= np.spacing(np.abs(want32)))


def test_torch_adam_round_trips_its_config():
    optimizer = TorchAdam(LR, weight_decay=0.01)
    again = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert type(again) is TorchAdam
    assert again.epsilon == 1e-8 and again.weight_decay == 0.01


@pytest.mark.slow
def test_first_update_of_a_model_differs_from_keras_adam(tiny_voc, tmp_path):
    """The first step of the tiny test model from the same weights on the same batch: Keras'
    Adam moves every weight in the same direction as TorchAdam, never farther, and the
    difference is the epsilon rule's. Prints the numbers the README quotes (run with -s)."""
    import tensorflow as tf

    from centernet_keras.data.image_io import SkipLog
    from centernet_keras.data.pipeline import PipelineConfig, make_dataset
    from centernet_keras.training.data import load_training_data
    from centernet_keras.training.trainer import build_model

    config = TrainConfig.from_dict(config_dict(tiny_voc, tmp_path))
    data = load_training_data(config)
    keras.utils.set_random_seed(0)
    model = build_model(config, data.class_names)
    pipe = PipelineConfig(config.model.input_size, batch_size=4)
    images, targets = next(iter(make_dataset(data.train, pipe, True, SkipLog(),
                                             encoder=model.target_encoder(100))))  # fmt: skip
    with tf.GradientTape() as tape:
        loss = model.detector_losses(targets, model(images, training=True))["loss"]
    grads = tape.gradient(loss, model.trainable_weights)
    weights = model.get_weights()
    start = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
    steps = {}
    for name, optimizer in (("adam", keras.optimizers.Adam(LR)), ("torch", TorchAdam(LR))):
        model.set_weights(weights)
        optimizer.apply_gradients(zip(grads, model.trainable_weights, strict=True))
        after = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
        steps[name] = np.concatenate([np.ravel(a - s) for a, s in zip(after, start, strict=True)])
    moved = np.abs(steps["torch"]) > 1e-3 * LR  # weights with a gradient
    keras_step, torch_step = steps["adam"][moved], steps["torch"][moved]
    assert np.all(np.sign(keras_step) == np.sign(torch_step))
    assert np.all(np.abs(keras_step) <= np.abs(torch_step) * (1 + 1e-6))
    shrink = 1 - np.abs(keras_step) / np.abs(torch_step)
    l2 = np.linalg.norm(keras_step - torch_step) / np.linalg.norm(torch_step)
    assert l2 > 1e-3  # a real difference on a real model's gradients
    print(
        f"\nfirst update, Keras Adam vs adam_torch, {moved.sum()} weights: relative L2 "
        f"difference {l2:.2%}; per weight, Keras' step smaller by median {np.median(shrink):.2%}"
        f", 90th percentile {np.percentile(shrink, 90):.2%}, max {shrink.max():.2%}"
    )


def test_optimizer_flag_picks_torch_adam_and_keras_adam_stays_the_default():
    from centernet_keras.training.trainer import effective_lr, make_optimizer

    train_cli = load_script("train.py")
    config = config_from_args(train_cli.parse_args(["--optimizer", "adam_torch"]))
    assert type(make_optimizer(config, 8, 10, 0)) is TorchAdam
    assert effective_lr(config, 8) == effective_lr(TrainConfig(), 8)  # Adam's LR limits
    default = config_from_args(train_cli.parse_args([]))
    assert type(make_optimizer(default, 8, 10, 0)) is keras.optimizers.Adam


class _StopAfterFirstEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        self.model.stop_training = True  # the epoch is still committed (later callback)


def _weights(path) -> np.ndarray:
    model = keras.saving.load_model(path, safe_mode=True)
    return np.concatenate([np.ravel(keras.ops.convert_to_numpy(w)) for w in model.weights])


@pytest.mark.slow
def test_cli_trains_saves_and_resumes_with_adam_torch(tiny_voc, tmp_path):
    """``centernet train --optimizer adam_torch``: config.json and the saved model hold
    TorchAdam; a run stopped after epoch 1 and resumed through the CLI ends with the weights
    of the unbroken run, to 1e-4 of what epoch 2 changed (the optimizer's moments came back
    with the model)."""
    train_cli = load_script("train.py")
    flags = ["--classes", tiny_voc["classes"], "--train", tiny_voc["train"], "--val", ""]
    flags += ["--backbone", TINY_MODEL["backbone"], "--weights", "none", "--input-size", "64"]
    flags += ["--neck-filters", "16,16,16", "--head-channels", "8", "--no-scale-lr"]
    flags += ["--epochs", "2", "--freeze-epochs", "0", "--batch-size", "4"]
    flags += ["--steps-per-epoch", "2", "--lr", "2e-3", "--optimizer", "adam_torch", "--quiet"]
    unbroken = tmp_path / "unbroken"
    assert train_cli.main([*flags, "--save-dir", str(unbroken)]) == 0
    assert json.loads((unbroken / "config.json").read_text())["optimizer"] == "adam_torch"
    optimizer = keras.saving.load_model(unbroken / "last.keras", safe_mode=True).optimizer
    assert type(optimizer) is TorchAdam and optimizer.epsilon == 1e-8
    assert int(optimizer.iterations.numpy()) == 4

    broken = tmp_path / "broken"
    config = config_from_args(train_cli.parse_args([*flags, "--save-dir", str(broken)]))
    train(config, verbose=0, extra_callbacks=[_StopAfterFirstEpoch()])
    assert json.loads((broken / "train_state.json").read_text())["epoch"] == 1
    after_epoch_1 = _weights(broken / "last.keras")
    assert train_cli.main(["--resume", "--save-dir", str(broken), "--quiet"]) == 0
    optimizer = keras.saving.load_model(broken / "last.keras", safe_mode=True).optimizer
    assert type(optimizer) is TorchAdam and int(optimizer.iterations.numpy()) == 4
    want, got = _weights(unbroken / "last.keras"), _weights(broken / "last.keras")
    moved = np.linalg.norm(want - after_epoch_1)  # what epoch 2 changed
    assert np.linalg.norm(got - want) <= 1e-4 * moved


def test_an_unknown_optimizer_is_one_line(tiny_voc, tmp_path, capsys):
    train_cli = load_script("train.py")
    argv = ["--train", tiny_voc["train"], "--optimizer", "adamw", "--save-dir", str(tmp_path)]
    assert train_cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: --optimizer must be one of ['adam', 'adam_torch', 'sgd'], got 'adamw'"
