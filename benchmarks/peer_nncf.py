"""segcompress int8 beside NNCF int8 on the same fp32 ONNX, scored and timed in one process.

For each checkpoint (or ``--model``, random init: latency only, its mIoU means
nothing): ``compress quantize``'s own run (a one-step quantize VariantSpec,
run as ``compress quantize --checkpoint`` runs it) exports the fp32 ONNX once and
quantizes it; NNCF quantizes that same fp32 file with ``nncf.quantize`` and its
defaults on the same calibration images (the evenly spaced ``--calib-images`` of the
train split, at the same size). fp32, segcompress int8 and NNCF int8 are scored with the
toolkit's evaluator (ONNX Runtime, the same split and images) and timed interleaved in
one process (ONNX Runtime CPU, ``--threads``, ``--input-size``). Writes
``peer_nncf.json`` and ``peer_nncf.md`` (table, CPU flags, the command) into ``--out``.

``--option key=value`` sets a field of the quantize step (``compress.quantization.spec``;
e.g. ``--option calibration=entropy``), so every segcompress PTQ option is comparable.
NNCF is the optional ``peer`` extra: ``pip install 'segcompress[peer]'``.

    python benchmarks/peer_nncf.py --checkpoint ../shared/models/camvid/deeplab-vgg11-aspp.pt \\
        --data ../shared/data/camvid --threads 2 --runs 10 --out benchmarks/peer_nncf
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from compress.core import atomic
from compress.core.parsing import parse_size
from compress.core.specs import parse_key_values
from compress.measure.environment import available_cpus, environment

INSTALL = "NNCF is not installed: pip install 'segcompress[peer]' (or: pip install 'nncf>=3.4')"
VARIANTS = ("fp32", "segcompress int8", "NNCF int8")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, action="append", default=[])
    parser.add_argument(
        "--model", action="append", default=[], help="a model name or builder, random init"
    )
    parser.add_argument("--num-classes", type=int, default=11, help="classes, with --model")
    parser.add_argument("--model-option", action="append", default=[], help="with --model")
    parser.add_argument("--data", type=Path, required=True, help="folder data set")
    parser.add_argument("--split", default="test", help="split scored (default test)")
    parser.add_argument("--calib-images", type=int, default=64)
    parser.add_argument("--calib-size", default=None, help="HxW calibration size (own size)")
    parser.add_argument("--input-size", default="750x1000", help="HxW timed")
    parser.add_argument("--runs", type=int, default=10, help="timed rounds")
    parser.add_argument("--warmup", type=int, default=2, help="untimed rounds first")
    parser.add_argument("--threads", type=int, default=available_cpus())
    parser.add_argument("--max-images", type=int, default=None, help="score only the first N")
    parser.add_argument("--option", action="append", default=[], help="quantize step key=value")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/peer_nncf"))
    parser.add_argument("--progress", action="store_true", help="show progress bars")
    return parser.parse_args(argv)


def step_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The quantize step's fields: calibration images/size, then the ``--option`` pairs."""
    fields: dict[str, Any] = {"kind": "quantize", "calib_images": args.calib_images}
    if args.calib_size:
        fields["calib_size"] = list(parse_size(args.calib_size, option="--calib-size"))
    return fields | parse_key_values(args.option, option="--option")


def baselines(args: argparse.Namespace) -> list[tuple[str, dict[str, Any]]]:
    """``(row name, baseline reference)`` per ``--checkpoint``, then per ``--model``."""
    refs = [(path.stem, {"checkpoint": str(path)}) for path in args.checkpoint]
    options = parse_key_values(args.model_option, option="--model-option")
    for name in args.model:
        ref = {"model": name, "num_classes": args.num_classes, "model_options": options}
        refs.append((name.rpartition(":")[2] + " (random init)", ref))
    return refs


def segcompress_int8(
    baseline: dict[str, Any], args: argparse.Namespace, folder: Path
) -> tuple[Path, Path, dict[str, Any]]:
    """``compress quantize``'s run: ``(fp32 ONNX, int8 ONNX, calibration record)``."""
    from compress.core.results import load_result
    from compress.pipeline.run_kinds import run_as
    from compress.pipeline.spec import VariantSpec

    spec = VariantSpec.model_validate(
        {
            "baseline": baseline,
            "steps": [step_fields(args)],
            "data": str(args.data),
            "eval_split": None,  # scored below, beside NNCF, on args.split
            "bench": {"enabled": False},
            "device": "cpu",
        }
    )
    began = time.perf_counter()
    outcome = run_as(spec, folder / "segcompress", kind="quantize", progress=args.progress)
    seconds = time.perf_counter() - began
    run = outcome.run_dir
    detail = load_result(run).step_details[0]
    calibration = dict(detail.calibration)
    calibration.update(int8_format=detail.int8_format, run_seconds=seconds, reused=outcome.reused)
    return run / "model.onnx", run / "model.int8.onnx", calibration


def calibration_arrays(args: argparse.Namespace, step: dict[str, Any]) -> list[Any]:
    """The calibration images segcompress used (same split, indices and size)."""
    from compress.quantization.calibration import ImageCalibrationReader, calibration_dataset
    from compress.quantization.spec import QuantizeOptions

    options = QuantizeOptions.model_validate({k: v for k, v in step.items() if k != "kind"})
    reader = ImageCalibrationReader(
        calibration_dataset(args.data, options.calib_split),
        options.calib_images,
        size=options.calib_size,
    )
    return [reader.item(i) for i in range(len(reader))]


