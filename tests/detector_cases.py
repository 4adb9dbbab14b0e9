"""The detector contract's cases and the tiny models the tests share.

A ``DetectorCase`` says how to build a tiny detector and one training batch for it; the contract
(``tests/test_detector_contract.py``) runs every case in ``CASES`` through the same checks. A new
detector joins by adding its case to ``CASES`` (``TOY``: one defined only in the tests,
``tests/toy_detector``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from toy_detector import build_center_point

from centernet_keras.locations import fcos_level_shapes
from centernet_keras.models import Detector, build_centernet, build_fcos
from centernet_keras.models.pose import build_centernet_pose

CLASSES = ["cat", "dog", "car"]


def tiny_centernet(input_shape=(64, 64, 3), **kwargs) -> Detector:
    """A tiny CenterNet (ResNet-18, 3 classes) with positive sizes (so it makes boxes) and
    spread-out scores."""
    settings = {"backbone": "resnet18", "neck_filters": (32, 32, 32), "head_channels": 16}
    model = build_centernet(3, input_shape=input_shape, class_names=CLASSES, **settings | kwargs)
    size = model.get_layer("size")
    size.kernel.assign(size.kernel * 0.01)
    size.bias.assign(np.array([3.0, 5.0], np.float32))  # 12 x 20 input pixels
    heat = model.get_layer("heatmap")
    heat.kernel.assign(heat.kernel * 100.0)  # logits spread ~N(0, 1)
    heat.bias.assign(np.zeros(3, np.float32))
    return model


def tiny_pose(input_shape=(64, 64, 3), **kwargs) -> Detector:
    """A tiny COCO-17 CenterNetPose (ResNet-18) that makes people at random init."""
    settings = {"backbone": "resnet18", "neck_filters": (32, 32, 32), "head_channels": 16}
    model = build_centernet_pose(17, input_shape=input_shape, **settings | kwargs)
    size = model.get_layer("size")
    size.kernel.assign(size.kernel * 0.01)
    size.bias.assign(np.array([3.0, 5.0], np.float32))
    for name in ("heatmap", "keypoint_heatmap"):
        heat = model.get_layer(name)
        heat.kernel.assign(heat.kernel * 100.0)
        heat.bias.assign(np.zeros(heat.bias.shape, np.float32))
    return model


def tiny_fcos(input_shape=(64, 64, 3), **kwargs) -> Detector:
    """A tiny FCOS (ResNet-18, FPN 16, one 16-wide stem conv, 3 classes) that makes boxes at
    random init: class logits spread ~N(0, 1) and deltas ≈ 1–2 strides."""
    settings = {"backbone": "resnet18", "fpn_channels": 16, "stem_channels": (16,)}
    model = build_fcos(3, input_shape=input_shape, class_names=CLASSES, **settings | kwargs)
    head = model.get_layer("fcos_head")
    classes = head.get_layer("classes")
    classes.kernel.assign(classes.kernel * 100.0)
    classes.bias.assign(np.zeros(3, np.float32))
    deltas = head.get_layer("deltas_conv")
    deltas.kernel.assign(deltas.kernel * 3.0)
    deltas.bias.assign(np.array([1.0, 1.5, 1.2, 0.8], np.float32))
    return model


def tiny_toy(input_shape=(64, 64, 3), **kwargs) -> Detector:
    """The tests' toy detector (``toy_detector``: 3 classes) with spread-out scores and boxes of
    2 x 3 cells (16 x 24 input pixels)."""
    model = build_center_point(3, input_shape=input_shape, class_names=CLASSES, **kwargs)
    heat = model.get_layer("heatmap")
    heat.kernel.assign(heat.kernel * 30.0)
    heat.bias.assign(np.zeros(3, np.float32))
    size = model.get_layer("size")
    size.kernel.assign(size.kernel * 0.01)
    size.bias.assign(np.array([2.0, 3.0], np.float32))
    return model


def toy_probe(raw: dict, rng: np.random.Generator) -> dict:
    """Toy decoder input without ties."""
    return {
        "heatmap": rng.normal(-2.0, 2.0, raw["heatmap"].shape).astype("float32"),
        "size": rng.uniform(1, 4, raw["size"].shape).astype("float32"),
    }


def fcos_probe(raw: dict, rng: np.random.Generator) -> dict:
    """FCOS decoder input without ties: random logits, deltas of 0.5–3 strides."""
    return {
        "classes": rng.normal(-2.0, 2.0, raw["classes"].shape).astype("float32"),
        "deltas": rng.uniform(0.5, 3.0, raw["deltas"].shape).astype("float32"),
        "centerness": rng.normal(0.0, 1.0, raw["centerness"].shape).astype("float32"),
    }


def _mirror_levels(x: np.ndarray, level_shapes) -> np.ndarray:
    """Mirror flat ``[B, L, ...]`` per-level maps left–right, level by level (NumPy)."""
    parts, start = [], 0
    for h, w in level_shapes:
        level = x[:, start : start + h * w].reshape(x.shape[0], h, w, *x.shape[2:])
        parts.append(level[:, :, ::-1].reshape(x.shape[0], h * w, *x.shape[2:]))
        start += h * w
    return np.concatenate(parts, axis=1)


def _people(rng, h: int, w: int, joints: int = 17, count: int = 2):
    xy = rng.uniform(0, [w - 16, h - 16], (count, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(8, 16, (count, 2))], axis=1).astype("float32")
    spots = xy[:, None] + rng.uniform(0, 8, (count, joints, 2))
    keypoints = np.concatenate([spots, np.full((count, joints, 1), 2.0)], -1).astype("float32")
    return boxes, keypoints


def pose_batch(model: Detector, rng: np.random.Generator, batch: int = 2, max_objects: int = 4):
    """Random images and batched ``encode_pose_targets`` targets of random people."""
    h, w = model.input_shape[1:3]
    encode = model.target_encoder(max_objects)
    images = rng.uniform(0, 255, (batch, h, w, 3)).astype("float32")
    per_image = []
    for _ in range(batch):
        boxes, keypoints = _people(rng, h, w, model.keypoint_spec.num_joints)
        classes = np.zeros(len(boxes), "int32")
        per_image.append(encode(boxes, classes, (h, w), keypoints=keypoints))
    targets = {k: np.stack([np.asarray(t[k]) for t in per_image]) for k in per_image[0]}
    return images, targets


def pose_probe(raw: dict, rng: np.random.Generator) -> dict:
    """Pose decoder input without ties."""
    probe = centernet_probe(raw, rng)
    probe["keypoints"] = rng.normal(0, 3, raw["keypoints"].shape).astype("float32")
    probe["keypoint_heatmap"] = rng.normal(-2.0, 2.0, raw["keypoint_heatmap"].shape).astype(
        "float32"
    )
    probe["keypoint_offset"] = rng.uniform(0, 1, raw["keypoint_offset"].shape).astype("float32")
    return probe


def mirror_maps(model: Detector, maps: dict) -> dict:
    """What a horizontal flip of the image does to the merged maps a flip test compares:
    boxes' heatmap and size mirror (CenterNet); a pose model's joint maps also swap left/right
    joints and mirror joint x-offsets (``dx → 1 − dx``: they are relative to a cell's left
    edge); FCOS's flat maps mirror level by level, deltas with l
    and r swapped. The first key is the score map."""
    if "classes" in maps:  # FCOS: [B, L, ·] over the levels of the model's input
        shapes = fcos_level_shapes(model.input_shape[1:3], model.strides)
        out = {k: _mirror_levels(np.asarray(maps[k]), shapes) for k in maps}
        out["deltas"] = out["deltas"][..., [2, 1, 0, 3]]
        return out
    out = {k: np.asarray(maps[k])[:, :, ::-1] for k in ("heatmap", "size")}
    if "keypoints" in maps:
        swap = model.keypoint_spec.flip_permutation()
        out["keypoint_heatmap"] = np.asarray(maps["keypoint_heatmap"])[:, :, ::-1][..., swap]
        joints = np.asarray(maps["keypoints"])[:, :, ::-1]
        b, h, w, c = joints.shape
        joints = joints.reshape(b, h, w, c // 2, 2)[..., swap, :] * [-1.0, 1.0] + [1.0, 0.0]
        out["keypoints"] = joints.reshape(b, h, w, c)
    return out


def box_batch(model: Detector, rng: np.random.Generator, batch: int = 2, max_objects: int = 4):
    """Random images ``[B, H, W, 3]`` float32 and the detector's batched targets for random
    boxes (from ``model.target_encoder``)."""
    h, w = model.input_shape[1:3]
    encode = model.target_encoder(max_objects)
    images = rng.uniform(0, 255, (batch, h, w, 3)).astype("float32")
    per_image = []
    for _ in range(batch):
        xy = rng.uniform(0, [w - 16, h - 16], (2, 2))
        boxes = np.concatenate([xy, xy + rng.uniform(8, 16, (2, 2))], axis=1).astype("float32")
        classes = rng.integers(0, model.num_classes, 2).astype("int32")
        per_image.append(encode(boxes, classes, (h, w)))
    targets = {k: np.stack([np.asarray(t[k]) for t in per_image]) for k in per_image[0]}
    return images, targets


def centernet_probe(raw: dict, rng: np.random.Generator) -> dict:
    """Decoder input without ties (random-init maps have pixels where classes are equal, and
    top-k orders ties differently on each backend)."""
    return {
        "heatmap": rng.normal(-2.0, 2.0, raw["heatmap"].shape).astype("float32"),
        "size": rng.uniform(1, 10, raw["size"].shape).astype("float32"),
        "offset": rng.uniform(0, 1, raw["offset"].shape).astype("float32"),
    }


@dataclass(frozen=True)
class DetectorCase:
    """How the contract builds and feeds one detector.

    Attributes:
        name: test id.
        build: ``(input_shape) -> Detector``, tiny, making real detections at random init.
        batch: ``(model, rng) -> (images, targets)`` one training batch.
        probe: ``(raw outputs, rng) -> raw-like maps`` for decoding without ties.
        export_settings: decoder changes for the export round trips.
        backend_variants: further ``build`` kwargs checked on the torch backend (backbones…).
    """

    name: str
    build: Callable[..., Detector]
    batch: Callable
    probe: Callable
    export_settings: dict
    backend_variants: dict


CENTERNET = DetectorCase(
    name="centernet",
    build=tiny_centernet,
    batch=box_batch,
    probe=centernet_probe,
    export_settings={"score_threshold": 0.15, "max_detections": 20, "iou_threshold": 0.5},
    backend_variants={
        "mobilenetv3_small": {
            "backbone": "mobilenetv3_small",
            "neck_filters": None,
            "iou_threshold": 0.5,
        },
        "dla34": {"backbone": "dla34", "neck_filters": None, "head_channels": 32},
        "dla34_plain": {"backbone": "dla34_plain", "neck_filters": None, "head_channels": 32},
    },
)

CENTERNET_POSE = DetectorCase(
    name="centernet_pose",
    build=tiny_pose,
    batch=pose_batch,
    probe=pose_probe,
    export_settings={"score_threshold": 0.15, "max_detections": 20},
    backend_variants={},
)

FCOS = DetectorCase(
    name="fcos",
    build=tiny_fcos,
    batch=box_batch,
    probe=fcos_probe,
    export_settings={"score_threshold": 0.15, "max_detections": 20, "iou_threshold": 0.5},
    backend_variants={"regnetx_400mf": {"backbone": "regnetx_400mf", "group_norm": False}},
)

TOY = DetectorCase(
    name="toy",
    build=tiny_toy,
    batch=box_batch,
    probe=toy_probe,
    export_settings={"score_threshold": 0.15, "max_detections": 20, "iou_threshold": 0.5},
    backend_variants={},
)

CASES = [CENTERNET, CENTERNET_POSE, FCOS, TOY]


def assert_same_detections(got: dict, want: dict, extra: tuple[str, ...] = ()) -> None:
    """Same count per image; each detection found with the same class, score and box (and the
    same ``extra`` per-detection outputs, e.g. keypoints)."""
    np.testing.assert_array_equal(got["num_detections"], want["num_detections"])
    for b, n in enumerate(want["num_detections"]):
        assert np.all(got["classes"][b, n:] == -1)
        for i in range(n):
            match = (
                (got["classes"][b, :n] == want["classes"][b, i])
                & (np.abs(got["scores"][b, :n] - want["scores"][b, i]) < 1e-5)
                & np.all(np.abs(got["boxes"][b, :n] - want["boxes"][b, i]) < 1e-3, axis=-1)
            )
            assert match.any(), f"image {b}: detection {i} not found"
            j = int(np.argmax(match))
            for key in extra:
                np.testing.assert_allclose(got[key][b, j], want[key][b, i], atol=1e-3, err_msg=key)
