"""``apply_prune``: the prune step of a variant (ratio, or a MACs / latency budget).

A budget chooses per-group ratios from a sensitivity profile (loaded from the step's
``sensitivity`` folder, or computed on val with data; its plot lands in the step's
folder), else one uniform ratio. Iterative pruning (``iterative_steps`` > 1) fine-tunes
after every iteration with the variant's next step when that step is a fine-tune.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch
from torch import nn

from compress.core.step_details import PruneDetails
from compress.pipeline.context import StepContext, StepOutcome
from compress.pipeline.steps import PruneStep
from compress.pruning.budget import BudgetChoice, resolve_budget
from compress.pruning.inputs import importance_loader
from compress.pruning.latency import LatencySetup
from compress.pruning.session import PruningSession
from compress.pruning.spec import PruneSpec

BUDGET_FIELDS = ("kind", "sensitivity", "sensitivity_ratios", "max_images")


def prune_spec_of(step: PruneStep) -> PruneSpec:
    """The plain :class:`PruneSpec` inside a prune step."""
    return PruneSpec.model_validate(step.model_dump(exclude=set(BUDGET_FIELDS)))


def latency_setup(context: StepContext, runtime: str | None = None) -> LatencySetup:
    """The variant's timing protocol for a latency budget (first bench runtime)."""
    bench = context.bench
    return LatencySetup(
        runtime=runtime or bench.runtimes[0],
        input_size=bench.input_size,
        runs=bench.runs,
        warmup=bench.warmup,
        threads=bench.threads,
        seed=context.seed,
    )


def apply_prune(model: nn.Module, step: PruneStep, context: StepContext) -> StepOutcome:
    """Prune ``model`` in place as ``step`` says; fine-tune between iterations if asked."""
    from compress.pruning.graph import channel_counts

    model.eval()
    example = torch.zeros(1, 3, *context.bench.input_size)
    channels_before = channel_counts(model)
    prune_spec = prune_spec_of(step)
    importance_data = None
    if prune_spec.needs_data:
        crop = context.then_finetune.crop if context.then_finetune else 256
        batch = context.then_finetune.batch_size if context.then_finetune else 8
        importance_data = importance_loader(
            context.data, context.info, crop=crop, batch_size=batch, seed=context.seed
        )
    budget: BudgetChoice | None = None
    budget_extra: dict[str, Any] = {}
    artifacts: dict[str, Path] = {}
    if prune_spec.budget is not None:
        budget, budget_extra, artifacts = _resolve_budget(
            model, step, prune_spec, example, importance_data, context
        )
        prune_spec = budget.spec
    session = PruningSession(
        model,
        prune_spec,
        example_input=example,
        importance_data=importance_data,
        ignore_index=context.ignore_index,
    )
    finetune_details, metrics, training, tuned = _prune_iterations(session, context)
    model.cpu().eval()
    record = session.record()
    details = PruneDetails(
        ratio=session.spec.ratio,
        layer_ratios=dict(session.spec.layer_ratios),
        protected_layers=list(record["protected_layers"]),
        channels_before=channels_before,
        channels_after=record["channels"],
        profile_source=budget_extra.get("profile_source"),
        budget=_budget_record(budget, budget_extra, model, context) if budget else None,
    )
    return StepOutcome(
        model=model,
        record=record,
        details=[details, *finetune_details],
        artifacts={**artifacts, **tuned},
        metrics=metrics,
        training=training,
        consumed_next=_iterates(session, context),
    )


def _budget_record(
    budget: BudgetChoice, extra: dict[str, Any], model: nn.Module, context: StepContext
) -> dict[str, Any]:
    """The budget, what the pruned model achieves (MACs ratio, or latency p50)."""
    from compress.measure.macs import count_macs_params
    from compress.pruning.latency import measure_model

    if budget.mode == "macs":
        achieved = count_macs_params(model, context.bench.input_size)[0] / extra["base_macs"]
    else:
        achieved = measure_model(model, latency_setup(context))[1].p50
    record = budget.verified(achieved)
    record.update({k: v for k, v in extra.items() if k not in ("base_macs",)})
    return record


