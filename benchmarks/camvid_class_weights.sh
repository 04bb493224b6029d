#!/usr/bin/env bash
# Class weighting and IoU-aimed losses on CamVid with the CPU budget of
# benchmarks/camvid_accuracy.sh: deeplab-resnet18-aspp from random init, 20 epochs of
# 128x128 crops, batch 8, Adam 1e-3 with cosine decay, best epoch by val mIoU - trained
# once per setting below, every other option equal, each scored on the 233 test images
# (full 360x480, void ignored). The `none` run is camvid_accuracy.sh's baseline (the same
# spec: copy runs/camvid-accuracy/baseline to OUT/none to reuse it).
# Summary (overall mIoU, the thin classes, every class): benchmarks/class_weights_summary.py.
# Usage: bash benchmarks/camvid_class_weights.sh [CAMVID_DIR] [OUT_DIR] [SETTING ...]
#   a SETTING is NAME=train-options, e.g. 'lovasz-mf=--class-weights median-frequency --loss ce+lovasz'
set -euo pipefail
data=${1:-../shared/data/camvid}
out=${2:-runs/camvid-weights}
shift $(( $# > 2 ? 2 : $# ))
settings=("$@")
if (( ${#settings[@]} == 0 )); then
  settings=("none=" "median-frequency=--class-weights median-frequency")
fi
mkdir -p "$out"
for setting in "${settings[@]}"; do
  name=${setting%%=*}
  read -r -a options <<< "${setting#*=}"
  resume=()
  if [[ -f $out/$name/checkpoints/last.pt && ! -f $out/$name/result.json ]]; then resume=(--resume); fi
  compress train --model deeplab-resnet18-aspp --data "$data" --epochs 20 --batch-size 8 \
    --crop 128 --schedule cosine --val-every 2 "${options[@]}" "${resume[@]}" --out "$out/$name"
  if [[ ! -f $out/$name-test.json ]]; then
    compress eval --checkpoint "$out/$name/best.pt" --data "$data" --split test --device cpu \
      --json > "$out/$name-test.json.tmp"
    mv "$out/$name-test.json.tmp" "$out/$name-test.json"
  fi
done
python benchmarks/class_weights_summary.py "$out"
