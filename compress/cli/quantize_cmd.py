"""``compress quantize``: PTQ or QAT to a QDQ int8 ONNX model, measured beside fp32.

Thin: the options become a :class:`compress.pipeline.spec.VariantSpec` of one quantize
step and :func:`compress.pipeline.run_kinds.run_as` runs it as a ``quantize`` run. The
run folder holds ``spec.yaml``, ``model.onnx`` (fp32, the baseline as it ships),
``model.int8.onnx`` and ``result.json``: the int8 file's size, ORT CPU latency and mIoU,
and in ``baseline_measurement`` the fp32 file measured the same way, interleaved.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from compress.cli.app import app
from compress.cli.completion import names_in
from compress.cli.notes import warn_if_busy
from compress.cli.path_options import checkpoint_file, data_folder, onnx_file
from compress.cli.progress_display import shown
from compress.cli.variant_options import Progress, size_text
from compress.core.errors import CompressError
from compress.core.parsing import check_positive, parse_size
from compress.pipeline.run_kinds import defaults_of
from compress.pipeline.spec import BenchSettings, VariantSpec
from compress.pipeline.steps import QuantizeStep
from compress.quantization.calibrators import CALIBRATORS, calibration_help
from compress.quantization.methods import QUANTIZE_METHODS, method_help

if TYPE_CHECKING:
    from compress.pipeline.variant import VariantOutcome

_REDUCE_RANGE = {"auto": None, "on": True, "off": False}
# the defaults of every option are the step specs' (one table for CLI, API and recipes)
QUANTIZE = defaults_of(QuantizeStep)
BENCH = defaults_of(BenchSettings)
# quantize measures where int8 is deployed: full-size images, on the test split
INPUT_SIZE = (750, 1000)
SPLIT = "test"


@app.command("quantize")
def quantize_command(
    data: Annotated[
        Path | None,
        typer.Option(
            help="Data set folder: calibration reads its train split (required).",
            callback=data_folder,
        ),
    ] = None,
    checkpoint: Annotated[
        Path | None,
        typer.Option(help="Checkpoint (any variant, pruned ones too).", callback=checkpoint_file),
    ] = None,
    onnx: Annotated[
        Path | None,
        typer.Option(help="fp32 ONNX file from `compress export` (PTQ only).", callback=onnx_file),
    ] = None,
    method: Annotated[
        str,
        typer.Option(help=method_help() + ".", autocompletion=names_in(lambda: QUANTIZE_METHODS)),
    ] = QUANTIZE["method"],
    calib_images: Annotated[
        int, typer.Option(help="Train images for calibration (evenly spaced).")
    ] = QUANTIZE["calib_images"],
    calibration: Annotated[
        str,
        typer.Option(
            help="Range estimator: " + calibration_help() + ".",
            autocompletion=names_in(lambda: CALIBRATORS),
        ),
    ] = QUANTIZE["calibration"],
    calib_size: Annotated[
        str | None, typer.Option(help="Resize calibration images to HxW (default: their own size).")
    ] = None,
    per_channel: Annotated[
        bool, typer.Option("--per-channel/--per-tensor", help="Weight scales per channel.")
    ] = QUANTIZE["per_channel"],
    reduce_range: Annotated[
        str, typer.Option(help="7-bit weights: auto (on without VNNI), on or off.")
    ] = "auto",
    equalize: Annotated[
        bool,
        typer.Option(
            "--equalize/--no-equalize",
            help="PTQ: cross-layer equalisation of conv -> ReLU -> conv pairs (BN folded).",
        ),
    ] = QUANTIZE["equalize"],
    bias_correction: Annotated[
        bool,
        typer.Option(
            "--bias-correction/--no-bias-correction",
            help="PTQ: subtract each conv's mean int8-weight error (calibration images).",
        ),
    ] = QUANTIZE["bias_correction"],
    keep_fp32: Annotated[
        str | None,
        typer.Option(help="Comma-separated PyTorch module paths or ONNX node names kept fp32."),
    ] = None,
    split: Annotated[str, typer.Option(help="Split scored for fp32 and int8 mIoU.")] = SPLIT,
    input_size: Annotated[
        str, typer.Option(help="Latency input HxW (ORT CPU, both models).")
    ] = size_text(INPUT_SIZE),
    runs: Annotated[int, typer.Option(help="Timed runs per model.")] = BENCH["runs"],
    warmup: Annotated[int, typer.Option(help="Untimed warm-up runs per model.")] = BENCH["warmup"],
    threads: Annotated[int | None, typer.Option(help="Threads (default: torch's).")] = BENCH[
        "threads"
    ],
    epochs: Annotated[
        int,
        typer.Option(
            "--finetune-epochs",
            "--epochs",
            help="QAT fine-tuning epochs (named as in prune and factorize).",
        ),
    ] = QUANTIZE["epochs"],
    lr: Annotated[float, typer.Option(help="QAT learning rate (Adam).")] = QUANTIZE["lr"],
    batch_size: Annotated[int, typer.Option(help="QAT batch size.")] = QUANTIZE["batch_size"],
    crop: Annotated[int, typer.Option(help="QAT training crop size.")] = QUANTIZE["crop"],
    qat_min_agreement: Annotated[
        float,
        typer.Option(
            help="Share of pixels where the int8 ONNX model must pick the fake-quant "
            "PyTorch model's class (QAT's parity check)."
        ),
    ] = QUANTIZE["qat_min_agreement"],
    loss: Annotated[
        str, typer.Option(help="QAT loss, as in `compress train`: ce | ce+dice | ce+lovasz | ohem.")
    ] = QUANTIZE["loss"],
    class_weights: Annotated[
        str,
        typer.Option(
            help="QAT cross-entropy class weights from the train masks, as in `compress "
            "train`: none | median-frequency | inverse-sqrt."
        ),
    ] = QUANTIZE["class_weights"],
    max_drop: Annotated[
        float | None,
        typer.Option(
            metavar="POINTS",
            help="PTQ accuracy control: keep the layers that cost most in float until int8 "
            "is at most POINTS mIoU below fp32 on val images (never test).",
        ),
    ] = QUANTIZE["max_drop"],
    control_images: Annotated[
        int, typer.Option(help="Val images --max-drop scores on (evenly spaced).")
    ] = QUANTIZE["control_images"],
    max_reverted: Annotated[
        int, typer.Option(help="Most layers --max-drop may keep in float.")
    ] = QUANTIZE["max_reverted"],
    float_op_types: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated ONNX op types (e.g. HardSigmoid,Mul) kept float where "
            "that is measured faster than int8."
        ),
    ] = None,
    gpu: Annotated[
        bool, typer.Option("--gpu", help="Also measure FP16 (and TensorRT int8) on CUDA.")
    ] = QUANTIZE["gpu"],
    out: Annotated[
        Path | None,
        typer.Option(help="Run folder (default: runs/<source>-<method>-int8-HASH)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the RunResult JSON.")] = False,
    progress: Progress = True,
) -> None:
    """Quantize to int8 (ONNX Runtime QDQ) and report fp32 vs int8 mIoU, latency and size."""
    from compress.core.specs import parse_spec

    source = "compress quantize"
    check_positive(calib_images, option="--calib-images")
    check_positive(runs, option="--runs")
    check_positive(warmup, option="--warmup", minimum=0)
    check_positive(threads, option="--threads")
    check_positive(epochs, option="--finetune-epochs")
    if reduce_range not in _REDUCE_RANGE:
        raise CompressError(f"--reduce-range {reduce_range!r} is not valid; use auto, on or off")
    step = parse_spec(
        QuantizeStep,
        {
            "method": method,
            "calib_images": calib_images,
            "calib_size": parse_size(calib_size, option="--calib-size") if calib_size else None,
            "calibration": calibration,
            "per_channel": per_channel,
            "reduce_range": _REDUCE_RANGE[reduce_range],
            "keep_fp32": (keep_fp32 or "").split(","),
            "equalize": equalize,
            "bias_correction": bias_correction,
            "epochs": epochs,
            "lr": lr,
            "batch_size": batch_size,
            "crop": crop,
            "qat_min_agreement": qat_min_agreement,
            "loss": loss,
            "class_weights": class_weights,
            "max_drop": max_drop,
            "control_images": control_images,
            "max_reverted": max_reverted,
            "float_op_types": (float_op_types or "").split(","),
            "gpu": gpu,
        },
        source=source,
    )
    _check_sources(step, checkpoint, onnx, data)
    spec = parse_spec(
        VariantSpec,
        {
            "baseline": {
                "checkpoint": str(checkpoint) if checkpoint else None,
                "onnx": str(onnx) if onnx else None,
            },
            "steps": [step],
            "data": str(data),
            "eval_split": split,
            "bench": {
                "runtimes": ["ort"],
                "input_size": parse_size(input_size),
                "runs": runs,
                "warmup": warmup,
                "threads": threads,
            },
        },
        source=source,
    )
    from compress.pipeline.run_kinds import run_as

    with shown(progress):
        outcome = run_as(spec, out, kind="quantize", progress=progress)
    if as_json:
        print(outcome.result.model_dump_json(indent=2))
        return
    _print(outcome)


def _check_sources(
    step: QuantizeStep, checkpoint: Path | None, onnx: Path | None, data: Path | None
) -> None:
    """One model source, one that the method can use, and real data to calibrate on."""
    if (checkpoint is None) == (onnx is None):
        raise CompressError("give exactly one of --checkpoint or --onnx")
    if step.trains and onnx is not None:
        raise CompressError(
            f"--method {step.method} trains in PyTorch and needs --checkpoint, not --onnx"
        )
    if onnx is not None and (step.equalize or step.bias_correction):
        raise CompressError(
            "--equalize and --bias-correction change the PyTorch model before its export "
            "and need --checkpoint, not --onnx"
        )
    if data is None:
        raise CompressError(
            "--data is required: calibration reads real images from the data set's "
            f"{step.calib_split!r} split (random tensors would calibrate the wrong ranges)"
        )


def _print(outcome: VariantOutcome) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from compress.pipeline.report import verdict

    result = outcome.result
    warn_if_busy(result.env)
    base = result.baseline_measurement
    int8_latency = result.latency_ms.get("ort-cpu")
    fp32_latency = base.latency_ms.get("ort-cpu") if base else None
    fp32_metrics = base.metrics if base else None
    table = Table(title=escape(f"compress quantize: {outcome.run_dir}"))
    for column in ("model", "size (MB)", "ORT CPU p50 (ms)", "mIoU %"):
        table.add_column(column, justify="right" if column != "model" else "left")
    table.add_row(
        "fp32 model.onnx",
        _mb(base.size_bytes if base else None),
        _ms(fp32_latency.p50 if fp32_latency else None),
        _pct(fp32_metrics.miou if fp32_metrics else None),
    )
    table.add_row(
        "int8 model.int8.onnx",
        _mb(result.size_bytes),
        _ms(int8_latency.p50 if int8_latency else None),
        _pct(result.metrics.miou if result.metrics else None),
    )
    console = Console()
    console.print(table)
    details = [d for d in result.step_details if d.kind == "quantize"]
    fmt = details[0].int8_format if details else {}
    console.print(escape(f"reduce_range={fmt.get('reduce_range')}: {fmt.get('reason', '')}"))
    if details and details[0].preparation:
        console.print(escape("PTQ preparation: " + _preparation_text(details[0].preparation)))
    control = details[0].accuracy_control if details else None
    if control:
        floated = len(control["float_nodes"])
        console.print(
            escape(f"accuracy control (val): {control['outcome']}; {floated} node(s) float")
        )
    if outcome.reused:
        console.print(escape(f"{outcome.run_dir} already held this finished run"))
    print(verdict(result))


def _preparation_text(preparation: dict[str, Any]) -> str:
    """One line on what equalisation / bias correction did (or why they were skipped)."""
    if "note" in preparation:
        return str(preparation["note"])
    parts = [f"{preparation.get('folded_batchnorms', 0)} BatchNorms folded"]
    if "equalize" in preparation:
        parts.append(f"{preparation['equalize']['pairs']} conv pairs equalised")
    if "bias_correction" in preparation:
        corrected = preparation["bias_correction"]
        parts.append(
            f"{corrected['layers']} conv biases corrected on {corrected['images']} images "
            f"(mean |shift| {corrected['mean_abs_bias_shift']:.3g})"
        )
    return ", ".join(parts)


def _mb(value: int | None) -> str:
    return "-" if value is None else f"{value / 1e6:.2f}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}"
