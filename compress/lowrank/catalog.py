"""The one table of factorization methods behind ``method`` / ``--method``.

Each entry names a method, what it factorizes (1 x 1 convs and Linear layers, or k x k
convs), its help text, and where its :class:`compress.lowrank.methods.Method` lives
(``"module:attribute"``, imported on first use). The spec's allowed values and
validation, the CLI help, the "use --method ..." hints for skipped layers and the
replay of saved checkpoints all read this table, so a new method is one ``Method`` and
one :func:`register_method` call (docs/extending.md). Importing this module stays cheap
(no torch, no tensorly): the CLI validates options with it before anything heavy loads.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator

from compress.core.tables import name_checker


@dataclass(frozen=True)
class MethodEntry:
    """One factorization method; ``target`` is ``"module:attribute"`` of its ``Method``."""

    name: str
    help: str
    pointwise: bool  # factorizes 1 x 1 convs and Linear layers (else k x k convs)
    target: str


FACTORIZATION_METHODS: dict[str, MethodEntry] = {}


def register_method(entry: MethodEntry) -> None:
    """Add (or replace) a factorization method in :data:`FACTORIZATION_METHODS`."""
    FACTORIZATION_METHODS[entry.name] = entry


for _entry in (
    MethodEntry(
        "tucker",
        "Tucker-2 of a k x k conv: 1x1 -> kxk core -> 1x1",
        False,
        "compress.lowrank.methods:TUCKER",
    ),
    MethodEntry(
        "cp",
        "CP of a k x k conv: 1x1 -> kx1 -> 1xk -> 1x1 (falls back to tucker)",
        False,
        "compress.lowrank.methods:CP",
    ),
    MethodEntry(
        "svd",
        "truncated SVD of a 1 x 1 conv or Linear: two thin layers",
        True,
        "compress.lowrank.methods:SVD",
    ),
    MethodEntry(
        "spatial-svd",
        "k x k conv -> kh x 1 then 1 x kw",
        False,
        "compress.lowrank.methods:SPATIAL_SVD",
    ),
):
    register_method(_entry)


check_method = name_checker(FACTORIZATION_METHODS, "method")


# A spec field holding a factorization method's name, validated against the table.
FactorizationMethodName = Annotated[str, AfterValidator(check_method)]


def method_help() -> str:
    """CLI help: ``tucker, cp, spatial-svd (k x k convs) or svd (1 x 1 convs, Linear)``."""
    spatial = ", ".join(methods_for(pointwise=False))
    pointwise = ", ".join(methods_for(pointwise=True))
    return f"{spatial} (k x k convs) or {pointwise} (1 x 1 convs, Linear)"


def methods_for(*, pointwise: bool) -> list[str]:
    """The methods that factorize 1 x 1 / Linear layers (``pointwise``) or k x k convs."""
    return [e.name for e in FACTORIZATION_METHODS.values() if e.pointwise == pointwise]


def load_method(name: str) -> Any:
    """The :class:`compress.lowrank.methods.Method` registered as ``name`` (its module
    imported on first use; typed ``Any`` so that this table never imports torch)."""
    entry = FACTORIZATION_METHODS[check_method(name)]
    module, _, attribute = entry.target.partition(":")
    return getattr(importlib.import_module(module), attribute)
