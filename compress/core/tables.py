"""What every extension-point table shares: name checks, spec field types, help lists.

Each table (pruning criteria, calibrators, quantization and factorization methods,
runtimes) is a plain ``dict`` from name to entry; these helpers turn one into the
validator its spec fields use and the "a, b or c" its CLI help shows, so an entry added
to the dict (even at run time) is valid everywhere at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


def name_checker(table: Mapping[str, Any], what: str) -> Callable[[str], str]:
    """A validator: ``name`` if it is a key of ``table``, else ValueError listing the keys."""

    def check(name: str) -> str:
        if name not in table:
            raise ValueError(f"{what} {name!r} is unknown; valid: {', '.join(table)}")
        return name

    check.__doc__ = f"``name`` if it is a {what} of the table, else ValueError."
    return check


def or_list(names: list[str]) -> str:
    """``["a", "b", "c"]`` -> ``"a, b or c"``."""
    return ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else "".join(names)
