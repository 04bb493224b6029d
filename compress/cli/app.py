"""The Typer application objects that every command module attaches to.

Command modules must not import torch, torchvision, onnxruntime, torch-pruning or
tensorly at module level: ``compress --help`` and argument errors stay under a second.
Each command builds a spec from its options and calls one library function.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="compress",
    help="Train segmentation baselines, then prune, quantize and factorize them - "
    "with mIoU, latency and size measured against each variant's baseline.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode="rich",
)

data_app = typer.Typer(help="Create and inspect data sets.", no_args_is_help=True)
app.add_typer(data_app, name="data")
