#!/usr/bin/env bash
# Score the runs of benchmarks/camvid_pruning_gpu.sh on CamVid's test split (233 images,
# never used for a choice) and time baseline vs pruned on ONNX Runtime CPU at 360x480,
# interleaved in one process. Runs on any machine (CPU is fine: ~12 min on 2 cores).
# Usage: bash benchmarks/camvid_pruning_score.sh [CAMVID_DIR] [RUNS_DIR]
set -euo pipefail
data=${1:-../shared/data/camvid}
out=${2:-runs/camvid-pruning-gpu}
compress eval --checkpoint "$out/baseline/best.pt" --data "$data" --split test --device cpu \
  --json > "$out/baseline-test.json"
names=(baseline)
for pruned in "$out"/prune50*/pruned.pt; do
  name=$(basename "$(dirname "$pruned")")
  compress eval --checkpoint "$pruned" --data "$data" --split test --device cpu --json \
    > "$out/$name-test.json"
  names+=("$name")
done
python - "$out" "${names[@]}" <<'PY'
import json, sys
out = sys.argv[1]
rows = {name: json.load(open(f"{out}/{name}-test.json")) for name in sys.argv[2:]}
base = rows["baseline"]["miou"]
for name, row in rows.items():
    miou = row["miou"]
    print(f"{name:15s} test mIoU {100 * miou:6.2f}  delta {100 * (miou - base):+.2f} pt")
PY
# CPU latency of the baseline and every pruned variant, interleaved in one process
python benchmarks/bench_variants.py "$out/baseline/best.pt" "$out"/prune50*/pruned.pt \
  --names "$(IFS=,; echo "${names[*]}")" --input-size 360x480 --runs 5 --warmup 2 \
  --out "$out/latency-ort-cpu.json"
