"""Oracle maps: what a perfect network would output for an image, made from its ground truth.

A detector's training targets, put where its decoder reads them, are the activated maps of a
network that learned its data perfectly. Decoded by the detector's own decoder (with or
without the flip test) and scored, they give the best AP the encoding and decoding allow:
an AP below 1 is lost by the encode → decode round trip (objects no location can learn,
collisions, clipping), not by training. ``flip_oracle_maps`` gives the maps of the image and of
its mirror image, for ``model.merge_flip``: with perfect maps the flip test must not lower the
AP (tests/test_flip_oracle.py; ``bench/flip_oracle.py`` prints the figures).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from centernet_keras.evaluation.coco import evaluate_coco
from centernet_keras.evaluation.keypoints import evaluate_keypoints


def _scatter(values: np.ndarray, indices: np.ndarray, mask: np.ndarray, hw) -> np.ndarray:
    """``[K, D]`` slot values → an ``[H, W, D]`` map holding them at their flat indices."""
    out = np.zeros((hw[0] * hw[1], values.shape[-1]), np.float32)
    keep = mask > 0
    out[indices[keep]] = values[keep]
    return out.reshape(hw[0], hw[1], -1)


def oracle_maps(
    model,
    boxes: np.ndarray,
    classes: np.ndarray,
    image_hw: Sequence[int],
    keypoints: np.ndarray | None = None,
    max_objects: int = 128,
) -> dict[str, np.ndarray]:
    """The activated maps (batch of one) a perfect ``model`` would give for one image.

    Args:
        model: a CenterNet, CenterNetPose or FCOS detector (its ``target_encoder`` is used).
        boxes: ``[N, 4]`` ``[x1, y1, x2, y2]`` in input pixels.
        classes: ``[N]`` class ids.
        image_hw: the network input ``(H, W)``.
        keypoints: ``[N, J, 3]`` ``(x, y, v)`` input pixels, for a pose model.
        max_objects: target slots.

    Returns:
        The maps ``model.decode`` reads, each with a leading batch axis of 1: CenterNet
        ``heatmap [1, h, w, C]``, ``size``, ``offset`` ``[1, h, w, 2]`` (set at the centres);
        pose also ``keypoints [1, h, w, 2J]``, ``keypoint_heatmap [1, h, w, J]``,
        ``keypoint_offset [1, h, w, 2]``; FCOS ``classes [1, L, C]`` (one-hot at matched
        locations), ``deltas [1, L, 4]``, ``centerness [1, L]``.
    """
    encode = model.target_encoder(max_objects)
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    classes = np.asarray(classes, np.int32).reshape(-1)
    joints = None if keypoints is None else np.asarray(keypoints, np.float32)
    if joints is not None:
        import tensorflow as tf

        joints = tf.constant(joints)
    targets = {k: np.asarray(v) for k, v in encode(boxes, classes, image_hw, joints).items()}
    if "centerness" in targets:  # FCOS: dense over the locations
        matched = targets["classes"] >= 0
        one_hot = np.zeros((len(matched), model.num_classes), np.float32)
        one_hot[matched, targets["classes"][matched]] = 1.0
        return {
            "classes": one_hot[None],
            "deltas": np.where(matched[:, None], targets["deltas"], 0.0)[None],
            "centerness": np.where(matched, targets["centerness"], 0.0)[None],
        }
    if "heatmap" not in targets or "indices" not in targets:
        raise NotImplementedError(
            f"{type(model).__name__}: the oracle reads CenterNet-style (heatmap + indices) and "
            f"FCOS-style (centerness) targets, not {sorted(targets)}"
        )
    hw = targets["heatmap"].shape[:2]
    maps = {"heatmap": targets["heatmap"]}
    for key in ("size", "offset") + (("keypoints",) if "keypoints" in targets else ()):
        maps[key] = _scatter(targets[key], targets["indices"], targets["mask"], hw)
    if "keypoint_heatmap" in targets:
        maps["keypoint_heatmap"] = targets["keypoint_heatmap"]
        maps["keypoint_offset"] = _scatter(
            targets["keypoint_offset"],
            targets["keypoint_indices"],
            targets["keypoint_offset_mask"],
            hw,
        )
    return {k: v[None] for k, v in maps.items()}


def mirror_ground_truth(
    boxes: np.ndarray,
    width: int,
    keypoints: np.ndarray | None = None,
    flip_permutation: Sequence[int] | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Boxes (and joints) of the horizontally mirrored image (``x → width − x``).

    Args:
        boxes: ``[N, 4]`` ``[x1, y1, x2, y2]``.
        width: image width in the same pixels.
        keypoints: ``[N, J, 3]``; mirrored, then left/right joints swapped by
            ``flip_permutation`` (``KeypointSpec.flip_permutation()``).

    Returns:
        ``(boxes [N, 4], keypoints [N, J, 3] or None)``.
    """
    boxes = np.asarray(boxes, np.float32)
    mirrored = np.stack(
        [width - boxes[:, 2], boxes[:, 1], width - boxes[:, 0], boxes[:, 3]], axis=-1
    )
    if keypoints is None:
        return mirrored, None
    joints = np.array(keypoints, np.float32)
    joints[..., 0] = np.where(joints[..., 2] > 0, width - joints[..., 0], 0.0)
    return mirrored, joints[:, list(flip_permutation), :]


