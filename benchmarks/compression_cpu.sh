#!/usr/bin/env bash
# Latency/size acceptance measurements of the compression techniques on this CPU, at the
# study's 750x1000 frame, each variant timed against its baseline in one process.
# Weights come from a one-epoch training on synthetic scenes: latency and size do not
# depend on how well a dense CNN is trained, and the checkpoints exercise the same
# load/rebuild path as real ones. Usage: bash benchmarks/compression_cpu.sh [OUT_DIR]
set -euo pipefail
out=${1:-runs/compression-cpu}
size=${SIZE:-750x1000}
runs=${RUNS:-5}
mkdir -p "$out"
compress data synth --out "$out/data" --n 16 --size 128 --seed 0
for model in deeplab-vgg11-aspp deeplab-resnet18-aspp; do
  compress train --model "$model" --data "$out/data" --epochs 1 --batch-size 4 --crop 96 \
    --out "$out/$model"
done
vgg=$out/deeplab-vgg11-aspp/best.pt
r18=$out/deeplab-resnet18-aspp/best.pt

# pruning: L2 magnitude, ratio 0.5, widths rounded to 8; prune times baseline and pruned
compress prune --model vgg --checkpoint "$vgg" --ratio 0.5 --input-size "$size" \
  --runs "$runs" --out "$out/vgg-prune50"
# Tucker-2 to half the MACs (ranks rounded to 8)
compress factorize --model vgg --checkpoint "$vgg" --method tucker --rank-rule macs \
  --target-macs 0.5 --input-size "$size" --out "$out/vgg-tucker50"
# int8 PTQ: fp32 and int8 ONNX timed side by side
for model in deeplab-vgg11-aspp deeplab-resnet18-aspp; do
  compress quantize --checkpoint "$out/$model/best.pt" --method ptq --data "$out/data" \
    --calib-images 16 --input-size "$size" --runs "$runs" --out "$out/$model-ptq"
done
# all VGG variants interleaved in one process on ONNX Runtime CPU
python benchmarks/bench_variants.py "$vgg" "$out/vgg-prune50/pruned.pt" \
  "$out/vgg-tucker50/factorized.pt" "$out/deeplab-vgg11-aspp-ptq/model.int8.onnx" \
  --names vgg-fp32,vgg-prune50,vgg-tucker50,vgg-int8 --input-size "$size" --runs "$runs" \
  --out "$out/vgg-variants.json"
python benchmarks/bench_variants.py "$r18" "$out/deeplab-resnet18-aspp-ptq/model.int8.onnx" \
  --names resnet18-fp32,resnet18-int8 --input-size "$size" --runs "$runs" \
  --out "$out/resnet18-variants.json"
