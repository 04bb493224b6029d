"""The quickstart behind ``make demo``: synthesise data, train, measure, compare.

Everything runs on the project's own synthetic aerial scenes, so it works on a fresh
machine without downloads. Each stage writes a run folder under ``--out`` and is
reused on a rerun, so an interrupted demo continues where it stopped. The budget is
chosen to finish within a few minutes on 2 CPU cores; the figures it prints are
measured in this very run (latency of every model in the same process).

Run with ``python -m compress.demo [--out DIR]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pydantic import Field

from compress.errors import CompressError
from compress.specs import Spec

DEMO_MODELS = ("unet", "deeplab-mobilenetv3-aspp")


class DemoSpec(Spec):
    """The demo's budget: data size, training length, latency measurement."""

    out: Path = Path("demo-runs")
    models: list[str] = Field(default_factory=lambda: list(DEMO_MODELS), min_length=1)
    images: int = Field(default=60, ge=3)
    image_size: int = Field(default=128, ge=64)
    seed: int = 0
    epochs: int = Field(default=8, ge=1)
    batch_size: int = Field(default=8, ge=2)
    crop: int = Field(default=96, ge=32)
    lr: float = Field(default=2e-3, gt=0)
    bench_runs: int = Field(default=10, ge=1)
    bench_warmup: int = Field(default=2, ge=0)
    compress_model: str = "unet"  # the trained model the compression variants start from
    prune_ratio: float = Field(default=0.5, gt=0, lt=1)
    finetune_epochs: int = Field(default=3, ge=0)
    finetune_lr: float = Field(default=1e-3, gt=0)
    calib_images: int = Field(default=16, ge=1)
    tucker_target_macs: float = Field(default=0.5, gt=0, lt=1)


def run_demo(spec: DemoSpec, *, progress: bool = True) -> list[Path]:
    """Run the demo; return the run folders of the measured models (baseline first)."""
    from rich.console import Console

    from compress.data import write_synthetic_dataset
    from compress.train import BEST_FILE

    console = Console(stderr=True)
    data = write_synthetic_dataset(
        spec.out / "data", n=spec.images, size=spec.image_size, seed=spec.seed,
        log=lambda line: console.print(f"[dim]{line}[/dim]"),
    )  # fmt: skip
    measured, trained = [], {}
    for model in spec.models:
        console.rule(f"[bold]{model}")
        trained[model] = _train(spec, model, data, progress=progress)
        measured.append(_measure(spec, model, data, trained[model] / BEST_FILE))
    base = spec.compress_model
    if base in trained:
        console.rule(f"[bold]{base}: pruned {spec.prune_ratio:.0%} + {spec.finetune_epochs} epochs")
        pruned = _prune(spec, base, data, trained[base] / BEST_FILE, progress=progress)
        name = f"{base}-pruned{round(spec.prune_ratio * 100)}"
        finetune = pruned.parent / "finetune" if spec.finetune_epochs else pruned.parent
        measured.append(_measure(spec, name, data, pruned, baseline=base, train_dir=finetune))
        console.rule(
            f"[bold]{base}: Tucker-2 to {spec.tucker_target_macs:.0%} of the MACs "
            f"+ {spec.finetune_epochs} epochs"
        )
        tucker = _factorize(spec, base, data, trained[base] / BEST_FILE, progress=progress)
        finetune = tucker.parent / "finetune" if spec.finetune_epochs else tucker.parent
        name = f"{base}-tucker{round(spec.tucker_target_macs * 100)}"
        measured.append(_measure(spec, name, data, tucker, baseline=base, train_dir=finetune))
        console.rule(f"[bold]{base}: int8 post-training quantization (ONNX Runtime)")
        int8 = _quantize(spec, base, data, trained[base] / BEST_FILE)
        measured.append(_measure(spec, f"{base}-int8", data, int8, baseline=base))
    return measured


def _factorize(
    spec: DemoSpec, model: str, data: Path, checkpoint: Path, *, progress: bool
) -> Path:
    """Tucker-2 on the trained ``model``'s 3x3 convs to a MACs budget, then fine-tune briefly."""
    from compress.lowrank.run import FACTORIZED_FILE, run_factorize
    from compress.lowrank.spec import FactorizeRunSpec, FactorizeSpec

    run = run_factorize(
        FactorizeRunSpec(
            model=model, checkpoint=str(checkpoint), data=str(data),
            factorize=FactorizeSpec(
                method="tucker", rank_rule="macs", target_macs=spec.tucker_target_macs
            ),
            input_size=(spec.image_size, spec.image_size), finetune_epochs=spec.finetune_epochs,
            lr=spec.finetune_lr, batch_size=spec.batch_size, crop=spec.crop, seed=spec.seed,
        ),
        spec.out / f"tucker-{model}",
        progress=progress,
    )  # fmt: skip
    return run.run_dir / FACTORIZED_FILE


