"""The ``prune`` step: structured pruning (ratio, or a MACs / latency budget).

A budget chooses per-group ratios from a sensitivity profile (loaded from the step's
``sensitivity`` folder, or computed on val with data; its plot lands in the step's
folder), else one uniform ratio. The step is applied in ``iterative_steps`` rounds; when
a training step follows, the engine runs it after every round (iterative pruning between
fine-tunes: :mod:`compress.pipeline.engine`). Criteria that rank channels by gradients
(taylor, hessian) read ``importance_batches`` batches of ``importance_batch_size``
training crops of ``importance_crop`` pixels.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator

from compress.core.specs import Spec
from compress.pipeline.context import Event, StepLifecycle, StepOutcome
from compress.pipeline.techniques import register_technique
from compress.pruning.spec import DEFAULT_SENSITIVITY_RATIOS, PruneSpec, check_ratios

if TYPE_CHECKING:
    from torch import nn

    from compress.pipeline.context import StepContext
    from compress.pruning.budget import BudgetChoice
    from compress.pruning.latency import LatencySetup

PRUNED_FILE = "pruned.pt"


class PruneStep(PruneSpec):
    """Structured pruning (:class:`compress.pruning.spec.PruneSpec`) as a variant step.

    A MACs or latency budget chooses per-group ratios from ``sensitivity`` (a ``compress
    sensitivity`` run folder) or, with data, from a profile computed on ``max_images`` val
    images at ``sensitivity_ratios``. Gradient criteria read training crops of
    ``importance_crop`` pixels in batches of ``importance_batch_size``.
    """

    kind: Literal["prune"] = "prune"
    sensitivity: str | None = None
    sensitivity_ratios: list[float] = Field(
        default_factory=lambda: list(DEFAULT_SENSITIVITY_RATIOS)
    )
    max_images: int = Field(default=20, ge=1)
    importance_crop: int = Field(default=256, ge=32)
    importance_batch_size: int = Field(default=8, ge=1)

    @field_validator("sensitivity_ratios")
    @classmethod
    def _ratios(cls, value: list[float]) -> list[float]:
        return check_ratios(value, field="sensitivity_ratios")

    def prune_spec(self) -> PruneSpec:
        """The plain :class:`PruneSpec` inside the step."""
        return PruneSpec.model_validate(self.model_dump(exclude=STEP_FIELDS))


STEP_FIELDS = set(PruneStep.model_fields) - set(PruneSpec.model_fields)


class PruneDetails(Spec):
    """Channels removed: the ratios used, the budget and how it was met, widths per layer."""

    kind: Literal["prune"] = "prune"
    ratio: float | None = None
    layer_ratios: dict[str, float] = Field(default_factory=dict)
    protected_layers: list[str] = Field(default_factory=list)
    channels_before: dict[str, list[int]] = Field(default_factory=dict)
    channels_after: dict[str, list[int]] = Field(default_factory=dict)
    budget: dict[str, Any] | None = None  # mode, target, achieved, met, allocation, note
    profile_source: str | None = None


def replay_prune(model: nn.Module, record: dict[str, Any]) -> nn.Module:
    """Rebuild the pruned shapes on a fresh model (:func:`compress.pruning.replay.replay_prune`)."""
    from compress.pruning.replay import replay_prune as replay

    return replay(model, record)


def latency_setup(context: StepContext, runtime: str | None = None) -> LatencySetup:
    """The variant's timing protocol for a latency budget (first bench runtime)."""
    from compress.pruning.latency import LatencySetup

    bench = context.settings.bench
    return LatencySetup(
        runtime=runtime or bench.runtimes[0],
        input_size=bench.input_size,
        runs=bench.runs,
        warmup=bench.warmup,
        threads=bench.threads,
        seed=context.settings.seed,
    )


