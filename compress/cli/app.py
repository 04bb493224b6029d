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
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish
    pretty_exceptions_show_locals=False,
    rich_markup_mode="rich",
)


def _print_version(value: bool) -> None:
    if value:
        from compress.core.version import __version__

        print(f"segcompress {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False,
        "--version",
        callback=_print_version,
        is_eager=True,
        help="Print the version and exit.",
    ),
) -> None:
    """Train segmentation baselines, then prune, quantize and factorize them - with mIoU,
    latency and size measured against each variant's baseline."""


data_app = typer.Typer(help="Create and inspect data sets.", no_args_is_help=True)
app.add_typer(data_app, name="data")
