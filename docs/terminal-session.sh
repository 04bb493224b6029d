#!/usr/bin/env bash
# The README's workflow ("## The workflow") on a tiny synthetic data set, one command at a
# time, each echoed first - the script behind docs/terminal-session.cast (see
# docs/terminal-session.md). Sizes are chosen so the whole run takes a few minutes on 2 CPU
# cores while each long step still lasts a few seconds, long enough for its bar to show.
#
#   bash docs/terminal-session.sh [WORKDIR]      # WORKDIR: default a fresh mktemp folder
#
# Re-record (needs the dev extra: pip install -e '.[dev]'):
#   asciinema rec --overwrite -q --cols 100 --rows 30 \
#       -c "bash docs/terminal-session.sh /tmp/segcompress-session" docs/terminal-session.cast
#   python docs/render_session.py docs/terminal-session.cast --update docs/terminal-session.md
set -uo pipefail  # a failing step is shown with its exit status; the rest still run

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if ! command -v compress >/dev/null 2>&1; then
    # shellcheck disable=SC1091
    source "$repo/.venv/bin/activate"
fi

work="${1:-$(mktemp -d -t segcompress-session.XXXXXX)}"
mkdir -p "$work"
cd "$work" || exit 1

# Echo a command as if typed at a prompt, then run it; say so when it fails.
failed=0
run() {
    printf '\033[1;32m$\033[0m \033[1m%s\033[0m\n' "$*"
    "$@"
    local status=$?
    if [ "$status" -ne 0 ]; then
        printf '\033[1;31m[exit status %s]\033[0m\n' "$status"
        failed=$((failed + 1))
    fi
    echo
}

started=$(date +%s)
echo "# $(compress --version) - $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "# $(nproc) CPU cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), in $work"
echo

# data: the built-in synthetic aerial scenes (8 classes)
run compress data synth --out data/aerial --n 30 --size 128 --seed 0
run compress data check data/aerial

# train: a narrow UNet (base_channels=8), a few epochs on small crops
run compress train --model unet -o base_channels=8 --data data/aerial --out runs/unet \
    --epochs 3 --batch-size 4 --crop 64

# measure
run compress eval --checkpoint runs/unet/best.pt --data data/aerial --split test --out runs/unet-test
run compress export --checkpoint runs/unet/best.pt --out runs/unet/model.onnx --input-size 128x128 \
    --data data/aerial
run compress bench --checkpoint runs/unet/best.pt --runtime torch,ort --input-size 256x256 \
    --runs 10 --warmup 3 --out runs/unet-bench

# compress
run compress prune --model unet --checkpoint runs/unet/best.pt --ratio 0.5 \
    --finetune-epochs 1 --data data/aerial --batch-size 4 --crop 64 --input-size 256x256 \
    --runs 10 --out runs/unet-p50
run compress sensitivity --model unet --checkpoint runs/unet/best.pt --data data/aerial \
    --ratios 0.5 --max-images 2 --out runs/unet-sensitivity
run compress factorize --model unet --checkpoint runs/unet/best.pt --method tucker \
    --rank-rule macs --target-macs 0.5 --finetune-epochs 1 --data data/aerial \
    --batch-size 4 --crop 64 --input-size 256x256 --out runs/unet-tucker
run compress quantize --checkpoint runs/unet/best.pt --method ptq --data data/aerial \
    --calib-images 8 --input-size 256x256 --runs 10 --out runs/unet-ptq
run compress quantize --checkpoint runs/unet/best.pt --method qat --finetune-epochs 1 \
    --data data/aerial --calib-images 8 --batch-size 4 --crop 64 --input-size 256x256 --runs 10 \
    --out runs/unet-qat

# compare the variants that finished, each against its own baseline (runs/unet), and plot
# those scored on the val split (prune and factorize; quantize scores the test split)
variants=()
for run_dir in runs/unet-p50 runs/unet-tucker runs/unet-ptq runs/unet-qat; do
    [ -f "$run_dir/result.json" ] && variants+=("$run_dir")
done
run compress compare runs/unet "${variants[@]}"
run compress plot pareto runs/unet runs/unet-p50 runs/unet-tucker --out runs/pareto.png

echo "# done in $(( $(date +%s) - started )) s, $failed failed step(s); run folders in $work/runs"
exit $(( failed > 0 ))
