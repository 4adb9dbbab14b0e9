#!/usr/bin/env bash
# The offline demo, run by `make demo`: generate a synthetic VOC dataset, convert it, train a
# light CenterNet, evaluate it and predict on a few validation images — with the same CLIs a
# user runs. Ends with "mAP@0.5 = <value>": VOC all-point AP@0.5 (the VOC2010+ metric the Keras
# CenterNet ports report) on the validation split; the VOC07 11-point value is printed above it.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=${DEMO_DIR:-demo}
CONFIG=${DEMO_CONFIG:-model_data/demo_config.json}  # make demo-fcos: model_data/demo_fcos_config.json
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-3}
start=$(date +%s)
step() { printf '\n== [%4ss] %s\n' "$(( $(date +%s) - start ))" "$*"; }

step "1/5 synthetic VOC dataset -> $OUT/VOCdevkit"
$PY -m centernet_keras.data.synthetic --out "$OUT/VOCdevkit" --num-images "${DEMO_IMAGES:-800}" --seed 0 --overwrite

step "2/5 convert (voc_annotation.py) -> $OUT/2007_train.txt, $OUT/2007_val.txt"
$PY voc_annotation.py --voc-root "$OUT/VOCdevkit" --classes model_data/shapes_classes.txt --out-dir "$OUT" --max-messages 3

step "3/5 train (train.py --config $CONFIG)"
$PY train.py --config "$CONFIG" --train "$OUT/2007_train.txt" --val "$OUT/2007_val.txt" \
  --save-dir "$OUT/logs" --quiet ${DEMO_TRAIN_FLAGS:-}

step "4/5 evaluate (get_map.py) -> $OUT/map_out"
$PY get_map.py --model "$OUT/logs/best.keras" --annotation-file "$OUT/2007_val.txt" \
  --output-dir "$OUT/map_out" --metrics voc07 voc coco --no-progress

step "5/5 predict on validation images (predict.py --mode dir) -> $OUT/predictions"
mkdir -p "$OUT/samples"
head -n 8 "$OUT/2007_val.txt" | while read -r line; do cp "$(echo "$line" | awk '{print $1}')" "$OUT/samples/"; done
$PY predict.py --model "$OUT/logs/best.keras" --mode dir --input "$OUT/samples" --output "$OUT/predictions" \
  --no-progress --count

step "done in $(( $(date +%s) - start )) s"
$PY -c "import json,sys; m=json.load(open(sys.argv[1]))['metrics']
print('VOC07 11-point mAP@0.5 = %.4f, COCO AP = %.4f' % (m['voc07']['mAP'], m['coco']['stats']['AP@[.5:.95]']))
print('mAP@0.5 = %.4f' % m['voc']['mAP'])" "$OUT/map_out/summary.json"
