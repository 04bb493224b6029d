#!/usr/bin/env bash
# CamVid pruning study on one CUDA GPU, with a training budget a GPU affords.
# Baseline: UNet from random init, EPOCHS epochs of 320x320 crops (batch 16, Adam 1e-3,
# cosine decay, bf16 autocast), best checkpoint by val mIoU. Variant: the baseline pruned
# to 50% of its channels (L2, uniform, widths multiples of 8) and fine-tuned FT_EPOCHS
# epochs (Adam 1e-4, cosine), best fine-tune epoch by val mIoU; then the same pruning with
# a fine-tune as long as the baseline's training at lr 1e-3 and 3e-4 (FT_LONG epochs).
# Only train/ and val/ are
# read here: the test split is scored afterwards, on any machine, with
# benchmarks/camvid_pruning_score.sh. Each stage runs under a time limit and logs its exit
# status to stages.txt (124 = cut off), so a slow machine is visible, not silent.
# Usage: bash benchmarks/camvid_pruning_gpu.sh [CAMVID_DIR] [OUT_DIR]
set -uo pipefail
data=${1:-../shared/data/camvid}
out=${2:-runs/camvid-pruning-gpu}
epochs=${EPOCHS:-50}
ft=${FT_EPOCHS:-25}
ft_long=${FT_LONG:-50}
workers=${WORKERS:-12}
device=${DEVICE:-cuda}
crop=${CROP:-320}
model=${MODEL:-unet}
compress=${COMPRESS:-compress}
mkdir -p "$out"
common=(--data "$data" --batch-size 16 --crop "$crop" --workers "$workers" --device "$device")

stage() {  # stage NAME SECONDS CMD...: run with a time limit, log, never stop the script
  local name=$1 limit=$2; shift 2
  local began=$SECONDS
  timeout "$limit" "$@" > "$out/$name.log" 2>&1
  local rc=$?
  echo "$name: exit $rc after $((SECONDS - began)) s (limit $limit s)" | tee -a "$out/stages.txt"
}

stage baseline "${BASELINE_LIMIT:-330}" $compress train --model "$model" "${common[@]}" \
  --epochs "$epochs" --schedule cosine --val-every 2 --no-progress --out "$out/baseline"
if [[ ! -f $out/baseline/result.json ]]; then  # cut off: do not prune a half-trained model
  echo "baseline did not finish (see $out/baseline.log); stopping" | tee -a "$out/stages.txt"
  exit 1
fi
stage prune50 "${PRUNE_LIMIT:-200}" $compress prune --model "$model" \
  --checkpoint "$out/baseline/best.pt" --ratio 0.5 "${common[@]}" --finetune-epochs "$ft" \
  --lr 1e-4 --no-bench --no-progress --out "$out/prune50"
for lr in 1e-3 3e-4; do
  stage "prune50-lr$lr" "${PRUNE_LIMIT:-200}" $compress prune --model "$model" \
    --checkpoint "$out/baseline/best.pt" --ratio 0.5 "${common[@]}" \
    --finetune-epochs "$ft_long" --lr "$lr" --no-bench --no-progress --out "$out/prune50-lr$lr"
done
# latency of both on the GPU at 750x1000 (the size of every latency figure here), interleaved
# in one process (PyTorch, channels-last, fp32 and fp16)
if [[ $device == cuda* ]]; then
  for runtime in torch-cuda torch-cuda-fp16; do
    stage "latency-$runtime" "${LATENCY_LIMIT:-120}" ${PYTHON:-python} benchmarks/bench_variants.py \
      "$out/baseline/best.pt" "$out/prune50/pruned.pt" --names baseline,prune50 \
      --runtime "$runtime" --input-size 750x1000 --runs 50 --warmup 10 \
      --out "$out/latency-$runtime.json"
  done
fi
