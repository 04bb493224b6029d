"""``run_variant``: a baseline plus a list of steps, into one measured run folder.

One place does what every technique command needs: open the baseline (registered model,
checkpoint or ONNX file), claim the run folder, apply the steps in order (the engine,
:mod:`compress.pipeline.engine`, runs each by its registered technique), save the
checkpoint with its structure steps, and measure the final artifact beside the baseline -
latency interleaved in this process, accuracy on the same split, costs at the same input
size - into ``result.json`` (schema 2: a typed ``baseline_measurement`` and
``step_details``).

Where the steps' intermediate models live is the :class:`~compress.pipeline.engine.StepStore`'s
business: a one-off run keeps every step inside its run folder
(:class:`~compress.pipeline.engine.InlineStore`); a recipe gives every step prefix its own
folder keyed by digest, so variants sharing a prefix share its work and a rerun skips
what is finished (:mod:`compress.recipes.store`).
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compress.core.checkpoint import save_checkpoint
from compress.core.results import RunResult, load_result, write_result
from compress.core.runs import SPEC_FILE, prepare_run_dir
from compress.pipeline.baseline import OpenedBaseline, open_baseline
from compress.pipeline.engine import InlineStore, StepStore, apply_steps
from compress.pipeline.measure import RunFiles, Subject, measure_variant, score
from compress.pipeline.spec import VariantSpec


@dataclass
class VariantOutcome:
    """What a variant run produced (``reused``: the folder already held this finished run)."""

    run_dir: Path
    result: RunResult
    fresh_init: bool
    reused: bool = False


def run_variant(
    spec: VariantSpec,
    out: str | Path,
    *,
    opened: tuple[OpenedBaseline, VariantSpec] | None = None,
    document: dict[str, Any] | None = None,
    kind: str = "variant",
    checkpoint_file: str = "model.pt",
    store: StepStore | None = None,
    progress: bool = True,
) -> VariantOutcome:
    """Apply ``spec``'s steps to its baseline and measure both into run folder ``out``.

    ``document`` is what the folder is keyed by (default: the resolved variant spec);
    ``kind`` names the command in ``spec.yaml`` and ``result.json``. A folder holding
    this finished run is returned as it is; one holding another configuration is refused.
    """
    from compress.core.device import resolve_device

    base, spec = opened if opened is not None else open_baseline(spec)
    resolve_device(spec.device)  # refused before the run folder is claimed
    folder = prepare_run_dir(out, document or spec.model_dump(mode="json"), kind=kind)
    if folder.finished:
        result = load_result(folder.path)
        return VariantOutcome(folder.path, result, bool(result.extra.get("fresh_init")), True)
    run_dir = folder.path
    store = store or InlineStore(run_dir, spec)
    reference = copy.deepcopy(base.model).eval() if base.model is not None else None
    baseline_metrics = None
    if base.info is not None and spec.eval_split is not None and not spec.quantized:
        assert reference is not None
        baseline_metrics = score(
            Subject(model=copy.deepcopy(reference)),
            str(spec.data),
            spec.eval_split,
            base.info,
            device=spec.device,
        )
    applied = apply_steps(spec, base, store, progress=progress, teacher=reference)
    artifacts: dict[str, str] = {"spec": SPEC_FILE}
    if applied.onnx is None:
        assert applied.model is not None and base.model_spec is not None
        save_checkpoint(
            run_dir / checkpoint_file,
            applied.model,
            base.model_spec,
            structure=applied.structure,
            dataset=base.dataset,
            meta={
                "kind": kind,
                "fresh_init": base.fresh,
                "source_checkpoint": spec.baseline.checkpoint,
            },
        )
        artifacts["checkpoint"] = checkpoint_file
    for role, path in applied.artifacts.items():
        artifacts[role] = _relative(path, run_dir)
    files = RunFiles(run_dir, kind, artifacts, checkpoint_file)
    result = measure_variant(spec, base, reference, baseline_metrics, applied, files)
    result.step_details = [_relative_runs(d, run_dir) for d in result.step_details]
    write_result(run_dir, result)
    return VariantOutcome(run_dir, result, base.fresh)


def _relative_runs(details: Any, run_dir: Path) -> Any:
    """Details whose training ``runs`` are still absolute, with them relative to the run."""
    runs = getattr(details, "runs", None)
    if not runs or not any(Path(run).is_absolute() for run in runs):
        return details
    fixed = [_relative(Path(r), run_dir) if Path(r).is_absolute() else r for r in runs]
    return details.model_copy(update={"runs": fixed})


def _relative(path: Path, run_dir: Path) -> str:
    """``path`` relative to the run folder (``../../steps/...`` for a recipe's shared steps),
    so that the folders move together and ``result.json`` holds no machine's absolute path."""
    return os.path.relpath(Path(path).resolve(), run_dir.resolve())