def nncf_int8(fp32: Path, target: Path, arrays: list[Any]) -> dict[str, Any]:
    """``nncf.quantize`` with its defaults on ``arrays``; what it took."""
    import nncf
    import onnx

    model = onnx.load(str(fp32))
    name = model.graph.input[0].name
    began = time.perf_counter()
    quantized = nncf.quantize(
        model, nncf.Dataset(arrays, lambda a: {name: a}), subset_size=len(arrays)
    )
    seconds = time.perf_counter() - began
    atomic.write_with(target, lambda tmp: onnx.save(quantized, str(tmp)))
    return {"seconds": seconds, "images": len(arrays), "nncf": nncf.__version__}


def score(path: Path, args: argparse.Namespace) -> dict[str, Any]:
    """mIoU of an ONNX file on ``args.split`` with the toolkit's evaluator (ORT CPU)."""
    from torch.utils.data import Subset

    from compress.data import SegmentationFolder
    from compress.measure.evaluate import evaluate
    from compress.measure.runtimes import OrtRunner

    dataset = SegmentationFolder(args.data, args.split)
    info = dataset.info
    if args.max_images is not None:
        dataset = Subset(dataset, range(min(args.max_images, len(dataset))))  # type: ignore[assignment]
    result = evaluate(
        OrtRunner(path, threads=args.threads),
        dataset,
        num_classes=info.num_classes,
        ignore_index=info.ignore_index,
    )
    return {"miou": result.miou, "images": result.num_images}


def measure(name: str, baseline: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """One model's three rows: files, mIoU, latency (interleaved), quantize seconds."""
    from compress.deploy.subjects import Subject, time_subjects
    from compress.measure.size import onnx_size

    folder = args.out / name.split()[0]
    fp32, int8, calibration = segcompress_int8(baseline, args, folder)
    peer = folder / "nncf.int8.onnx"
    nncf_run = nncf_int8(fp32, peer, calibration_arrays(args, step_fields(args)))
    paths = {"fp32": fp32, "segcompress int8": int8, "NNCF int8": peer}
    size = parse_size(args.input_size)
    latencies = time_subjects(
        [Subject(onnx=path) for path in paths.values()],
        runtimes=["ort"],
        input_size=size,
        warmup=args.warmup,
        runs=args.runs,
        threads=args.threads,
    )
    rows = []
    for (variant, path), latency in zip(paths.items(), latencies, strict=True):
        stats = latency["ort-cpu"]
        rows.append(
            {
                "variant": variant,
                "onnx": str(path),
                **score(path, args),
                "p50_ms": stats.p50,
                "p90_ms": stats.p90,
                "threads": stats.threads,
                "bytes": onnx_size(path).file_bytes,
            }
        )
    for row in rows:
        row["x_fp32"] = row["p50_ms"] / rows[0]["p50_ms"]
    rows[1].update(
        quantize_seconds=calibration.get("total_seconds"),
        calibration_seconds=calibration.get("calibration_seconds"),
    )
    rows[2].update(quantize_seconds=nncf_run["seconds"], calibration_seconds=None)
    return {"model": name, "rows": rows, "segcompress": calibration, "nncf": nncf_run}


def markdown(results: list[dict[str, Any]], env: dict[str, Any], command: str) -> str:
    """The table, the int8 format segcompress chose, the CPU and the command."""
    lines = [
        "| model | variant | mIoU | p50 ms | p90 ms | × fp32 | size MB | quantize s "
        "| calibration s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        for row in result["rows"]:
            quantize, calib = row.get("quantize_seconds"), row.get("calibration_seconds")
            lines.append(
                f"| {result['model']} | {row['variant']} | {100 * row['miou']:.2f} | "
                f"{row['p50_ms']:.1f} | {row['p90_ms']:.1f} | {row['x_fp32']:.2f}× | "
                f"{row['bytes'] / 1e6:.1f} | {_seconds(quantize)} | {_seconds(calib)} |"
            )
    first = results[0]
    images = first["rows"][0]["images"]
    fmt = first["segcompress"].get("int8_format", {})
    versions = env["versions"]
    lines += [
        "",
        f"mIoU on {images} images of the scored split; latency: ONNX Runtime CPU, batch 1, "
        f"{first['rows'][0]['threads']} threads, the three timed interleaved in one process. "
        "quantize s: the whole quantization (segcompress: pre-process + calibration + "
        "quantize_static; NNCF: nncf.quantize); calibration s: segcompress's calibration pass.",
        f"segcompress int8 format: reduce_range={fmt.get('reduce_range')} ({fmt.get('reason')}).",
        f"CPU: {env['cpu']}, {env['cpu_logical']} logical cores; flags "
        f"{', '.join(env['cpu_flags']) or 'none of note'}; load average after "
        f"{env['load_average']}; onnxruntime {versions.get('onnxruntime')}, "
        f"nncf {first['nncf']['nncf']}, torch {versions.get('torch')}; {env['date']}.",
        "",
        f"Command: `{command}`",
    ]
    return "\n".join(lines) + "\n"


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if not args.checkpoint and not args.model:
        print("give at least one --checkpoint (or --model for a random-init one)", file=sys.stderr)
        return 2
    try:
        import nncf  # noqa: F401
    except ImportError:
        print(INSTALL, file=sys.stderr)
        return 2
    results = [measure(name, baseline, args) for name, baseline in baselines(args)]
    env = environment(threads=args.threads)
    command = f"python benchmarks/peer_nncf.py {shlex.join(argv)}"
    table = markdown(results, env, command)
    atomic.write_json(
        args.out / "peer_nncf.json", {"results": results, "env": env, "command": command}
    )
    atomic.write_text(args.out / "peer_nncf.md", table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
