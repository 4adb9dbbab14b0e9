#!/usr/bin/env bash
# The offline pose demo, run by `make demo-pose`: generate a synthetic COCO-keypoints dataset,
# train a CenterNet pose model on the JSON directly, score it by OKS (pycocotools) and draw
# skeletons on a few validation images — with the same CLIs a user runs. Ends with
# "keypoint AP = <value>": COCO keypoint AP@[.5:.95] (OKS) on the validation split.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=${DEMO_DIR:-demo_pose}
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-3}
start=$(date +%s)
step() { printf '\n== [%4ss] %s\n' "$(( $(date +%s) - start ))" "$*"; }

step "1/4 synthetic COCO keypoints dataset -> $OUT/images, $OUT/annotations"
rm -rf "$OUT/logs" "$OUT/map_out" "$OUT/predictions"
$PY -m centernet_keras.data.synthetic_pose --out "$OUT" --num-images "${DEMO_IMAGES:-600}" --seed 0

step "2/4 train (train.py --config model_data/demo_pose_config.json)"
$PY train.py --config model_data/demo_pose_config.json \
  --train-json "$OUT/annotations/person_keypoints_train.json" --train-images "$OUT/images" \
  --val-json "$OUT/annotations/person_keypoints_val.json" --val-images "$OUT/images" \
  --save-dir "$OUT/logs" --quiet ${DEMO_TRAIN_FLAGS:-}

step "3/4 evaluate (get_map.py --flip-test: keypoint AP and box AP) -> $OUT/map_out"
$PY get_map.py --model "$OUT/logs/best.keras" --val-json "$OUT/annotations/person_keypoints_val.json" \
  --val-images "$OUT/images" --output-dir "$OUT/map_out" --no-progress --flip-test | tail -n 13

step "4/4 predict on validation images (predict.py --mode dir: skeletons) -> $OUT/predictions"
mkdir -p "$OUT/samples"
$PY -c "import json,sys; print('\n'.join(i['file_name'] for i in json.load(open(sys.argv[1]))['images'][:8]))" \
  "$OUT/annotations/person_keypoints_val.json" | while read -r name; do cp "$OUT/images/$name" "$OUT/samples/"; done
$PY predict.py --model "$OUT/logs/best.keras" --mode dir --input "$OUT/samples" --output "$OUT/predictions" \
  --no-progress --count

step "done in $(( $(date +%s) - start )) s"
$PY -c "import json,sys; m=json.load(open(sys.argv[1]))['metrics']
print('box AP = %.4f' % m['coco']['stats']['AP@[.5:.95]'])
print('keypoint AP = %.4f' % m['keypoints']['stats']['AP@[.5:.95]'])" "$OUT/map_out/summary.json"
