#!/usr/bin/env bash
# Accuracy cost of each compression technique on real data (CamVid, 11 classes, void
# ignored), with a CPU-sized training budget stated here (about 80 min on 2 cores).
#   baseline   deeplab-resnet18-aspp from random init, EPOCHS epochs of 128x128 crops
#              (zoom 0.5-2x, rotation), batch 8, Adam 1e-3, cosine decay; best by val mIoU
#   control    the baseline trained FT more epochs with the fine-tune recipe (Adam LR,
#              cosine): what the extra epochs alone are worth, so that no variant gets
#              credit for training the baseline never had
#   prune50    channel ratio 0.5 (L2, uniform, widths multiples of 8) + FT epochs at LR
#   prune50-lr1e-4  the same with `compress prune`'s default fine-tune lr (1e-4)
#   prune-sensitivity  prune50's MACs, per-group ratios from `compress sensitivity`
#   tucker50   Tucker-2 to half the MACs + FT epochs at LR
#   ptq / qat  int8 through ONNX Runtime (64 calibration images / 2 QAT epochs)
# Every row is scored on the test split (233 images, full 360x480), never used for a
# choice; val (101 images) picks checkpoints. Summary: benchmarks/camvid_summary.py.
# Rerunning it after an interruption reuses finished runs and resumes an interrupted
# training (a fine-tune inside prune/factorize resumes on its own).
# Usage: bash benchmarks/camvid_accuracy.sh [CAMVID_DIR] [OUT_DIR]
set -euo pipefail
data=${1:-../shared/data/camvid}
out=${2:-runs/camvid-accuracy}
model=deeplab-resnet18-aspp
epochs=${EPOCHS:-20}
ft=${FT:-10}
lr=${LR:-1e-3}
mkdir -p "$out"
crop=(--batch-size 8 --crop 128)
score() {  # score NAME CHECKPOINT: test-split metrics as JSON (renamed into place when done)
  compress eval --checkpoint "$2" --data "$data" --split test --device cpu --json \
    > "$out/$1-test.json.tmp"
  mv "$out/$1-test.json.tmp" "$out/$1-test.json"
}
resume() {  # resume RUN_DIR: --resume when an interrupted training left its last.pt
  if [[ -f $1/checkpoints/last.pt && ! -f $1/result.json ]]; then echo --resume; fi
}

compress train --model "$model" --data "$data" --epochs "$epochs" "${crop[@]}" \
  --schedule cosine --val-every 2 $(resume "$out/baseline") --out "$out/baseline"
base=$out/baseline/best.pt
score baseline "$base"

compress train --model "$model" --init "$base" --data "$data" --epochs "$ft" "${crop[@]}" \
  --lr "$lr" --schedule cosine $(resume "$out/control") --out "$out/control"
score control "$out/control/best.pt"

compress prune --model "$model" --checkpoint "$base" --ratio 0.5 --data "$data" \
  --finetune-epochs "$ft" --lr "$lr" "${crop[@]}" --no-bench --out "$out/prune50"
score prune50 "$out/prune50/pruned.pt"

compress prune --model "$model" --checkpoint "$base" --ratio 0.5 --data "$data" \
  --finetune-epochs "$ft" --lr 1e-4 "${crop[@]}" --no-bench --out "$out/prune50-lr1e-4"
score prune50-lr1e-4 "$out/prune50-lr1e-4/pruned.pt"

# the same MACs as prune50, spent where a sensitivity profile of the baseline says it is
# cheap (per-group ratios instead of 0.5 everywhere)
compress sensitivity --model "$model" --checkpoint "$base" --data "$data" \
  --ratios 0.3,0.5,0.7 --max-images 8 --out "$out/sensitivity"
macs=$(python -c "import json,sys; r=json.load(open(sys.argv[1])); print(round(r['macs'] / r['baseline_measurement']['macs'], 4))" \
  "$out/prune50/result.json")
compress prune --model "$model" --checkpoint "$base" --target-macs "$macs" \
  --sensitivity "$out/sensitivity" --data "$data" --finetune-epochs "$ft" --lr "$lr" \
  "${crop[@]}" --no-bench --out "$out/prune-sensitivity"
score prune-sensitivity "$out/prune-sensitivity/pruned.pt"

compress factorize --model "$model" --checkpoint "$base" --method tucker --rank-rule macs \
  --target-macs 0.5 --data "$data" --finetune-epochs "$ft" --lr "$lr" "${crop[@]}" \
  --out "$out/tucker50"
score tucker50 "$out/tucker50/factorized.pt"

# int8: post-training (64 train images for calibration) and quantization-aware (2 epochs);
# both score fp32 and int8 through ONNX Runtime on the test split
compress quantize --checkpoint "$base" --method ptq --data "$data" --calib-images 64 \
  --input-size 360x480 --runs 5 --out "$out/ptq"
compress quantize --checkpoint "$base" --method qat --data "$data" --epochs 2 \
  "${crop[@]}" --input-size 360x480 --runs 5 --out "$out/qat"

python benchmarks/camvid_summary.py "$out"
