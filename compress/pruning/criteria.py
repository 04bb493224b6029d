"""The one table of channel-importance criteria behind ``importance`` / ``--importance``.

Each entry carries everything the rest needs: the factory of the torch-pruning
importance object, its data protocol (``consume``: how it reads real batches before
ranking, as Torch-Pruning's ``Importance.accumulate_grad``; None for weight-only
criteria), and its help text. The spec's allowed values, its validation message,
``needs_data`` and the CLI help all derive from this table, so a new criterion is one
entry here (docs/extending.md). Importing this module stays cheap: factories and
consumers import torch when called.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator

from compress.core.tables import name_checker, or_list

# consume(model, importance, data, *, batches, ignore_index) -> batches used: reads
# ``batches`` (image, mask) batches of ``data`` and leaves in the model (param.grad) or in
# ``importance`` what the importance object ranks by.
Consume = Callable[..., int]


@dataclass(frozen=True)
class Criterion:
    """One importance criterion: ``factory()`` returns a ``tp.importance.Importance``;
    ``consume`` (None: the weights alone) feeds it real batches before every ranking."""

    name: str
    factory: Callable[[], Any]
    help: str
    consume: Consume | None = None

    @property
    def needs_data(self) -> bool:
        """Whether the criterion reads real batches (``--data``)."""
        return self.consume is not None


def _tp() -> Any:
    import torch_pruning as tp

    return tp.importance


def gradient_batches(model: Any, importance: Any, data: Any, **options: Any) -> int:
    """taylor's protocol: the cross-entropy gradient summed over the batches, in ``.grad``."""
    from compress.pruning.gradients import accumulate_gradients

    return accumulate_gradients(model, data, importance=importance, **options)


def squared_gradient_batches(model: Any, importance: Any, data: Any, **options: Any) -> int:
    """hessian's protocol: the mean squared per-image gradient (Fisher diagonal), in ``.grad``."""
    from compress.pruning.gradients import accumulate_squared_gradients

    return accumulate_squared_gradients(model, data, importance=importance, **options)


CRITERIA: dict[str, Criterion] = {
    criterion.name: criterion
    for criterion in (
        Criterion(
            "l1",
            lambda: _tp().GroupMagnitudeImportance(p=1),
            "L1 norm of the weights of every coupled layer",
        ),
        Criterion(
            "l2",
            lambda: _tp().GroupMagnitudeImportance(p=2),
            "L2 norm of the weights of every coupled layer",
        ),
        Criterion(
            "taylor",
            lambda: _tp().GroupTaylorImportance(),
            "first-order Taylor |w * dL/dw| on real batches",
            consume=gradient_batches,
        ),
        Criterion(
            "hessian",
            lambda: _tp().GroupHessianImportance(),
            "second-order saliency w^2 * H (Optimal Brain Damage) on real batches",
            consume=squared_gradient_batches,
        ),
        Criterion(
            "bn-scale",
            lambda: _tp().BNScaleImportance(),
            "|gamma| of the coupled BatchNorms (groups without BN stay whole)",
        ),
        Criterion(
            "lamp",
            lambda: _tp().LAMPImportance(p=2),
            "layer-adaptive magnitude (LAMP), mostly for scope global",
        ),
        Criterion(
            "fpgm",
            lambda: _tp().FPGMImportance(p=2),
            "distance to the geometric median: redundant filters first",
        ),
    )
}

IMPORTANCES: tuple[str, ...] = tuple(CRITERIA)  # the built-in names (a snapshot)


check_importance = name_checker(CRITERIA, "importance")


# A spec field holding a criterion name, validated against the table.
ImportanceName = Annotated[str, AfterValidator(check_importance)]


def importance_help() -> str:
    """CLI help: ``l1, l2, taylor (needs --data), hessian (needs --data), ... or fpgm``."""
    return or_list(
        [f"{c.name} (needs --data)" if c.needs_data else c.name for c in CRITERIA.values()]
    )
