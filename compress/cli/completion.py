"""Shell completion of option values from the extension tables (``--importance``,
``--runtime``, ``--method``, ``--calibration``): a name registered in a table completes
like the built-in ones (``compress --install-completion`` enables it)."""

from __future__ import annotations

from collections.abc import Callable, Iterable


def names_in(table: Callable[[], Iterable[str]]) -> Callable[[str], list[str]]:
    """An ``autocompletion`` callback offering the names of ``table()`` that match."""

    def complete(incomplete: str) -> list[str]:
        return [name for name in table() if name.startswith(incomplete)]

    return complete
