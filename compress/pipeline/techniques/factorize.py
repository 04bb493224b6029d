"""The ``factorize`` step: low-rank factorization (Tucker-2, CP, SVD, spatial SVD)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from compress.core.specs import Spec
from compress.lowrank.spec import FactorizeSpec
from compress.pipeline.context import StepContext, StepOutcome
from compress.pipeline.techniques import register_technique

if TYPE_CHECKING:
    from torch import nn

FACTORIZED_FILE = "factorized.pt"


class FactorizeStep(FactorizeSpec):
    """Low-rank factorization (:class:`compress.lowrank.spec.FactorizeSpec`) as a step."""

    kind: Literal["factorize"] = "factorize"


class FactorizeDetails(Spec):
    """Layers replaced by low-rank factors: the method, ranks and error of each layer."""

    kind: Literal["factorize"] = "factorize"
    method: str
    rank_fraction: float | None = None
    layers: list[dict[str, Any]] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)


def replay_factorize(model: nn.Module, record: dict[str, Any]) -> nn.Module:
    """Rebuild the factorized layers on a fresh model (:mod:`compress.lowrank.replay`)."""
    from compress.lowrank.replay import replay_factorize as replay

    return replay(model, record)


@register_technique(
    FactorizeStep,
    summary="replace convolutions by low-rank factors (Tucker-2, CP, SVD)",
    details=FactorizeDetails,
    label_fields=("method", "rank", "rank_rule", "target_macs"),
    replay=replay_factorize,
    checkpoint_file=FACTORIZED_FILE,
)
def apply_factorize(model: nn.Module, step: FactorizeStep, context: StepContext) -> StepOutcome:
    """Factorize ``model``'s chosen layers in place; ranks measured at the bench size."""
    from compress.lowrank.apply import factorize_model

    spec = FactorizeSpec.model_validate(step.model_dump(exclude={"kind"}))
    model.eval()
    outcome = factorize_model(model, spec, input_size=context.settings.bench.input_size)
    details = FactorizeDetails(
        method=spec.method,
        rank_fraction=outcome.fraction,
        layers=[row.to_dict() for row in outcome.layers],
        warnings=list(outcome.warnings),
    )
    return StepOutcome(model=model, record=outcome.step, details=[details])
