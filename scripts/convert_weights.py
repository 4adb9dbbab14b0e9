"""Convert a reference torch checkpoint (.pth) into Keras weights for this package's models.

    python scripts/convert_weights.py ctdet_coco_dla_2x.pth coco_dla34.keras --arch ctdet_dla34
    python scripts/convert_weights.py ctdet_coco_dla_2x.pth voc_from_coco.keras \
        --arch ctdet_dla34 --classes model_data/voc_classes.txt   # fine-tuning start
    python scripts/convert_weights.py multi_pose_dla_3x.pth pose_dla34.keras --arch multi_pose_dla34
    python scripts/convert_weights.py dla34-ba72cf86.pth dla34.weights.h5 --arch dla34
    python scripts/convert_weights.py resnet18-f37072fd.pth resnet18.weights.h5 --arch resnet18

Reading a .pth needs torch (``pip install torch``; the CPU build is enough); nothing else does.
OUT ending in ``.keras`` is a whole model (``predict.py``, ``get_map.py``, ``train.py
--model-path``); ``.weights.h5`` holds the weights only (for a backbone: ``train.py --weights``).
The detectors are built in the reference layout (heads 3x3 conv 256 with bias, no BN). With a
class count other than the checkpoint's, the heatmap head's last conv stays as initialised (a
warning says so). See ``centernet_keras.models.reference_weights``.
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow loads

#: --arch → (what it is, the file of the reference zoo it reads)
ARCHS = {
    "ctdet_dla34": "CenterNet boxes, DLA-34 + DCN (ctdet_coco_dla_2x.pth; 80 COCO classes)",
    "multi_pose_dla34": "CenterNet pose, DLA-34 + DCN (multi_pose_dla_3x.pth)",
    "ctdet_dlav0_34": "CenterNet boxes, DLA-34 without DCN (arch dlav0_34)",
    "dla34": "DLA-34 backbone, ImageNet (dla34-ba72cf86.pth)",
    "resnet18": "ResNet-18 backbone, torchvision ImageNet (resnet18-f37072fd.pth)",
}
COCO_CLASSES = os.path.join(os.path.dirname(__file__), "..", "model_data", "coco_classes.txt")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", help="the reference .pth file")
    parser.add_argument("output", help="OUT.keras (whole model) or OUT.weights.h5")
    parser.add_argument(
        "--arch",
        required=True,
        choices=sorted(ARCHS),
        help="; ".join(f"{k}: {v}" for k, v in ARCHS.items()),
    )
    parser.add_argument(
        "--classes",
        help="class names file of the box model (default: model_data/coco_classes.txt, the "
        "checkpoint's 80). Another class count keeps the heatmap head's last conv as initialised",
    )
    parser.add_argument(
        "--input-size", type=int, nargs=2, default=(512, 512), metavar=("H", "W"),
        help="the model's input size (multiples of 32; weights do not depend on it)",
    )  # fmt: skip
    parser.add_argument(
        "--no-heads", action="store_true", help="load the backbone and neck only (detectors)"
    )
    args = parser.parse_args(argv)
    if not args.output.endswith((".keras", ".weights.h5")):
        parser.error(f"OUT must end in .keras or .weights.h5, got {args.output!r}")
    if args.arch in ("dla34", "resnet18") and args.output.endswith(".keras"):
        parser.error(f"--arch {args.arch} is a backbone: write OUT.weights.h5 (train.py --weights)")
    return args


def read_checkpoint(path: str) -> dict:
    """The checkpoint's ``state_dict`` as NumPy arrays (torch imported here only)."""
    try:
        import torch
    except ImportError as err:
        raise SystemExit(
            "convert_weights.py reads .pth files with torch, which is not installed: "
            "pip install torch (the CPU build is enough)"
        ) from err
    from centernet_keras.models.reference_weights import checkpoint_state_dict

    if not os.path.isfile(path):
        raise SystemExit(f"checkpoint not found: {path}")
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    state = checkpoint_state_dict(checkpoint)
    return {key: value.detach().float().numpy() for key, value in state.items()}


def build_model(args: argparse.Namespace):
    """The Keras model of ``--arch`` in the reference layout."""
    from centernet_keras.backbones import build_backbone
    from centernet_keras.data.classes import read_classes
    from centernet_keras.models import build_centernet, build_centernet_pose

    shape = (*args.input_size, 3)
    if args.arch in ("dla34", "resnet18"):
        return build_backbone(args.arch, shape)
    reference = {"head_batchnorm": False, "head_channels": 256}
    if args.arch == "multi_pose_dla34":
        return build_centernet_pose(17, "dla34", shape, **reference)
    names = read_classes(args.classes or COCO_CLASSES)
    neck = "dla_up" if args.arch == "ctdet_dla34" else "dla_up_plain"
    return build_centernet(len(names), "dla34", shape, neck=neck, class_names=names, **reference)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    state = read_checkpoint(args.checkpoint)
    from centernet_keras.models.reference_weights import load_reference_weights

    model = build_model(args)
    try:
        report = load_reference_weights(model, state, heads=not args.no_heads)
    except ValueError as err:
        raise SystemExit(f"{args.checkpoint} does not fit --arch {args.arch}: {err}") from err
    print(
        f"{args.checkpoint}: {len(report.loaded)} tensors loaded into {model.name} "
        f"({report.architecture}), {len(report.ignored)} ignored (BN counters, classifier)"
    )
    for key, reason in report.skipped.items():
        print(f"  skipped {key}: {reason}")
    from centernet_keras.io import atomic_path

    with atomic_path(args.output) as tmp:  # a failed save leaves no half-written file
        if args.output.endswith(".keras"):
            model.save(tmp)
        else:
            model.save_weights(tmp)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
