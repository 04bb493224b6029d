"""``compress.factorize``: low-rank factorization of any ``nn.Module`` in one call."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence

from torch import nn

from compress.api.record import add_step
from compress.pipeline.run_kinds import field_default
from compress.pipeline.spec import BenchSettings
from compress.pipeline.steps import FactorizeStep


def factorize(
    model: nn.Module,
    *,
    method: str,
    rank: float | int | str = field_default(FactorizeStep, "rank"),
    target_macs: float | None = field_default(FactorizeStep, "target_macs"),
    layers: Sequence[str] = tuple(field_default(FactorizeStep, "layers")),
    input_size: tuple[int, int] = field_default(BenchSettings, "input_size"),
    inplace: bool = True,
) -> nn.Module:
    """Replace convolutions by low-rank factors; return the factorized model.

    ``method``: ``tucker``, ``cp``, ``spatial-svd`` (k x k convs) or ``svd`` (1 x 1 convs,
    Linear), as ``compress factorize --method`` (required there too). Give ``rank`` (a
    fraction of each layer's full rank, an integer, or ``"auto"``: chosen per layer) or
    ``target_macs`` (fraction of the whole model's MACs to keep, the ranks chosen to meet
    it). ``layers``: glob patterns of module names (default: every eligible layer).
    Layers whose factors would not save MACs stay as they are; a layer cut below 10 % of
    its rank or past 0.9 relative error is reported as a ``UserWarning`` (with the layers
    that carry a MACs budget). ``inplace=False`` works on a deep copy. The returned
    model records the step for :func:`compress.save`.
    """
    from compress.lowrank import FactorizeSpec, factorize_model

    target = model if inplace else copy.deepcopy(model)
    fields: dict[str, object] = {"method": method, "rank": rank, "layers": list(layers)}
    if target_macs is not None:
        fields.update(rank_rule="macs", target_macs=target_macs)
    outcome = factorize_model(target, FactorizeSpec(**fields), input_size=tuple(input_size))
    for message in outcome.warnings:  # layers cut to a sliver of their rank, a missed budget
        warnings.warn(message, UserWarning, stacklevel=2)
    add_step(target, outcome.step)
    return target
