"""``python -m compress ...`` runs the ``compress`` command (no console script needed)."""

from compress.cli import entry

entry()
