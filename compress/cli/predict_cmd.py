"""``compress predict``: masks, colour masks and panels for an image or a folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from compress.cli.app import app
from compress.cli.path_options import CHECKPOINT_HELP, checkpoint_file
from compress.cli.progress_display import shown
from compress.cli.variant_options import Progress


@app.command("predict")
def predict_command(
    checkpoint: Annotated[Path, typer.Option(help=CHECKPOINT_HELP, callback=checkpoint_file)],
    input_path: Annotated[
        Path, typer.Option("--input", help="An image (.jpg/.jpeg/.png) or a folder of them.")
    ],
    out: Annotated[Path, typer.Option(help="Folder for <stem>_mask/_color/_panel.png.")],
    device: Annotated[str, typer.Option(help="cpu, cuda, cuda:N or auto.")] = "auto",
    progress: Progress = True,
) -> None:
    """Predict every image and write its class-id mask, colour mask and side-by-side panel."""
    with shown(progress):
        from rich.console import Console

        from compress.deploy.predict import predict_folder

        written = predict_folder(checkpoint, input_path, out, device=device)
        panels = sum(path.name.endswith("_panel.png") for path in written)
        Console().print(f"wrote {len(written)} files for {panels} image(s) to {out}")
