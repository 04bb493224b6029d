"""Re-running a run folder's ``spec.yaml``: every result is reproducible from its folder.

The document names the command (``kind``) and its resolved spec; the same library call
runs it again. Into the same folder this finds the finished result (or resumes an
interrupted one); with ``--out`` elsewhere it makes the run again from scratch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from compress.core.errors import CompressError
from compress.core.specs import parse_spec

RERUNNABLE = ("train", "prune", "factorize", "quantize", "variant")


def rerun_spec_file(
    path: Path,
    document: dict[str, Any],
    *,
    out: Path | None = None,
    dry_run: bool = False,
    progress: bool = True,
) -> Path:
    """Run the spec stored in ``path`` (a ``spec.yaml``) into ``out`` (default: its folder)."""
    kind, spec = document.get("kind"), document.get("spec")
    if kind not in RERUNNABLE or not isinstance(spec, dict):
        raise CompressError(
            f"{path}: kind {kind!r} cannot be rerun; run folders of {', '.join(RERUNNABLE)} can"
        )
    target = out if out is not None else path.parent
    source = f"{path} spec"
    if dry_run:
        from compress.core.results import RESULT_FILE

        state = "finished" if (target / RESULT_FILE).is_file() else "will run"
        print(f"{kind} run {target}: {state}")
        return target
    if kind == "train":
        from compress.training.train import LAST_FILE, train
        from compress.training.train_spec import TrainSpec

        train_spec = parse_spec(TrainSpec, spec, source=source)
        train(train_spec, target, resume=(target / LAST_FILE).is_file(), progress=progress)
    elif kind == "prune":
        from compress.commands.prune import run_prune
        from compress.pruning.spec import PruneRunSpec

        run_prune(parse_spec(PruneRunSpec, spec, source=source), target, progress=progress)
    elif kind == "factorize":
        from compress.commands.factorize import run_factorize
        from compress.lowrank.spec import FactorizeRunSpec

        run_factorize(parse_spec(FactorizeRunSpec, spec, source=source), target, progress=progress)
    elif kind == "quantize":
        from compress.commands.quantize import quantize
        from compress.quantization.spec import QuantizeSpec

        quantize(parse_spec(QuantizeSpec, spec, source=source), target)
    else:
        from compress.pipeline.spec import VariantSpec
        from compress.pipeline.variant import run_variant

        run_variant(parse_spec(VariantSpec, spec, source=source), target, progress=progress)
    print(f"{kind} run {target}: finished")
    return target
