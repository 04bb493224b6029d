"""Side-by-side latency of the registered baselines: PyTorch eager vs ONNX Runtime fp32, CPU.

Every model runs in this one process at random init (weights do not change the cost of a
dense CNN), at each input size, with the same thread count for both runtimes (all cores
by default), and reports achieved GMAC/s against the CPU's theoretical peak. Prints a
Markdown table, the command line and the environment; writes everything as JSON to
``--out``. Run it in pieces with ``--models`` / ``--sizes`` and ``--merge`` into one file:

    python benchmarks/bench_baselines.py --out benchmarks/results.json
    python benchmarks/bench_baselines.py --models unet --sizes 360x480 --merge --out r.json
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from baselines import list_models
from compress.core import atomic
from compress.core.errors import CompressError
from compress.core.parsing import parse_choices, parse_size
from compress.deploy.bench import BenchSpec, run_bench
from compress.measure.environment import available_cpus, environment, load_average
from compress.measure.roof import get_roof

DEFAULT_SIZES = "750x1000,360x480"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models",
        default=",".join(list_models()),
        help="comma-separated registered names (default: all)",
    )
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help="comma-separated HxW sizes")
    parser.add_argument("--runtimes", default="torch,ort", help="torch, ort or both")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per measurement")
    parser.add_argument("--warmup", type=int, default=2, help="untimed warm-up runs")
    parser.add_argument(
        "--threads",
        type=int,
        default=available_cpus(),
        help="threads for both runtimes (default: all cores)",
    )
    parser.add_argument("--num-classes", type=int, default=8, help="output classes")
    parser.add_argument("--out", type=Path, default=None, help="write JSON here")
    parser.add_argument(
        "--merge", action="store_true", help="keep rows already in --out for other models or sizes"
    )
    return parser.parse_args(argv)


def measure(args: argparse.Namespace) -> list[dict[str, Any]]:
    """One row (plus its RunResult) per model and size."""
    models = [name.strip() for name in args.models.split(",") if name.strip()]
    sizes = [parse_size(text, option="--sizes") for text in args.sizes.split(",")]
    runtimes = parse_choices(args.runtimes, option="--runtimes", valid=("torch", "ort"))
    rows = []
    for name in models:
        for size in sizes:
            print(f"measuring {name} at {size[0]}x{size[1]} ...", file=sys.stderr, flush=True)
            spec = BenchSpec(
                model=name,
                num_classes=args.num_classes,
                runtimes=runtimes,
                input_size=size,
                runs=args.runs,
                warmup=args.warmup,
                threads=args.threads,
            )
            result = run_bench(spec)
            row: dict[str, Any] = {
                "model": result.model,
                "size": f"{size[0]}x{size[1]}",
                "gmacs": result.macs / 1e9 if result.macs else None,
                "params": result.params,
            }
            for key, stats in result.latency_ms.items():
                runtime = key.split("-")[0]
                row[f"{runtime}_p50_ms"] = stats.p50
                row[f"{runtime}_p90_ms"] = stats.p90
                row[f"{runtime}_gmacs_per_s"] = stats.gmacs_per_s
                row[f"{runtime}_roof_fraction"] = stats.roof_fraction
            row["result"] = result.model_dump(mode="json")
            rows.append(row)
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    """The table for RESULTS.md."""

    def num(value: float | None, fmt: str) -> str:
        return "—" if value is None else format(value, fmt)

    def rate(row: dict[str, Any], runtime: str) -> str:
        gmacs, share = row.get(f"{runtime}_gmacs_per_s"), row.get(f"{runtime}_roof_fraction")
        if gmacs is None:
            return "—"
        return f"{gmacs:.1f} ({100 * share:.0f}%)" if share is not None else f"{gmacs:.1f}"

    lines = [
        "| model | input H×W | GMACs | params (M) | eager p50 ms | ORT p50 ms | ORT speed-up "
        "| eager GMAC/s (% peak) | ORT GMAC/s (% peak) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        eager, ort = row.get("torch_p50_ms"), row.get("ort_p50_ms")
        speedup = eager / ort if eager and ort else None
        lines.append(
            f"| {row['model']} | {row['size']} | {num(row['gmacs'], '.2f')} "
            f"| {num(row['params'] / 1e6 if row['params'] else None, '.2f')} "
            f"| {num(eager, '.1f')} | {num(ort, '.1f')} | {num(speedup, '.2f')}× "
            f"| {rate(row, 'torch')} | {rate(row, 'ort')} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    command = "python benchmarks/bench_baselines.py " + shlex.join(
        sys.argv[1:] if argv is None else argv
    )
    busy = load_average()
    if busy is not None and busy > 0.5 * available_cpus():
        warning = (
            f"warning: load average {busy} on {available_cpus()} CPUs; other work will "
            "inflate and scatter these timings (eager PyTorch most)"
        )
        print(warning, file=sys.stderr)
    try:
        rows = measure(args)
    except CompressError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.merge and args.out is not None and args.out.is_file():
        done = {(row["model"], row["size"]) for row in rows}
        previous = json.loads(args.out.read_text(encoding="utf-8")).get("rows", [])
        rows = [r for r in previous if (r["model"], r["size"]) not in done] + rows
    env = environment(threads=args.threads)
    roof = get_roof(args.threads)
    print(markdown(rows))
    print(f"\nCommand: `{command}`  ")
    print(
        f"CPU: {env['cpu']} ({env['cpu_physical_cores']} cores, flags "
        f"{' '.join(env['cpu_flags'])}), threads {args.threads}, {env['date']}  "
    )
    versions = ", ".join(f"{k} {v}" for k, v in env["versions"].items() if v)
    print(f"Versions: Python {env['python']}, {versions}  ")
    print(f"Load average at the end: {env['load_average']}  ")
    print(f"Peak: {roof.derivation}  ")
    if roof.measured_gmacs is not None:
        print(f"Measured {roof.matmul_size}² fp32 torch matmul: {roof.measured_gmacs:.1f} GMAC/s")
    if args.out is not None:
        atomic.write_json(
            args.out, {"command": command, "env": env, "roof": roof.to_dict(), "rows": rows}
        )
        print(f"\nwrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