def flip_oracle_maps(
    model,
    boxes: np.ndarray,
    classes: np.ndarray,
    image_hw: Sequence[int],
    keypoints: np.ndarray | None = None,
) -> tuple[dict, dict]:
    """Oracle maps of an image and of its mirror image (still mirrored): the two inputs of
    ``model.merge_flip``, as ``Detector.maps_and_mirrored`` gives them for a perfect network."""
    spec = model.keypoint_spec
    perm = None if spec is None else spec.flip_permutation()
    mirrored, mirrored_joints = mirror_ground_truth(boxes, image_hw[1], keypoints, perm)
    return (
        oracle_maps(model, boxes, classes, image_hw, keypoints),
        oracle_maps(model, mirrored, classes, image_hw, mirrored_joints),
    )


def oracle_ap(
    model,
    samples: Sequence[dict],
    image_hw: Sequence[int],
    flip_test: bool = False,
) -> dict[str, float]:
    """COCO AP of the oracle maps of ``samples``, decoded by the model's decoder.

    Args:
        model: a CenterNet, CenterNetPose or FCOS detector with a fixed input size.
        samples: one dict per image: ``boxes [N, 4]`` (input pixels, inside the image),
            ``classes [N]``, and for a pose model ``keypoints [N, J, 3]``.
        image_hw: the network input ``(H, W)`` the samples are drawn on.
        flip_test: decode ``model.merge_flip`` of the image's and its mirror image's maps.

    Returns:
        ``{"box_ap": COCO box AP, "keypoint_ap": OKS AP (pose models only)}``.
    """
    from keras import ops

    height, width = (int(v) for v in image_hw)
    images, gt, detections, annotations, results = [], [], [], [], []
    for image_id, sample in enumerate(samples, 1):
        joints = sample.get("keypoints")
        args = (model, sample["boxes"], sample["classes"], (height, width), joints)
        if flip_test:
            maps, mirrored = flip_oracle_maps(*args)
            merge = model.merge_flip
            extra = {"image_size": (height, width)} if "centerness" in maps else {}
            maps = merge(
                {k: ops.convert_to_tensor(v) for k, v in maps.items()},
                {k: ops.convert_to_tensor(v) for k, v in mirrored.items()},
                **extra,
            )
        else:
            maps = oracle_maps(*args)
        out = model.decode({k: ops.convert_to_tensor(v) for k, v in maps.items()}, (height, width))
        out = {k: ops.convert_to_numpy(v)[0] for k, v in out.items()}
        images.append({"id": image_id, "width": width, "height": height})
        for n, (box, cls) in enumerate(zip(sample["boxes"], sample["classes"], strict=True)):
            gt.append({"image_id": image_id, "bbox": list(map(float, box)), "class": int(cls),
                       "difficult": False})  # fmt: skip
            if joints is not None:
                x1, y1, x2, y2 = (float(v) for v in box)
                annotations.append({
                    "id": len(annotations) + 1, "image_id": image_id, "category_id": 1,
                    "iscrowd": 0, "bbox": [x1, y1, x2 - x1, y2 - y1],
                    "area": (x2 - x1) * (y2 - y1),
                    "num_keypoints": int((joints[n][:, 2] > 0).sum()),
                    "keypoints": np.asarray(joints[n], np.float64).ravel().tolist(),
                })  # fmt: skip
        for k in range(int(out["num_detections"])):
            x1, y1, x2, y2 = (float(v) for v in out["boxes"][k])
            score = float(out["scores"][k])
            detections.append({"image_id": image_id, "bbox": [x1, y1, x2, y2],
                               "class": int(out["classes"][k]), "score": score})  # fmt: skip
            if joints is not None:
                kp = np.concatenate([out["keypoints"][k][:, :2], np.ones((len(joints[0]), 1))], 1)
                results.append({"image_id": image_id, "category_id": 1, "score": score,
                                "bbox": [x1, y1, x2 - x1, y2 - y1],
                                "keypoints": kp.ravel().tolist()})  # fmt: skip
    names = [str(n) for n in model.class_names] if model.class_names else None
    names = names or [str(c) for c in range(model.num_classes)]
    box = evaluate_coco({"images": images, "gt": gt}, detections, names)
    ap = {"box_ap": float(box.stats[0])}
    if annotations:
        spec = model.keypoint_spec
        category = {"id": 1, "name": "person", "keypoints": list(spec.names)}
        dataset = {"images": images, "annotations": annotations, "categories": [category]}
        ap["keypoint_ap"] = float(
            evaluate_keypoints(dataset, results, spec.sigmas).stats["AP@[.5:.95]"]
        )
    return ap
