"""``apply_factorize``: the factorize step of a variant (Tucker-2, CP, SVD, spatial SVD)."""

from __future__ import annotations

from torch import nn

from compress.core.step_details import FactorizeDetails
from compress.lowrank.apply import factorize_model
from compress.lowrank.spec import FactorizeSpec
from compress.pipeline.context import StepContext, StepOutcome
from compress.pipeline.steps import FactorizeStep


def apply_factorize(model: nn.Module, step: FactorizeStep, context: StepContext) -> StepOutcome:
    """Factorize ``model``'s chosen layers in place; ranks measured at the bench size."""
    spec = FactorizeSpec.model_validate(step.model_dump(exclude={"kind"}))
    model.eval()
    outcome = factorize_model(model, spec, input_size=context.bench.input_size)
    details = FactorizeDetails(
        method=spec.method,
        rank_fraction=outcome.fraction,
        layers=[row.to_dict() for row in outcome.layers],
        warnings=list(outcome.warnings),
    )
    return StepOutcome(model=model, record=outcome.step, details=[details])
