"""The synthetic COCO-keypoints dataset of the pose demo: valid COCO, deterministic, scored 1.0
by pycocotools' OKS when the ground truth is the detection; large, filled people whose OKS area
is the filled person's, with a dot on every joint."""

import contextlib
import io
import json

import numpy as np
from PIL import Image
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from centernet_keras.data.synthetic_pose import (
    COCO_KEYPOINTS,
    generate_pose_dataset,
    main,
    render_pose_image,
)


def _load(path) -> dict:
    return json.loads(path.read_text())


def test_annotations_follow_coco_keypoint_semantics(tmp_path):
    paths = generate_pose_dataset(tmp_path, 16, seed=3, val_fraction=0.25)
    train, val = _load(paths["train"]), _load(paths["val"])
    assert (len(train["images"]), len(val["images"])) == (12, 4)
    (category,) = train["categories"]
    assert category["keypoints"] == list(COCO_KEYPOINTS) and len(category["skeleton"]) == 19
    assert all(1 <= j <= 17 for edge in category["skeleton"] for j in edge)
    sizes = {im["id"]: (im["width"], im["height"]) for im in train["images"] + val["images"]}
    people = train["annotations"] + val["annotations"]
    assert len(people) >= 16 and len({a["id"] for a in people}) == len(people)
    for person in people:
        w, h = sizes[person["image_id"]]
        with Image.open(tmp_path / "images" / f"pose_{person['image_id'] - 1:06d}.jpg") as im:
            assert im.size == (w, h)
        kps = np.array(person["keypoints"]).reshape(17, 3)
        labelled = kps[:, 2] > 0
        assert person["num_keypoints"] == labelled.sum()
        assert np.all(kps[~labelled] == 0)
        assert np.all((kps[labelled, 0] >= 0) & (kps[labelled, 0] < w))
        assert np.all((kps[labelled, 1] >= 0) & (kps[labelled, 1] < h))
        x, y, bw, bh = person["bbox"]
        assert x >= 0 and y >= 0 and x + bw <= w and y + bh <= h
        assert 0 < person["area"] <= bw * bh and person["iscrowd"] == 0
        if labelled[5] and labelled[6]:  # camera-facing: the left shoulder on the image right
            assert kps[5, 0] > kps[6, 0]
    assert any((np.array(a["keypoints"])[2::3] == 1).any() for a in people)  # some occlusion


def test_people_are_large_and_filled_with_a_dot_on_every_joint():
    samples = [render_pose_image(np.random.default_rng([0, i])) for i in range(40)]
    assert all(len(s.people) <= 3 for s in samples)
    fill, tall = [], []
    for sample in samples:
        image_h, image_w = sample.image.shape[:2]
        for person in sample.people:
            x, y, w, h = person["bbox"]
            if y > 0 and y + h < image_h:  # not cut at the top or bottom
                tall.append(h / image_h)
                if x > 0 and x + w < image_w and min(person["keypoints"][2::3]) == 2:
                    fill.append(person["area"] / h**2)  # whole and unoccluded
    assert min(tall) > 0.4, min(tall)
    # OKS scales by the area: the filled person's (thick limbs), ~0.15 h² for the stick figures
    assert len(fill) >= 10 and np.median(fill) > 0.2, np.median(fill)
    for sample in samples:  # a dark dot (0.3 x the part's shade) marks every visible joint
        for person in sample.people:
            kps = np.array(person["keypoints"]).reshape(17, 3)
            for x, y in kps[kps[:, 2] == 2, :2]:
                assert sample.image[int(y), int(x)].max() <= 0.3 * 265  # clothes: max >= 168


def test_same_seed_same_files_and_gt_scores_one(tmp_path):
    a = generate_pose_dataset(tmp_path / "a", 6, seed=1)
    b = generate_pose_dataset(tmp_path / "b", 6, seed=1)
    assert a["val"].read_bytes() == b["val"].read_bytes()
    assert (a["images"] / "pose_000002.jpg").read_bytes() == (
        b["images"] / "pose_000002.jpg"
    ).read_bytes()
    data = _load(a["train"])
    results = [
        {k: a[k] for k in ("image_id", "category_id", "bbox", "keypoints")} | {"score": 1.0}
        for a in data["annotations"]
    ]
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(a["train"]))
        evaluation = COCOeval(gt, gt.loadRes(results), "keypoints")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    assert evaluation.stats[0] == 1.0


def test_cli(tmp_path, capsys):
    assert main(["--out", str(tmp_path), "--num-images", "3"]) == 0
    assert "Wrote 3 images" in capsys.readouterr().out
    assert (tmp_path / "annotations" / "person_keypoints_val.json").is_file()
