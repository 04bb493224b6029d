"""``compress factorize`` as a library call: a one-step variant (factorize, then fine-tune
if asked) through :func:`compress.pipeline.variant.run_variant`.

The run folder holds ``spec.yaml`` (the resolved :class:`FactorizeRunSpec`),
``factorized.pt`` (base model spec + structure steps + factorized weights: it reloads with
``load_checkpoint``), ``result.json`` (kind ``factorize``, schema 2: params, MACs, size
and, with data, val mIoU; the per-layer table is in ``step_details``, the unfactorized
model in ``baseline_measurement``) and, when fine-tuned, ``finetune/`` (one ``fit`` run).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from compress.commands.prune import one_step_variant, resolved_fields
from compress.core.runs import spec_digest
from compress.lowrank.spec import FactorizeRunSpec
from compress.pipeline.baseline import open_baseline
from compress.pipeline.spec import BenchSettings, VariantSpec
from compress.pipeline.steps import FactorizeStep
from compress.pipeline.variant import VariantOutcome, run_variant

FACTORIZED_FILE = "factorized.pt"
FINETUNE_DIR = "finetune"
FactorizeRun = VariantOutcome


def default_out(spec: FactorizeRunSpec) -> Path:
    """``runs/factorize-<model>-<method>-<digest>``: one folder per resolved spec."""
    name = spec.model.replace("/", "-")
    digest = spec_digest(spec.model_dump(mode="json"))[:8]
    return Path("runs") / f"factorize-{name}-{spec.factorize.method}-{digest}"


def variant_of(spec: FactorizeRunSpec) -> VariantSpec:
    """The one-step variant ``compress factorize`` runs (plus its fine-tune)."""
    step = FactorizeStep.model_validate(spec.factorize.model_dump())
    return one_step_variant(spec, step, BenchSettings(enabled=False, input_size=spec.input_size))


def run_factorize(
    spec: FactorizeRunSpec, out: str | Path | None = None, *, progress: bool = True
) -> FactorizeRun:
    """Factorize the spec's model (trained checkpoint or fresh init) into a run folder."""
    base, variant = open_baseline(variant_of(spec))
    spec = spec.model_copy(update=resolved_fields(variant))
    return run_variant(
        variant,
        out if out is not None else default_out(spec),
        opened=(base, variant),
        document=spec.model_dump(mode="json"),
        kind="factorize",
        checkpoint_file=FACTORIZED_FILE,
        progress=progress,
    )


def layer_rows(result: Any) -> list[dict[str, Any]]:
    """The per-layer table of a factorize result (schema 2 details, or v1 ``extra``)."""
    for detail in result.step_details:
        if detail.kind == "factorize":
            return list(detail.layers)
    return list(result.extra.get("layers", []))
