#!/usr/bin/env bash
# Accuracy cost of each compression technique on real data (CamVid, 11 classes, void
# ignored), with a CPU-sized training budget stated here. Baseline: deeplab-resnet18-aspp
# from random init, 12 epochs of 128x128 crops (Adam 1e-3, x0.3 at epochs 8 and 11),
# best checkpoint by val mIoU. Every variant is scored on the test split (233 images,
# full 360x480), never used for any choice.
# Usage: bash benchmarks/camvid_accuracy.sh [CAMVID_DIR] [OUT_DIR]
set -euo pipefail
data=${1:-../shared/data/camvid}
out=${2:-runs/camvid-accuracy}
model=deeplab-resnet18-aspp
ft=${FINETUNE_EPOCHS:-4}
mkdir -p "$out"

compress train --model "$model" --data "$data" --epochs 12 --batch-size 8 --crop 128 \
  --milestones 8,11 --val-every 2 --out "$out/baseline"
base=$out/baseline/best.pt
compress eval --checkpoint "$base" --data "$data" --split test --json > "$out/baseline-test.json"

# structured pruning, channel ratio 0.5 (L2), then a short fine-tune at a lower lr
compress prune --model "$model" --checkpoint "$base" --ratio 0.5 --data "$data" \
  --finetune-epochs "$ft" --lr 1e-4 --batch-size 8 --crop 128 --no-bench --out "$out/prune50"
compress eval --checkpoint "$out/prune50/pruned.pt" --data "$data" --split test --json \
  > "$out/prune50-test.json"

# Tucker-2 to half the MACs, then the same fine-tune
compress factorize --model "$model" --checkpoint "$base" --method tucker --rank-rule macs \
  --target-macs 0.5 --data "$data" --finetune-epochs "$ft" --lr 1e-4 --batch-size 8 \
  --crop 128 --out "$out/tucker50"
compress eval --checkpoint "$out/tucker50/factorized.pt" --data "$data" --split test --json \
  > "$out/tucker50-test.json"

# int8: post-training (64 train images for calibration) and quantization-aware (2 epochs);
# both score fp32 and int8 through ONNX Runtime on the test split
compress quantize --checkpoint "$base" --method ptq --data "$data" --calib-images 64 \
  --input-size 360x480 --runs 5 --out "$out/ptq"
compress quantize --checkpoint "$base" --method qat --data "$data" --epochs 2 \
  --batch-size 8 --crop 128 --input-size 360x480 --runs 5 --out "$out/qat"
