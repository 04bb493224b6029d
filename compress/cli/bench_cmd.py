"""``compress bench``: latency (p50/p90/min), size, MACs and optional accuracy of one model."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from compress.cli.app import app
from compress.cli.notes import warn_if_busy
from compress.cli.path_options import CHECKPOINT_HELP, checkpoint_file, data_folder, onnx_file
from compress.cli.progress_display import shown
from compress.cli.variant_options import ModelOptions, OptionalModelName, Progress
from compress.core.parsing import check_positive, parse_choices, parse_key_values, parse_size
from compress.measure.runtimes import runtime_help

if TYPE_CHECKING:
    from compress.core.results import RunResult


@app.command("bench")
def bench_command(
    model: OptionalModelName = None,
    checkpoint: Annotated[
        Path | None,
        typer.Option(help=CHECKPOINT_HELP, callback=checkpoint_file),
    ] = None,
    onnx: Annotated[
        Path | None, typer.Option(help="ONNX file (runs on ONNX Runtime).", callback=onnx_file)
    ] = None,
    num_classes: Annotated[int, typer.Option(help="Classes, with --model.")] = 8,
    option: ModelOptions = None,
    runtime: Annotated[
        str | None,
        typer.Option(
            help=f"Comma-separated: {runtime_help()}. Default: torch,ort (ort for --onnx)."
        ),
    ] = None,
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
    input_size: Annotated[str, typer.Option(help="Input H x W, e.g. 750x1000 or 512.")] = (
        "750x1000"
    ),
    batch: Annotated[int, typer.Option(help="Images per call.")] = 1,
    threads: Annotated[
        int | None, typer.Option(help="Threads for torch and ONNX Runtime [default: torch's].")
    ] = None,
    runs: Annotated[int, typer.Option(help="Timed runs (median, p90, min, mean).")] = 10,
    warmup: Annotated[int, typer.Option(help="Untimed warm-up runs first.")] = 3,
    data: Annotated[
        Path | None,
        typer.Option(help="Data set folder: also measure accuracy.", callback=data_folder),
    ] = None,
    split: Annotated[str, typer.Option(help="Split of --data to score.")] = "test",
    fp16: Annotated[bool, typer.Option("--fp16", help="Half precision (torch, CUDA).")] = False,
    channels_last: Annotated[
        bool, typer.Option("--channels-last", help="Channels-last memory (torch, CUDA).")
    ] = False,
    roof: Annotated[
        bool, typer.Option(help="Also measure the 2048^2 matmul reference (cached).")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the RunResult JSON.")] = False,
    out: Annotated[
        Path | None, typer.Option(help="Run folder: spec.yaml, result.json, model.onnx.")
    ] = None,
    progress: Progress = True,
) -> None:
    """Time a model on PyTorch eager and/or ONNX Runtime; report GMAC/s against the CPU roof."""
    with shown(progress):
        from compress.core.specs import parse_spec
        from compress.deploy.bench import BenchSpec, run_bench
        from compress.measure.runtimes import RUNTIMES

        check_positive(threads, option="--threads")
        check_positive(batch, option="--batch")
        check_positive(runs, option="--runs")
        check_positive(warmup, option="--warmup", minimum=0)
        valid = tuple(RUNTIMES)
        runtimes = parse_choices(runtime, option="--runtime", valid=valid) if runtime else None
        spec = parse_spec(
            BenchSpec,
            {
                "model": model,
                "checkpoint": checkpoint,
                "onnx": onnx,
                "num_classes": num_classes,
                "options": parse_key_values(option),
                "runtimes": runtimes,
                "device": device,
                "input_size": parse_size(input_size),
                "batch": batch,
                "threads": threads,
                "runs": runs,
                "warmup": warmup,
                "data": data,
                "split": split,
                "fp16": fp16,
                "channels_last": channels_last,
                "roof": roof,
            },
            source="options",
        )
        result = run_bench(spec, out=out)
        if as_json:
            typer.echo(result.model_dump_json(indent=2))
        else:
            _print(result)


def _print(result: RunResult) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    env = result.env
    warn_if_busy(env)
    roof = env.get("roof") or {}
    size = "x".join(str(s) for s in result.macs_input_size or ()) or "?"
    table = Table(title=escape(f"{result.name} - {result.model} at {size}"))
    for column in ("runtime", "p50 ms", "p90 ms", "min ms", "mean ms", "GMAC/s", "% of roof"):
        table.add_column(column, justify="left" if column == "runtime" else "right")
    for key, stats in result.latency_ms.items():
        table.add_row(
            key,
            f"{stats.p50:.2f}",
            f"{stats.p90:.2f}",
            f"{stats.min:.2f}",
            _number(stats.mean, ".2f"),
            _number(stats.gmacs_per_s, ".2f"),
            _number(None if stats.roof_fraction is None else 100 * stats.roof_fraction, ".1f"),
        )
    console = Console()
    console.print(table)
    facts = [
        f"params {_number(result.params, ',')}",
        f"MACs {_number(None if result.macs is None else result.macs / 1e9, '.2f')} G",
        f"size {_number(result.size_bytes, ',')} B ({result.size_artifact})",
        f"threads {env.get('threads')} on {escape(str(env.get('gpu') or env.get('cpu')))}",
    ]
    console.print(", ".join(facts))
    if roof.get("derivation"):
        console.print(escape(f"roof: {roof['derivation']}"))
        if roof.get("measured_gmacs"):
            console.print(
                f"measured {roof['matmul_size']}^2 matmul: {roof['measured_gmacs']:.1f} GMAC/s"
            )
    if result.metrics is not None:
        m = result.metrics
        console.print(
            f"{m.split}: mIoU {100 * m.miou:.2f}%, class acc {100 * m.class_acc:.2f}%, "
            f"pixel acc {100 * m.pixel_acc:.2f}% ({result.extra.get('metrics_runtime')})"
        )


def _number(value: float | int | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)
