#!/usr/bin/env bash
# MobileNetV4 beside MobileNetV3 on CamVid, both trained by `compress train` with the same
# CPU-sized budget (from random init: no ImageNet weights on this machine), scored on the
# 233 test images at full 360x480, void ignored. Budget: EPOCHS epochs (default 10) of
# 192x192 crops, batch 8, Adam 1e-3 with cosine decay, best epoch by val mIoU.
# Resumable: rerunning reuses finished runs and resumes an interrupted training.
# Usage: bash benchmarks/camvid_mobilenets.sh [CAMVID_DIR] [OUT_DIR]
set -euo pipefail
data=${1:-../shared/data/camvid}
out=${2:-runs/camvid-mobilenets}
epochs=${EPOCHS:-10}
mkdir -p "$out"
for model in deeplab-mobilenetv4-aspp deeplab-mobilenetv3-aspp; do
  run=$out/$model
  resume=()
  if [[ -f $run/checkpoints/last.pt && ! -f $run/result.json ]]; then resume=(--resume); fi
  compress train --model "$model" --data "$data" --epochs "$epochs" --batch-size 8 --crop 192 \
    --schedule cosine --val-every 2 --device cpu --no-progress "${resume[@]}" --out "$run"
  if [[ ! -f $out/$model-test.json ]]; then
    compress eval --checkpoint "$run/best.pt" --data "$data" --split test --device cpu --json \
      > "$out/$model-test.json.tmp"
    mv "$out/$model-test.json.tmp" "$out/$model-test.json"
  fi
done
python - "$out" <<'PY'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
print("| model | params (M) | best epoch | training time | val mIoU % | test mIoU % |")
print("|---|---:|---:|---:|---:|---:|")
for model in ("deeplab-mobilenetv3-aspp", "deeplab-mobilenetv4-aspp"):
    result = json.loads((out / model / "result.json").read_text())
    test = json.loads((out / f"{model}-test.json").read_text())
    training, metrics = result["training"], result["metrics"]
    print(f"| {model} | {result['params'] / 1e6:.2f} | {training['best_epoch']} | "
          f"{training['seconds'] / 60:.0f} min | {100 * metrics['miou']:.1f} | "
          f"{100 * test['miou']:.1f} |")
PY
