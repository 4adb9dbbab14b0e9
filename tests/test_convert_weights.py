"""scripts/convert_weights.py end to end: a torch checkpoint file → Keras weights → a model.

The checkpoints are synthetic (the reference key names and shapes with formula weights, saved
with ``torch.save`` as the zoo files are: ``{"epoch", "state_dict"}`` with DataParallel's
``module.`` prefix). Needs torch (a dev dependency), as the script does.
"""

import importlib.util
from pathlib import Path

import keras
import numpy as np
import pytest
from reference_data import formula_state_dict, load_json

from centernet_keras.backbones import build_backbone
from centernet_keras.training.config import TrainConfig
from centernet_keras.training.trainer import build_model

torch = pytest.importorskip("torch")
SCRIPT = Path(__file__).parents[1] / "scripts" / "convert_weights.py"
RESNET18 = load_json("torchvision_resnet18_state_dict.json")["resnet18"]["state_dict"]
PLAIN = load_json("architectures.json")["dlav0_dlaseg_dla34"]["state_dict_shapes"]


def _script():
    spec = importlib.util.spec_from_file_location("convert_weights", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _save(entries, path: Path, wrap: bool) -> dict:
    state = formula_state_dict([e for e in entries if not e[0].endswith("num_batches_tracked")])
    counter = torch.tensor(1000, dtype=torch.int64)  # BN's num_batches_tracked, as saved
    tensors = {k: torch.from_numpy(state[k]) if k in state else counter for k, _ in entries}
    if wrap:  # CenterNet's files: {"epoch": …, "state_dict": …} of a DataParallel model
        tensors = {"epoch": 140, "state_dict": {f"module.{k}": v for k, v in tensors.items()}}
    torch.save(tensors, path)
    return state


def test_resnet18_checkpoint_to_backbone_weights(tmp_path, capsys):
    state = _save(RESNET18, tmp_path / "resnet18.pth", wrap=False)
    out = tmp_path / "resnet18.weights.h5"
    args = [
        str(tmp_path / "resnet18.pth"),
        str(out),
        "--arch",
        "resnet18",
        "--input-size",
        "64",
        "64",
    ]
    assert _script().main(args) == 0
    assert "100 tensors loaded into resnet18 (resnet18), 22 ignored" in capsys.readouterr().out
    backbone = build_backbone("resnet18", (96, 64, 3), weights=str(out))  # what --weights does
    kernel = backbone.get_layer("layer4_1_2_conv").kernel.numpy()
    np.testing.assert_array_equal(kernel, state["layer4.1.conv2.weight"].transpose(2, 3, 1, 0))
    np.testing.assert_array_equal(
        backbone.get_layer("stem_bn").moving_variance.numpy(), state["bn1.running_var"]
    )


def test_wrong_checkpoint_or_output_is_one_line(tmp_path):
    _save(RESNET18, tmp_path / "resnet18.pth", wrap=True)
    script = _script()
    out = str(tmp_path / "dla.weights.h5")
    with pytest.raises(SystemExit, match=r"does not fit --arch dla34: state_dict is missing"):
        script.main(
            [str(tmp_path / "resnet18.pth"), out, "--arch", "dla34", "--input-size", "64", "64"]
        )
    with pytest.raises(SystemExit, match="checkpoint not found"):
        script.main([str(tmp_path / "none.pth"), out, "--arch", "dla34"])
    with pytest.raises(SystemExit):  # argparse: a backbone is weights only
        script.main(
            [str(tmp_path / "resnet18.pth"), str(tmp_path / "r.keras"), "--arch", "resnet18"]
        )


@pytest.mark.slow
def test_coco_checkpoint_fine_tunes_through_train_model_path(tmp_path, capsys):
    """dlav0 COCO-style checkpoint (80 classes) → a 2-class .keras → train's build_model."""
    entries = [(k, [80, *s[1:]] if k.startswith("hm.2.") else s) for k, s in PLAIN.items()]
    state = _save(entries, tmp_path / "ctdet.pth", wrap=True)
    (tmp_path / "classes.txt").write_text("cat\ndog\n")
    out = tmp_path / "start.keras"
    args = [
        str(tmp_path / "ctdet.pth"),
        str(out),
        "--arch",
        "ctdet_dlav0_34",
        "--input-size",
        "64",
        "64",
    ]
    with pytest.warns(UserWarning, match="80 outputs in the checkpoint, 2 in the model"):
        _script().main([*args, "--classes", str(tmp_path / "classes.txt")])
    assert (
        "skipped hm.2.weight: 80 outputs in the checkpoint, 2 in the model"
        in capsys.readouterr().out
    )
    config = TrainConfig.from_dict(
        {"backbone": "dla34_plain", "model_path": str(out), "input_size": [64, 64]}
    )
    model = build_model(config, ["cat", "dog"])  # weights="imagenet" (the default) is not used
    assert model.head_batchnorm is False and model.head_channels == 256
    kernel = model.get_layer("size").kernel
    np.testing.assert_array_equal(kernel.numpy(), state["wh.2.weight"].transpose(2, 3, 1, 0))
    base = model.backbone.get_layer("dla34_base")
    np.testing.assert_array_equal(
        base.get_layer("level5_root_bn").gamma.numpy(), state["base.level5.root.bn.weight"]
    )
    assert keras.saving.load_model(out).class_names == ("cat", "dog")
    # the reference's inputs (BGR, COCO mean / std) travel with the weights
    assert base.get_layer("preprocess").mode == "centernet"
    image = np.full((1, 64, 64, 3), (200.0, 100.0, 0.0), np.float32)  # R, G, B
    seen = keras.Model(base.input, base.get_layer("preprocess").output)(image)[0, 0, 0]
    want = (np.array([0.0, 100.0, 200.0]) / 255 - [0.40789654, 0.44719302, 0.47026115]) / [
        0.28863828,
        0.27408164,
        0.27809835,
    ]
    np.testing.assert_allclose(np.asarray(seen), want, rtol=1e-5)