@register_technique(
    PruneStep,
    summary="remove channels (torch-pruning DepGraph); ratio or a MACs/latency budget",
    details=PruneDetails,
    needs_data=lambda step: step.needs_data,
    rounds=lambda step: step.iterative_steps,
    label_fields=("ratio", "target_macs", "importance", "scope"),
    replay=replay_prune,
    checkpoint_file=PRUNED_FILE,
)
class PruneRun(StepLifecycle):
    """Prune ``model`` in place: the budget and session at the start, one pruning round
    per event (the session's ``step()``), the record and details at the end."""

    def on_start(self) -> None:
        import torch

        from compress.pruning.graph import channel_counts
        from compress.pruning.session import PruningSession

        model, step, context = self.model, self.step, self.context
        model.eval()
        self.example = torch.zeros(1, 3, *context.settings.bench.input_size)
        self.channels_before = channel_counts(model)
        prune_spec = step.prune_spec()
        self.importance_data = None
        if prune_spec.needs_data:
            from compress.pruning.inputs import importance_loader

            self.importance_data = importance_loader(
                context.settings.data,
                context.baseline.info,
                crop=step.importance_crop,
                batch_size=step.importance_batch_size,
                seed=context.settings.seed,
            )
        self.budget: BudgetChoice | None = None
        self.budget_extra: dict[str, Any] = {}
        self.artifacts: dict[str, Path] = {}
        if prune_spec.budget is not None:
            self.budget, self.budget_extra, self.artifacts = _resolve_budget(
                model, step, prune_spec, self.example, self.importance_data, context
            )
            prune_spec = self.budget.spec
        self.session = PruningSession(
            model,
            prune_spec,
            example_input=self.example,
            importance_data=self.importance_data,
            ignore_index=context.ignore_index,
        )

    def on_event(self, event: Event) -> None:
        self.session.step()
        self.model.cpu()

    def structure(self) -> list[dict[str, Any]]:
        return [*self.context.structure, self.session.record()]

    def on_end(self) -> StepOutcome:
        model, session = self.model, self.session
        session.run()  # every round is done by now; a no-op then
        model.cpu().eval()
        record = session.record()
        details = PruneDetails(
            ratio=session.spec.ratio,
            layer_ratios=dict(session.spec.layer_ratios),
            protected_layers=list(record["protected_layers"]),
            channels_before=self.channels_before,
            channels_after=record["channels"],
            profile_source=self.budget_extra.get("profile_source"),
            budget=(
                _budget_record(self.budget, self.budget_extra, model, self.context)
                if self.budget
                else None
            ),
        )
        return StepOutcome(model=model, record=record, details=[details], artifacts=self.artifacts)


def _budget_record(
    budget: BudgetChoice, extra: dict[str, Any], model: nn.Module, context: StepContext
) -> dict[str, Any]:
    """The budget, what the pruned model achieves (MACs ratio, or latency p50)."""
    from compress.measure.macs import count_macs_params
    from compress.pruning.latency import measure_model

    if budget.mode == "macs":
        size = context.settings.bench.input_size
        achieved = count_macs_params(model, size)[0] / extra["base_macs"]
    else:
        achieved = measure_model(model, latency_setup(context))[1].p50
    record = budget.verified(achieved)
    record.update({k: v for k, v in extra.items() if k not in ("base_macs",)})
    return record


def _resolve_budget(
    model: nn.Module,
    step: PruneStep,
    prune: PruneSpec,
    example: Any,
    importance_data: Any,
    context: StepContext,
) -> tuple[BudgetChoice, dict[str, Any], dict[str, Path]]:
    """Per-group ratios from a sensitivity profile (loaded, or computed on val with data),
    else a uniform ratio; returns the choice, what the details record, plot artifacts."""
    from compress.measure.macs import count_macs_params
    from compress.pruning.budget import resolve_budget
    from compress.pruning.latency import measure_model
    from compress.pruning.profile import check_profile_fits

    size = context.settings.bench.input_size
    extra: dict[str, Any] = {"base_macs": count_macs_params(model, size)[0]}
    profile, artifacts = _profile(model, step, prune, importance_data, context, extra)
    if profile is not None:
        check_profile_fits(
            profile,
            model=_model_name(context),
            importance=prune.importance,
            round_to=prune.round_to,
            groups=_group_names(model, prune, example, importance_data),
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


def _profile(
    model: nn.Module,
    step: PruneStep,
    prune: PruneSpec,
    importance_data: Any,
    context: StepContext,
    extra: dict[str, Any],
) -> tuple[Any, dict[str, Path]]:
    """The sensitivity profile a budget allocates from (loaded, computed on val, or none)."""
    from compress.pruning.profile import PLOT_FILE, load_profile
    from compress.pruning.sensitivity import evaluation_subset, profile_sensitivity

    info = context.baseline.info
    if step.sensitivity is not None:
        extra["profile_source"] = step.sensitivity
        return load_profile(step.sensitivity), {}
    if prune.scope == "global":
        extra["profile_source"] = "none: --scope global searches one global ratio"
        return None, {}
    if info is None:
        return None, {}
    profile = profile_sensitivity(
        copy.deepcopy(model),
        evaluation_subset(context.settings.data, "val", info, step.max_images),
        num_classes=info.num_classes,
        ignore_index=context.ignore_index,
        prune=prune,
        ratios=step.sensitivity_ratios,
        input_size=context.settings.bench.input_size,
        model_name=_model_name(context),
        device=context.settings.device,
        importance_data=importance_data,
    )
    from compress.reporting.plots.sensitivity import plot_sensitivity

    plot_sensitivity(profile, context.folder / PLOT_FILE)
    extra["profile_source"] = "computed on val"
    extra["profile"] = profile.model_dump(mode="json")
    return profile, {"sensitivity_plot": context.folder / PLOT_FILE}


def _model_name(context: StepContext) -> str:
    spec = context.baseline.model_spec
    return spec.name if spec else "model"


def _group_names(model: Any, prune: PruneSpec, example: Any, data: Any) -> list[str]:
    from compress.pruning.session import PruningSession

    probe = copy.deepcopy(model)
    spec = prune.model_copy(
        update={"ratio": 0.5, "target_macs": None, "target_latency_ms": None, "layer_ratios": {}}
    )
    return [
        g.name
        for g in PruningSession(probe, spec, example_input=example, importance_data=data).groups()
    ]
