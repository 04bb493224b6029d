"""The one table of channel-importance criteria behind ``importance`` / ``--importance``.

Each entry carries everything the rest needs: the factory of the torch-pruning
importance object, whether it needs real batches (gradients), and its help text. The
spec's allowed values, its validation message, ``needs_data`` and the CLI help all
derive from this table, so a new criterion is one entry here (docs/extending.md).
Importing this module stays cheap: factories import torch-pruning when called.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator

from compress.core.tables import name_checker, or_list


@dataclass(frozen=True)
class Criterion:
    """One importance criterion: ``factory()`` returns a ``tp.importance.Importance``."""

    name: str
    factory: Callable[[], Any]
    help: str
    needs_data: bool = False  # computed from gradients of the loss on real batches


def _tp() -> Any:
    import torch_pruning as tp

    return tp.importance


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
            needs_data=True,
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
    """CLI help: ``l1, l2, taylor (needs --data), bn-scale, lamp or fpgm``."""
    return or_list(
        [f"{c.name} (needs --data)" if c.needs_data else c.name for c in CRITERIA.values()]
    )
