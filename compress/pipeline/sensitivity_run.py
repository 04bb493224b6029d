"""``run_sensitivity``: a model's per-group pruning sensitivity, profiled into a run folder.

``compress sensitivity`` as a library call, around the engine
:func:`compress.pruning.sensitivity.profile_sensitivity`: open the base model, claim the
folder (keyed by the resolved :class:`compress.pruning.profile.SensitivitySpec`), profile,
and write ``spec.yaml``, ``result.json`` and ``sensitivity.png``. It lives here, not in
:mod:`compress.pruning`, because the plot comes from :mod:`compress.reporting`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from compress.core.paths import require_folder
from compress.core.results import RunResult, load_result, write_result
from compress.core.runs import SPEC_FILE, prepare_run_dir, spec_digest
from compress.pruning.profile import (
    PLOT_FILE,
    SENSITIVITY_KIND,
    SensitivityProfile,
    SensitivitySpec,
)
from compress.pruning.sensitivity import Progress, evaluation_subset, profile_sensitivity
from compress.pruning.spec import PruneSpec


@dataclass
class SensitivityOutcome:
    """A sensitivity run folder and what it holds."""

    run_dir: Path
    result: RunResult
    profile: SensitivityProfile
    fresh_init: bool
    reused: bool = False


def run_sensitivity(
    spec: SensitivitySpec, out: str | Path | None = None, *, progress: Progress | None = None
) -> SensitivityOutcome:
    """Profile the spec's model into a run folder: spec.yaml, result.json, sensitivity.png."""
    from compress.deploy.base_model import BaseModelSource, open_base
    from compress.measure.environment import environment
    from compress.pruning.inputs import importance_loader
    from compress.pruning.profile import load_profile
    from compress.reporting.plots.sensitivity import plot_sensitivity

    require_folder(spec.data, "--data", "a data set folder")
    from compress.core.device import resolve_device

    resolve_device(spec.device)  # refused before the run folder is claimed
    base = open_base(BaseModelSource.of(spec))
    model, model_spec, fresh, info = base.model, base.spec, base.fresh, base.info
    update = {**base.resolved, "data": str(Path(spec.data).resolve()) if spec.data else None}
    canonical = model_spec.name
    spec = spec.model_copy(update=update)
    dump = spec.model_dump(mode="json")
    target = (
        out
        if out is not None
        else (Path("runs") / f"sensitivity-{canonical}-{spec.importance}-{spec_digest(dump)[:8]}")
    )
    folder = prepare_run_dir(target, dump, kind=SENSITIVITY_KIND)
    if folder.finished:
        return SensitivityOutcome(
            folder.path, load_result(folder.path), load_profile(folder.path), fresh, True
        )
    prune = PruneSpec(
        ratio=spec.ratios[0],
        importance=spec.importance,
        round_to=spec.round_to,
        ignored_layers=spec.ignored_layers,
    )
    importance_data = None
    if prune.needs_data:
        importance_data = importance_loader(
            spec.data, info, crop=min(spec.input_size), batch_size=8, seed=spec.seed
        )
    profile = profile_sensitivity(
        model,
        evaluation_subset(spec.data, spec.split, info, spec.max_images),
        num_classes=info.num_classes,
        ignore_index=info.ignore_index,
        prune=prune,
        ratios=spec.ratios,
        input_size=spec.input_size,
        model_name=canonical,
        split=spec.split,
        device=spec.device,
        importance_data=importance_data,
        progress=progress,
    )
    plot_sensitivity(profile, folder.path / PLOT_FILE)
    from compress.measure.macs import count_macs_params

    result = RunResult(
        name=folder.path.name,
        kind=SENSITIVITY_KIND,
        model=canonical,
        params=count_macs_params(model, spec.input_size)[1],
        macs=profile.baseline_macs,
        macs_input_size=spec.input_size,
        artifacts={"plot": PLOT_FILE, "spec": SPEC_FILE},
        env=environment(),
        extra={
            "fresh_init": fresh,
            "source_checkpoint": spec.checkpoint,
            "profile": profile.model_dump(mode="json"),
        },
    )
    write_result(folder.path, result)
    return SensitivityOutcome(folder.path, result, profile, fresh)