def _resolve_budget(
    model: nn.Module,
    step: PruneStep,
    prune: PruneSpec,
    example: torch.Tensor,
    importance_data: Any,
    context: StepContext,
) -> tuple[BudgetChoice, dict[str, Any], dict[str, Path]]:
    """Per-group ratios from a sensitivity profile (loaded, or computed on val with data),
    else a uniform ratio; returns the choice, what the details record, plot artifacts."""
    from compress.measure.macs import count_macs_params
    from compress.pruning.latency import measure_model
    from compress.pruning.profile import PLOT_FILE, check_profile_fits, load_profile
    from compress.pruning.sensitivity import evaluation_subset, profile_sensitivity

    extra: dict[str, Any] = {"base_macs": count_macs_params(model, context.bench.input_size)[0]}
    artifacts: dict[str, Path] = {}
    profile = None
    model_name = context.model_spec.name if context.model_spec else "model"
    if step.sensitivity is not None:
        profile = load_profile(step.sensitivity)
        extra["profile_source"] = step.sensitivity
    elif prune.scope == "global":
        extra["profile_source"] = "none: --scope global searches one global ratio"
    elif context.info is not None:
        profile = profile_sensitivity(
            copy.deepcopy(model),
            evaluation_subset(context.data, "val", context.info, step.max_images),
            num_classes=context.info.num_classes,
            ignore_index=context.ignore_index,
            prune=prune,
            ratios=step.sensitivity_ratios,
            input_size=context.bench.input_size,
            model_name=model_name,
            device=context.device,
            importance_data=importance_data,
        )
        from compress.reporting.plots.sensitivity import plot_sensitivity

        plot_sensitivity(profile, context.folder / PLOT_FILE)
        artifacts["sensitivity_plot"] = context.folder / PLOT_FILE
        extra["profile_source"] = "computed on val"
        extra["profile"] = profile.model_dump(mode="json")
    if profile is not None:
        groups = _group_names(model, prune, example, importance_data)
        check_profile_fits(
            profile,
            model=model_name,
            importance=prune.importance,
            round_to=prune.round_to,
            groups=groups,
            source=extra["profile_source"],
        )
    setup = latency_setup(context) if prune.budget == "latency" else None
    base_latency = measure_model(model, setup)[1].p50 if setup is not None else None
    choice = resolve_budget(
        model,
        prune,
        example_input=example,
        profile=profile,
        latency=setup,
        baseline_latency_ms=base_latency,
        importance_data=importance_data,
        ignore_index=context.ignore_index,
    )
    return choice, extra, artifacts


def _group_names(model: Any, prune: PruneSpec, example: Any, data: Any) -> list[str]:
    probe = copy.deepcopy(model)
    spec = prune.model_copy(
        update={"ratio": 0.5, "target_macs": None, "target_latency_ms": None, "layer_ratios": {}}
    )
    return [
        g.name
        for g in PruningSession(probe, spec, example_input=example, importance_data=data).groups()
    ]


def _iterates(session: PruningSession, context: StepContext) -> bool:
    """Iterative pruning fine-tunes between its iterations with the variant's next step."""
    return context.then_finetune is not None and session.spec.iterative_steps > 1


def _prune_iterations(
    session: PruningSession, context: StepContext
) -> tuple[list[Any], Any, Any, dict[str, Path]]:
    """Prune every iteration; fine-tune after each when the next step is a fine-tune.

    Returns (fine-tune details, val metrics of the last fine-tune, its training summary,
    its artifacts).
    """
    finetune = context.then_finetune
    if not _iterates(session, context):
        session.run()
        return [], None, None, {}
    from compress.pipeline.apply.finetune import run_finetune

    total = session.spec.iterative_steps
    folders: list[str] = []
    outcome = None
    while not session.finished:
        session.step()
        folder = context.finetune_dir
        if total > 1:
            folder = folder / f"step-{session.steps_done}"
        outcome = run_finetune(
            session.model,
            finetune,
            context,
            folder,
            structure=[*context.structure, session.record()],
        )
        session.model.cpu()
        folders.append(str(folder))
    assert outcome is not None and finetune is not None
    details = outcome.details[0].model_copy(update={"runs": folders})
    return [details], outcome.metrics, outcome.training, outcome.artifacts
