"""encode_pose_targets → ideal network outputs → decode_pose recovers every person: boxes
(IoU > 0.99), every labelled joint (≤ 0.5 px) and OKS AP 1.0 in pycocotools."""

import numpy as np
import pytest
from test_roundtrip import _ideal_outputs, _random_boxes

from centernet_keras.boxes import box_iou
from centernet_keras.decoding import decode_pose
from centernet_keras.evaluation import evaluate_keypoints
from centernet_keras.keypoints import KeypointSpec
from centernet_keras.targets import encode_pose_targets


def _ideal_pose_outputs(targets, h_out, w_out, joints):
    """What a perfect network outputs: the target heatmaps, the regressions at the centres and
    the joint offsets at the joints' cells."""
    heatmap, size, offset = _ideal_outputs(targets, h_out, w_out)
    regression = np.zeros((h_out * w_out, 2 * joints), np.float32)
    valid = np.asarray(targets["mask"]) > 0
    regression[np.asarray(targets["indices"])[valid]] = np.asarray(targets["keypoints"])[valid]
    joint_offset = np.zeros((h_out * w_out, 2), np.float32)
    kept = np.asarray(targets["keypoint_offset_mask"]) > 0
    joint_offset[np.asarray(targets["keypoint_indices"])[kept]] = np.asarray(
        targets["keypoint_offset"]
    )[kept]
    return {
        "heatmap": heatmap,
        "size": size,
        "offset": offset,
        "keypoints": regression.reshape(1, h_out, w_out, 2 * joints),
        "keypoint_heatmap": np.asarray(targets["keypoint_heatmap"])[None],
        "keypoint_offset": joint_offset.reshape(1, h_out, w_out, 2),
    }


@pytest.mark.parametrize(
    "seed,hw,joints", [(0, (128, 128), 17), (1, (96, 160), 17), (2, (160, 96), 5)]
)
def test_encode_then_decode_recovers_people(seed, hw, joints):
    rng = np.random.default_rng(seed)
    h, w = hw
    boxes = _random_boxes(rng, 5, h, w)
    # Joints inside their box, some unlabelled (v = 0). Two labelled joints never share a
    # stride-4 cell: a cell holds one joint offset for all joint types (as in the reference), so
    # no network could output both; a joint with no free cell left stays unlabelled.
    span = boxes[:, 2:] - boxes[:, :2]
    xy = np.zeros((5, joints, 2))
    v = np.where(rng.uniform(size=(5, joints)) < 0.2, 0.0, 2.0)
    cells = set()
    for i in range(5):
        for j in range(joints):
            for _ in range(50):
                xy[i, j] = boxes[i, :2] + rng.uniform(0.05, 0.95, 2) * span[i]
                if (cell := tuple((xy[i, j] // 4).astype(int))) not in cells:
                    break
            else:
                v[i, j] = 0.0
            if v[i, j] > 0:
                cells.add(cell)
    assert (v > 0).sum(1).min() > 0  # every person has a labelled joint (mask 1)
    keypoints = np.concatenate([xy, v[..., None]], -1).astype(np.float32)
    targets = encode_pose_targets(boxes, keypoints, hw, max_objects=8)
    out = decode_pose(**_ideal_pose_outputs(targets, h // 4, w // 4, joints), max_detections=20)
    n = int(out["num_detections"][0])
    assert n == 5
    got_boxes = np.asarray(out["boxes"][0, :n])
    iou = np.asarray(box_iou(boxes, got_boxes))  # [5, n]
    match = iou.argmax(1)
    assert np.all(iou.max(1) > 0.99) and len(set(match.tolist())) == 5
    got_joints = np.asarray(out["keypoints"][0, :n])[match]  # [5, J, 2]
    labelled = v > 0
    error = np.abs(got_joints - xy)[labelled]
    assert error.max() <= 0.5, error.max()
    # OKS AP on them: 1.0
    spec = KeypointSpec.coco17() if joints == 17 else None
    names = list(spec.names) if spec else [f"j{i}" for i in range(joints)]
    gt = {
        "images": [{"id": 1, "width": w, "height": h}],
        "categories": [{"id": 1, "name": "person", "keypoints": names, "skeleton": []}],
        "annotations": [
            {
                "id": i + 1, "image_id": 1, "category_id": 1, "iscrowd": 0,
                "bbox": [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])],
                "area": float((b[2] - b[0]) * (b[3] - b[1])),
                "keypoints": [float(x) for x in keypoints[i].reshape(-1)],
                "num_keypoints": int(labelled[i].sum()),
            }
            for i, b in enumerate(boxes)
        ],
    }  # fmt: skip
    detections = [
        {
            "image_id": 1, "category_id": 1, "score": float(out["scores"][0, j]),
            "bbox": [float(c) for c in (*got_boxes[j, :2], *(got_boxes[j, 2:] - got_boxes[j, :2]))],
            "keypoints": [float(c) for p in np.asarray(out["keypoints"][0, j]) for c in (*p, 1.0)],
        }
        for j in range(n)
    ]  # fmt: skip
    assert evaluate_keypoints(gt, detections).mean_ap == pytest.approx(1.0)
