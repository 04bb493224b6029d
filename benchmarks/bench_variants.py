"""Time a baseline and its variants in ONE process and print their ratios.

Each artifact is a checkpoint (``.pt``, pruned/factorized ones included: they rebuild
from their structure steps) or an ONNX file (``.onnx``, e.g. int8 QDQ). The first one
is the baseline. Every artifact is timed on the same runtime - ONNX Runtime CPU
(``--runtime ort``, the default; checkpoints are exported first) or PyTorch on CUDA
(``torch-cuda``, ``torch-cuda-fp16``: channels-last, synchronised; checkpoints only) -
with the same threads, warm-up and runs, interleaved round by round so that drift of
the machine hits all of them alike. Prints a Markdown table with MACs ratio,
latency ratio (variant / baseline; below 1 is faster) and file-size ratio, plus the
command and environment; ``--out`` writes the JSON.

    python benchmarks/bench_variants.py runs/vgg/best.pt runs/vgg-pruned/pruned.pt \\
        --input-size 750x1000 --runs 5 --out benchmarks/vgg-prune.json
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Any

from compress.core import atomic
from compress.core.errors import CompressError
from compress.core.parsing import parse_size
from compress.measure.environment import available_cpus, environment
from compress.measure.latency import Timing, measure_interleaved

RUNTIMES = ("ort", "torch-cuda", "torch-cuda-fp16")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("artifacts", nargs="+", type=Path, help="baseline first; .pt or .onnx")
    parser.add_argument("--names", default=None, help="comma-separated row names")
    parser.add_argument("--input-size", default="750x1000", help="HxW")
    parser.add_argument("--runs", type=int, default=5, help="timed rounds")
    parser.add_argument("--warmup", type=int, default=2, help="untimed rounds first")
    parser.add_argument("--threads", type=int, default=available_cpus())
    parser.add_argument(
        "--runtime",
        choices=RUNTIMES,
        default="ort",
        help="ort (ONNX Runtime CPU), torch-cuda or torch-cuda-fp16",
    )
    parser.add_argument("--out", type=Path, default=None, help="write JSON here")
    return parser.parse_args(argv)


def prepare(
    artifact: Path, size: tuple[int, int], scratch: Path, runtime: str = "ort"
) -> dict[str, Any]:
    """Model (or ONNX path), MACs, params and deployable size of one artifact."""
    from compress.deploy.base_model import open_model
    from compress.deploy.export import export_onnx
    from compress.deploy.onnx_model import architecture_from_onnx
    from compress.measure.macs import count_macs_params
    from compress.measure.size import onnx_size, state_dict_bytes

    if artifact.suffix == ".onnx":
        onnx_path, model = artifact, architecture_from_onnx(artifact)
    elif runtime != "ort":
        model = open_model(model=None, checkpoint=artifact).model
        macs, params = count_macs_params(model, size)
        return {
            "model": model,
            "macs": macs,
            "params": params,
            "size_bytes": state_dict_bytes(model.state_dict()),
        }  # weights: no ONNX here
    else:
        loaded = open_model(model=None, checkpoint=artifact)
        model = loaded.model
        onnx_path = export_onnx(
            model,
            scratch / f"{len(list(scratch.iterdir()))}.onnx",
            input_size=size,
            metadata=loaded.metadata(),
        )
    macs, params = count_macs_params(model, size) if model is not None else (None, None)
    return {
        "onnx": onnx_path,
        "macs": macs,
        "params": params,
        "size_bytes": onnx_size(onnx_path).file_bytes,
    }


def time_interleaved(
    prepared: list[dict[str, Any]],
    size: tuple[int, int],
    *,
    runs: int,
    warmup: int,
    threads: int,
    runtime: str = "ort",
) -> list[Timing]:
    """Timings of every prepared artifact on ``runtime``, interleaved round by round."""
    import torch

    from compress.measure.runtimes import OrtRunner, TorchRunner

    sync = None
    if runtime == "ort":
        runners = [OrtRunner(p["onnx"], device="cpu", threads=threads) for p in prepared]
    else:
        if any(p.get("model") is None for p in prepared):
            raise CompressError(f"--runtime {runtime} times checkpoints (.pt), not ONNX files")
        runners = [
            TorchRunner(
                p["model"],
                device="cuda",
                threads=threads,
                fp16=runtime.endswith("fp16"),
                channels_last=True,
            )
            for p in prepared
        ]
        sync = torch.cuda.synchronize
    x = torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(0))
    calls = [(runner.run, runner.prepare(x)) for runner in runners]
    return measure_interleaved(calls, warmup=warmup, runs=runs, sync=sync)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    try:
        size = parse_size(args.input_size, option="--input-size")
        names = args.names.split(",") if args.names else [p.parent.name for p in args.artifacts]
        if len(names) != len(args.artifacts):
            raise CompressError(f"--names gives {len(names)} names for {len(args.artifacts)} files")
        if args.runtime != "ort" and any(p.suffix == ".onnx" for p in args.artifacts):
            raise CompressError(f"--runtime {args.runtime} times checkpoints (.pt), not ONNX files")
        with tempfile.TemporaryDirectory(prefix="segcompress-variants-") as scratch:
            prepared = [prepare(path, size, Path(scratch), args.runtime) for path in args.artifacts]
            samples = time_interleaved(
                prepared,
                size,
                runs=args.runs,
                warmup=args.warmup,
                threads=args.threads,
                runtime=args.runtime,
            )
    except CompressError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    rows = []
    for name, path, info, timing in zip(names, args.artifacts, prepared, samples, strict=True):
        rows.append(
            {
                "name": name,
                "artifact": str(path),
                "macs": info["macs"],
                "params": info["params"],
                "size_bytes": info["size_bytes"],
                "p50_ms": timing.p50,
                "p90_ms": timing.p90,
                "min_ms": timing.min,
                "samples_ms": timing.samples_ms,
            }
        )
    base = rows[0]
    size_label = "ONNX MB" if args.runtime == "ort" else "weights MB"
    print(
        f"| variant | GMACs | MACs × base | {args.runtime} p50 ms | p90 ms | latency × base "
        f"| {size_label} | size × base |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        macs = f"{row['macs'] / 1e9:.2f}" if row["macs"] else "—"
        macs_ratio = f"{row['macs'] / base['macs']:.2f}" if row["macs"] and base["macs"] else "—"
        print(
            f"| {row['name']} | {macs} | {macs_ratio} | {row['p50_ms']:.1f} | {row['p90_ms']:.1f} "
            f"| {row['p50_ms'] / base['p50_ms']:.2f} | {row['size_bytes'] / 1e6:.1f} "
            f"| {row['size_bytes'] / base['size_bytes']:.2f} |"
        )
    env = environment(threads=args.threads)
    print(f"\nCommand: `python benchmarks/bench_variants.py {shlex.join(argv)}`  ")
    where = "ONNX Runtime CPU" if args.runtime == "ort" else f"{args.runtime} on {env.get('gpu')}"
    print(
        f"{where}, {size[0]}x{size[1]}, batch 1, threads {args.threads}, "
        f"{args.warmup} warm-up + {args.runs} timed rounds, interleaved; CPU: {env['cpu']}; "
        f"load average at the end {env['load_average']}; {env['date']}"
    )
    if args.out is not None:
        document = {
            "command": argv,
            "runtime": args.runtime,
            "env": env,
            "rows": rows,
            "size": "ONNX file" if args.runtime == "ort" else "weights (state_dict)",
        }
        atomic.write_json(args.out, document)
    return 0


if __name__ == "__main__":
    sys.exit(main())
