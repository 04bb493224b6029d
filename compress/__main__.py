"""``python -m compress ...`` runs the ``compress`` command (no console script needed)."""

if __name__ == "__main__":
    from compress.cli import entry

    entry()
