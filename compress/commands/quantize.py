"""``quantize(spec, out)``: one call from a checkpoint (or ONNX file) to a measured int8 run,
as a one-step variant through :func:`compress.pipeline.variant.run_variant`.

The run folder holds ``spec.yaml``, ``model.onnx`` (fp32, the baseline as it ships),
``model.int8.onnx`` and ``result.json`` (kind ``quantize``, schema 2): ``size_bytes`` and
``latency_ms["ort-cpu"]`` describe the int8 file, ``metrics`` its mIoU through ONNX
Runtime, and ``baseline_measurement`` the fp32 file measured the same way in the same
process (interleaved). The quantize step's details record the reduce_range decision and
its reason, the calibration set and the fp32 export's parity.
"""

from __future__ import annotations

import os
from pathlib import Path

from compress.pipeline.apply.quantize import FP32_FILE, INT8_FILE
from compress.pipeline.baseline import open_baseline
from compress.pipeline.spec import BaselineRef, BenchSettings, VariantSpec
from compress.pipeline.steps import QuantizeStep
from compress.pipeline.variant import VariantOutcome, run_variant
from compress.quantization.spec import QuantizeOptions, QuantizeSpec

__all__ = ["FP32_FILE", "INT8_FILE", "QuantizeOutcome", "default_out", "quantize"]
QuantizeOutcome = VariantOutcome
STEP_FIELDS = tuple(QuantizeOptions.model_fields)  # what a quantize step takes from the spec


def default_out(spec: QuantizeSpec) -> Path:
    """``runs/<source>-<method>-int8`` when ``--out`` is not given."""
    source = spec.checkpoint.parent.name if spec.checkpoint is not None else None
    stem = source or (spec.onnx.stem if spec.onnx is not None else "model")
    return Path("runs") / f"{stem}-{spec.method}-int8"


def variant_of(spec: QuantizeSpec) -> VariantSpec:
    """The one-step variant ``compress quantize`` runs."""
    fields = spec.model_dump(include=set(STEP_FIELDS))
    return VariantSpec(
        name=spec.name,
        baseline=BaselineRef(
            checkpoint=str(spec.checkpoint) if spec.checkpoint else None,
            onnx=str(spec.onnx) if spec.onnx else None,
        ),
        steps=[QuantizeStep.model_validate(fields)],
        data=str(spec.data) if spec.data else None,
        eval_split=spec.split,
        seed=spec.seed,
        bench=BenchSettings(
            runtimes=["ort"],
            input_size=spec.input_size,
            runs=spec.runs,
            warmup=spec.warmup,
            threads=spec.threads,
        ),
    )


def quantize(spec: QuantizeSpec, out: str | os.PathLike[str] | None = None) -> QuantizeOutcome:
    """Quantize as ``spec`` says into run folder ``out``; a finished identical run is reused.

    A first attempt that fails removes what it wrote, so a corrected spec may reuse ``out``.
    """
    from compress.quantization.calibration import calibration_dataset

    calibration_dataset(spec.data, spec.calib_split)  # no data: one line, before any folder
    target = Path(out) if out is not None else default_out(spec)
    existed = target.exists()
    opened = open_baseline(variant_of(spec))
    source = spec.checkpoint if spec.checkpoint is not None else spec.onnx
    opened[0].name = source.parent.name if source is not None and source.parent.name else None
    try:
        return run_variant(
            opened[1], target, opened=opened, document=spec.model_dump(mode="json"), kind="quantize"
        )
    except BaseException:
        if not existed:
            _discard(target)
        raise


def _discard(run_dir: Path) -> None:
    """Remove what a failed first attempt wrote (only our own files), then the empty folder."""
    from compress.core.runs import SPEC_FILE

    for name in (SPEC_FILE, FP32_FILE, INT8_FILE):
        (run_dir / name).unlink(missing_ok=True)
    if run_dir.is_dir() and not any(run_dir.iterdir()):
        run_dir.rmdir()