def _quantize(spec: DemoSpec, model: str, data: Path, checkpoint: Path) -> Path:
    """Static int8 PTQ calibrated on real train images; return the int8 ONNX file."""
    from compress.quantization.run import INT8_FILE, quantize
    from compress.quantization.spec import QuantizeSpec

    outcome = quantize(
        QuantizeSpec(
            checkpoint=checkpoint, method="ptq", data=data, calib_images=spec.calib_images,
            input_size=(spec.image_size, spec.image_size), runs=spec.bench_runs,
            warmup=spec.bench_warmup, seed=spec.seed,
        ),
        spec.out / f"ptq-{model}",
    )  # fmt: skip
    return outcome.run_dir / INT8_FILE


def _prune(spec: DemoSpec, model: str, data: Path, checkpoint: Path, *, progress: bool) -> Path:
    """Prune trained ``model`` (L2 magnitude, widths rounded to 8) and fine-tune it briefly."""
    from compress.pruning.run import PRUNED_FILE, run_prune
    from compress.pruning.spec import PruneRunSpec, PruneSpec

    prune_spec = PruneRunSpec(
        model=model, checkpoint=str(checkpoint), data=str(data),
        prune=PruneSpec(ratio=spec.prune_ratio, importance="l2"),
        input_size=(spec.image_size, spec.image_size), finetune_epochs=spec.finetune_epochs,
        lr=spec.finetune_lr, batch_size=spec.batch_size, crop=spec.crop, seed=spec.seed,
        bench=False,  # the demo times every variant itself, in one process
    )  # fmt: skip
    outcome = run_prune(prune_spec, spec.out / f"prune-{model}", progress=progress)
    return outcome.run_dir / PRUNED_FILE


def _train(spec: DemoSpec, model: str, data: Path, *, progress: bool) -> Path:
    """Train ``model`` briefly (constant learning rate); return its run folder."""
    from compress.train import LAST_FILE, train
    from compress.train_spec import TrainSpec

    train_spec = TrainSpec(
        model=model, data=str(data), epochs=spec.epochs, batch_size=spec.batch_size,
        crop=spec.crop, lr=spec.lr, milestones=[], seed=spec.seed,
        val_every=max(1, spec.epochs // 4),
    )  # fmt: skip
    run_dir = spec.out / f"train-{model}"
    resume = (run_dir / LAST_FILE).is_file()
    return train(train_spec, run_dir, resume=resume, progress=progress).run_dir


def _measure(
    spec: DemoSpec, name: str, data: Path, artifact: Path, *, baseline: str | None = None,
    train_dir: Path | None = None,
) -> Path:
    """Test-split accuracy, size, MACs and latency of a checkpoint or an ONNX file.

    A checkpoint is timed through PyTorch and ONNX Runtime, an ONNX file (int8) through
    ONNX Runtime, whose accuracy is then measured on what ships.

    Measured on every demo run, never read back from an earlier one, so that all the
    latencies in the table come from this one process. The training summary (of
    ``train_dir``, default: the artifact's folder) is copied into the result so the
    comparison shows training time beside latency, as the study's table did; ``baseline``
    names the run this variant is compared with.
    """
    from compress.bench import BenchSpec, benchmark
    from compress.results import load_result, write_result
    from compress.runs import prepare_run_dir

    source = {"onnx": artifact} if artifact.suffix == ".onnx" else {"checkpoint": artifact}
    bench_spec = BenchSpec(
        **source, data=data, split="test",
        input_size=(spec.image_size, spec.image_size), runs=spec.bench_runs,
        warmup=spec.bench_warmup, name=name,
    )  # fmt: skip
    folder = prepare_run_dir(spec.out / name, bench_spec.model_dump(mode="json"), kind="bench")
    result = benchmark(bench_spec)
    result.baseline = baseline
    origin = load_result(train_dir or artifact.parent)
    result.training = origin.training
    if artifact.suffix == ".onnx":  # the ONNX file records its architecture, not how it was made
        result.steps = origin.steps
    write_result(folder.path, result)
    return folder.path


def main(argv: list[str] | None = None) -> int:
    """``python -m compress.demo``: run the demo and print the comparison table."""
    parser = argparse.ArgumentParser(prog="python -m compress.demo", description=__doc__)
    parser.add_argument("--out", type=Path, default=DemoSpec().out, help="where runs go")
    parser.add_argument("--epochs", type=int, default=DemoSpec().epochs)
    args = parser.parse_args(argv)
    try:
        spec = DemoSpec(out=args.out, epochs=args.epochs)
        runs = run_demo(spec)
        _print_comparison(runs, spec)
    except CompressError as error:
        print(f"error: {error}", file=sys.stderr)
        return CompressError.exit_code
    return 0


def _print_comparison(runs: list[Path], spec: DemoSpec) -> None:
    from compress.formatting import print_table
    from compress.report import compare, load_results

    print_table(compare(load_results(runs)))
    print(
        "mIoU on the synthetic test split; latency = median per frame, all rows measured in "
        "this process."
    )
    if spec.finetune_epochs and len(runs) > len(spec.models):
        print(
            f"The pruned and factorized variants were fine-tuned for {spec.finetune_epochs} "
            f"epochs after their baseline's {spec.epochs}: their delta mixes what compression "
            "cost with that extra training. For the price of compression alone, compare with "
            "the baseline trained as long (compress train --init BASELINE --epochs N)."
        )
    print(f"Re-make this table with: compress compare {' '.join(str(r) for r in runs)}")


if __name__ == "__main__":
    sys.exit(main())
