"""Re-running a run folder's ``spec.yaml``: every result is reproducible from its folder.

The document names the run's kind (a label) and holds its resolved spec: a
:class:`~compress.training.train_spec.TrainSpec` for ``train``, a
:class:`~compress.pipeline.spec.VariantSpec` for every other kind, run again with
:func:`compress.pipeline.run_kinds.run_as`. Into the same folder this finds the finished
result (or resumes an interrupted one); with ``--out`` elsewhere it makes the run again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from compress.core.errors import CompressError
from compress.core.specs import parse_spec
from compress.pipeline.run_kinds import RUN_KINDS

RERUNNABLE = ("train", *RUN_KINDS)


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
    if kind != "train" and "baseline" not in spec:
        raise CompressError(
            f"{path}: this {kind} run folder predates variant-spec run folders (see the "
            "README's Changelog); run its command again"
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
    else:
        from compress.pipeline.run_kinds import run_as
        from compress.pipeline.spec import VariantSpec

        variant = parse_spec(VariantSpec, spec, source=source)
        run_as(variant, target, kind=kind, progress=progress)
    print(f"{kind} run {target}: finished")
    return target
