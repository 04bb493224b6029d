"""docs/own-model.md at full size: torchvision's LR-ASPP MobileNetV3-large pruned, int8,
and both, each timed interleaved with the fp32 model (ONNX Runtime, CPU) at 750x1000.

Only the public API (``compress.build``, ``prune``, ``quantize``, ``benchmark``) is used,
as a user with their own model would. The weights are random (the cost of a dense CNN
does not depend on them), so this measures speed and size, not accuracy. Calibration
images: CamVid train (``--data``) when given, else synthetic scenes.

    python benchmarks/own_model.py --data ../shared/data/camvid --threads 2 --runs 10
"""

from __future__ import annotations

import argparse
import copy
import shlex
import sys
import tempfile
from pathlib import Path

import torch

import compress
from compress.core.parsing import parse_size
from compress.measure.environment import environment

BUILDER = "torchvision.models.segmentation:lraspp_mobilenet_v3_large"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="folder data set for calibration")
    parser.add_argument("--input-size", default="750x1000")
    parser.add_argument("--target-macs", type=float, default=0.5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--calib-images", type=int, default=16)
    args = parser.parse_args(argv)
    size = parse_size(args.input_size)
    torch.manual_seed(0)
    fp32 = compress.build(BUILDER, num_classes=11, weights_backbone=None).eval()
    example = torch.randn(1, 3, *size)
    pruned = compress.prune(fp32, example, target_macs=args.target_macs, inplace=False)
    with tempfile.TemporaryDirectory(prefix="own-model-") as folder:
        calibration = _calibration(args.data, Path(folder))
        int8 = compress.quantize(
            copy.deepcopy(fp32),
            calibration,
            Path(folder) / "fp32.int8.onnx",
            calib_images=args.calib_images,
        )
        both = compress.quantize(
            pruned, calibration, Path(folder) / "pruned.int8.onnx", calib_images=args.calib_images
        )
        print("| variant | p50 ms | p90 ms | fp32 p50 ms | speed-up | size × | MACs × |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for name, subject in [("pruned (fp32)", pruned), ("int8", int8), ("pruned + int8", both)]:
            r = compress.benchmark(
                subject,
                input_size=size,
                baseline=fp32,
                threads=args.threads,
                runs=args.runs,
                warmup=args.warmup,
            )
            macs = f"{r.macs_ratio:.2f}×" if r.macs_ratio else "—"
            print(
                f"| {name} | {r.p50_ms:.1f} | {r.p90_ms:.1f} | {r.baseline.p50_ms:.1f} | "
                f"{r.speedup:.2f}× | {r.size_ratio:.2f}× | {macs} |"
            )
    env = environment(threads=args.threads)
    print(f"\nCommand: `python benchmarks/own_model.py {shlex.join(argv)}`")
    versions = env["versions"]
    print(
        f"CPU: {env['cpu']}, {env['cpu_logical']} logical cores; threads {args.threads}; "
        f"load average after: {env['load_average']}; torch {versions['torch']}, "
        f"torchvision {versions['torchvision']}, onnxruntime {versions['onnxruntime']}; "
        f"{env['date']}"
    )
    return 0


def _calibration(data: Path | None, folder: Path) -> torch.utils.data.Dataset:
    from compress.data import SegmentationFolder
    from compress.data.synthetic import write_synthetic_dataset

    if data is None:
        data = write_synthetic_dataset(folder / "scenes", n=24, size=256, seed=0)
    return SegmentationFolder(data, "train")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
