"""``compress.factorize``: low-rank factorization of any ``nn.Module`` in one call."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence

from torch import nn

from compress.api.record import add_step


def factorize(
    model: nn.Module,
    *,
    method: str = "tucker",
    rank: float | int | None = None,
    target_macs: float | None = None,
    layers: Sequence[str] | None = None,
    input_size: tuple[int, int] = (256, 256),
    inplace: bool = True,
) -> nn.Module:
    """Replace convolutions by low-rank factors; return the factorized model.

    ``method``: ``tucker``, ``cp``, ``spatial-svd`` (k x k convs) or ``svd`` (1 x 1 convs,
    Linear). Give ``rank`` (a fraction of each layer's full rank, or an integer) or
    ``target_macs`` (fraction of the whole model's MACs to keep, the ranks chosen to meet
    it). ``layers``: glob patterns of module names (default: every eligible layer).
    Layers whose factors would not save MACs stay as they are; a layer cut below 10 % of
    its rank or past 0.9 relative error is reported as a ``UserWarning`` (with the layers
    that carry a MACs budget). ``inplace=False`` works on a deep copy. The returned
    model records the step for :func:`compress.save`.
    """
    from compress.lowrank import FactorizeSpec, factorize_model

    target = model if inplace else copy.deepcopy(model)
    fields: dict[str, object] = {"method": method}
    if target_macs is not None:
        fields.update(rank_rule="macs", target_macs=target_macs)
    if rank is not None:
        fields["rank"] = rank
    if layers is not None:
        fields["layers"] = list(layers)
    outcome = factorize_model(target, FactorizeSpec(**fields), input_size=tuple(input_size))
    for message in outcome.warnings:  # layers cut to a sliver of their rank, a missed budget
        warnings.warn(message, UserWarning, stacklevel=2)
    add_step(target, outcome.step)
    return target
