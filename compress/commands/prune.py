"""``compress prune`` as a library call: a one-step variant (prune, then fine-tune if asked)
through :func:`compress.pipeline.variant.run_variant`.

The run folder holds ``spec.yaml`` (the resolved :class:`PruneRunSpec`), ``pruned.pt``
(base model spec + structure steps + pruned weights: it reloads with
``load_checkpoint``), ``result.json`` (schema 2: params, MACs, size, latency and, with
data, val mIoU; ``baseline_measurement`` holds the unpruned model measured the same way in
this process, ``step_details`` the ratios, the budget and how it was met, per-layer
channel counts before and after), ``sensitivity.png`` when a budget profiled the model
on the fly, and, when fine-tuned, ``finetune/`` (one ``fit`` run per pruning step:
``finetune/step-K``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from compress.core.runs import spec_digest
from compress.pipeline.baseline import open_baseline
from compress.pipeline.spec import BaselineRef, BenchSettings, VariantSpec
from compress.pipeline.steps import FinetuneStep, PruneStep
from compress.pipeline.variant import VariantOutcome, run_variant
from compress.pruning.spec import PruneRunSpec

PRUNED_FILE = "pruned.pt"
FINETUNE_DIR = "finetune"
PruneOutcome = VariantOutcome


def default_out(spec: PruneRunSpec) -> Path:
    """``runs/prune-<model>-<importance>-<digest>``: one folder per resolved spec."""
    name = spec.model.replace("/", "-")
    return Path("runs") / f"prune-{name}-{spec.prune.importance}-{spec_digest(_dump(spec))[:8]}"


def _dump(spec: PruneRunSpec) -> dict[str, Any]:
    return spec.model_dump(mode="json")


def variant_of(spec: PruneRunSpec) -> VariantSpec:
    """The one-step variant ``compress prune`` runs (plus its fine-tune)."""
    step = PruneStep.model_validate(
        {
            **spec.prune.model_dump(),
            "sensitivity": spec.sensitivity,
            "sensitivity_ratios": spec.sensitivity_ratios,
            "max_images": spec.max_images,
        }
    )
    bench = BenchSettings(
        enabled=spec.measures_latency,
        runtimes=[spec.runtime],
        input_size=spec.input_size,
        runs=spec.runs,
        warmup=spec.warmup,
        threads=spec.threads,
    )
    return one_step_variant(spec, step, bench)


def one_step_variant(spec: Any, step: Any, bench: BenchSettings) -> VariantSpec:
    """A prune/factorize run spec's variant: ``step`` (+ its fine-tune), scored on val."""
    steps: list[Any] = [step]
    if spec.finetune_epochs:
        steps.append(finetune_step(spec))
    return VariantSpec(
        baseline=BaselineRef(
            model=spec.model,
            checkpoint=spec.checkpoint,
            num_classes=spec.num_classes,
            model_options=spec.model_options,
        ),
        steps=steps,
        data=spec.data,
        eval_split="val",
        device=spec.device,
        seed=spec.seed,
        bench=bench,
    )


def finetune_step(spec: Any) -> FinetuneStep:
    """The fine-tune step of a prune/factorize run spec (:class:`FinetuneFields`)."""
    return FinetuneStep(
        epochs=spec.finetune_epochs,
        lr=spec.lr,
        batch_size=spec.batch_size,
        crop=spec.crop,
        schedule=spec.schedule,
        workers=spec.workers,
        distill=spec.distill,
        class_weights=spec.class_weights,
        loss=spec.loss,
    )


def resolved_fields(variant: VariantSpec) -> dict[str, Any]:
    """The base-model fields of a run spec as the resolved variant names them."""
    ref = variant.baseline
    return {
        "model": ref.model,
        "num_classes": ref.num_classes,
        "model_options": ref.model_options,
        "checkpoint": ref.checkpoint,
        "checkpoint_sha256": ref.checkpoint_sha256,
        "data": variant.data,
    }


def run_prune(
    spec: PruneRunSpec, out: str | Path | None = None, *, progress: bool = True
) -> PruneOutcome:
    """Prune the spec's model (trained checkpoint or fresh init) into a run folder."""
    opened = open_baseline(variant_of(spec))
    spec = spec.model_copy(
        update={
            **resolved_fields(opened[1]),
            "sensitivity": str(Path(spec.sensitivity).resolve()) if spec.sensitivity else None,
        }
    )
    variant = opened[1].model_copy(update={"steps": variant_of(spec).steps})
    return run_variant(
        variant,
        out if out is not None else default_out(spec),
        opened=(opened[0], variant),
        document=_dump(spec),
        kind="prune",
        checkpoint_file=PRUNED_FILE,
        progress=progress,
    )
