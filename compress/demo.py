"""The quickstart behind ``make demo``: ``recipes/quickstart.yaml`` through ``compress run``.

Everything runs on the project's own synthetic aerial scenes, so it works on a fresh
machine without downloads: two baselines trained briefly, then the UNet pruned,
factorized, quantized, pruned-and-quantized, and a control fine-tuned as long. Each
stage lands in a folder keyed by its configuration under ``--out`` and is reused on a
rerun, so an interrupted demo continues where it stopped.

Run with ``python -m compress.demo [--out DIR]`` (the same as
``compress run recipes/quickstart.yaml --out DIR``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

QUICKSTART = Path(__file__).resolve().parents[1] / "recipes" / "quickstart.yaml"


def main(argv: list[str] | None = None) -> int:
    """``python -m compress.demo``: run the quickstart recipe and print the comparison."""
    parser = argparse.ArgumentParser(prog="python -m compress.demo", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("demo-runs"), help="where runs go")
    parser.add_argument("--recipe", type=Path, default=QUICKSTART, help="recipe to run")
    args = parser.parse_args(argv)
    from compress.cli import main as cli

    return cli(["run", str(args.recipe), "--out", str(args.out)])


if __name__ == "__main__":
    sys.exit(main())
