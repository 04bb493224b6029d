"""``compress prune`` as a library call: load or build, prune, fine-tune, write a run folder.

The run folder holds ``spec.yaml`` (the resolved :class:`PruneRunSpec`), ``pruned.pt``
(base model spec + structure steps + pruned weights: it reloads with
``load_checkpoint``), ``result.json`` (params, MACs, size, latency and, with data, val
mIoU; ``extra`` holds the unpruned baseline's numbers - latency measured in this same
process -, the ratios, the budget and how it was met, per-layer channel counts before
and after), ``sensitivity.png`` when a budget profiled the model on the fly, and, when
fine-tuned, ``finetune/`` (one ``fit`` run per pruning step: ``finetune/step-K``).
"""

from __future__ import annotations

import copy
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from compress.base_model import resolved_base, val_metrics
from compress.checkpoint import save_checkpoint
from compress.pruning.budget import BudgetChoice, resolve_budget
from compress.pruning.inputs import importance_loader
from compress.pruning.latency import LatencySetup, latency_comparison, measure_model
from compress.pruning.prune import PruningSession
from compress.pruning.spec import PruneRunSpec, PruneSpec
from compress.results import (
    RESULT_FILE,
    LatencyStats,
    Metrics,
    RunResult,
    load_result,
    write_result,
)
from compress.runs import SPEC_FILE, prepare_run_dir, spec_digest
from compress.specs import ModelSpec

PRUNED_FILE = "pruned.pt"
FINETUNE_DIR = "finetune"


@dataclass
class PruneOutcome:
    """What a prune run produced (``reused``: the folder already held this finished run)."""

    run_dir: Path
    result: RunResult
    fresh_init: bool
    reused: bool = False


def default_out(spec: PruneRunSpec) -> Path:
    """``runs/prune-<model>-<importance>-<digest>``: one folder per resolved spec."""
    name = spec.model.replace("/", "-")
    return Path("runs") / f"prune-{name}-{spec.prune.importance}-{spec_digest(_dump(spec))[:8]}"


def _dump(spec: PruneRunSpec) -> dict[str, Any]:
    return spec.model_dump(mode="json")


def run_prune(
    spec: PruneRunSpec, out: str | Path | None = None, *, progress: bool = True
) -> PruneOutcome:
    """Prune the spec's model (trained checkpoint or fresh init) into a run folder."""
    model, model_spec, structure, dataset, fresh, info, update = resolved_base(spec)
    canonical = model_spec.name
    spec = spec.model_copy(update={
        **update,
        "sensitivity": str(Path(spec.sensitivity).resolve()) if spec.sensitivity else None,
    })  # fmt: skip
    folder = prepare_run_dir(out if out is not None else default_out(spec), _dump(spec),
                             kind="prune")  # fmt: skip
    if folder.finished:
        result = load_result(folder.path)
        return PruneOutcome(folder.path, result, bool(result.extra.get("fresh_init")), True)
    run_dir = folder.path

    from compress.macs import count_macs_params
    from compress.pruning.graph import channel_counts
    from compress.size import state_dict_bytes

    model.eval()
    example = torch.zeros(1, 3, *spec.input_size)
    base_macs, base_params = count_macs_params(model, spec.input_size)
    baseline: dict[str, Any] = {
        "params": base_params, "macs": base_macs, "size_bytes": state_dict_bytes(model)
    }
    if info is not None:
        baseline["metrics"] = val_metrics(copy.deepcopy(model), spec.data, info, spec.device)
    setup = _latency_setup(spec) if spec.measures_latency else None
    base_latency = measure_model(model, setup, macs=base_macs) if setup is not None else None
    channels_before = channel_counts(model)
    ignore_index = info.ignore_index if info else None
    importance_data = None
    if spec.prune.needs_data:
        importance_data = importance_loader(spec.data, info, crop=spec.crop,
                                            batch_size=spec.batch_size, seed=spec.seed)  # fmt: skip
    budget, extra_budget = None, {}
    prune_spec = spec.prune
    if prune_spec.budget is not None:
        budget, extra_budget = _resolve_budget(
            spec, model, example, info, importance_data, setup, base_latency, run_dir
        )
        prune_spec = budget.spec
    session = PruningSession(
        model, prune_spec, example_input=example, importance_data=importance_data,
        ignore_index=ignore_index,
    )  # fmt: skip
    finetuned = _prune_and_finetune(session, spec, model_spec, structure, run_dir, progress)
    model.cpu().eval()
    record = session.record()
    steps = [*structure, record]
    save_checkpoint(
        run_dir / PRUNED_FILE, model, model_spec, structure=steps, dataset=dataset,
        meta={"kind": "prune", "fresh_init": fresh, "source_checkpoint": spec.checkpoint},
    )  # fmt: skip
    macs, params = count_macs_params(model, spec.input_size)
    size = state_dict_bytes(model)
    latency = measure_model(model, setup, macs=macs) if setup is not None else None
    metrics = finetuned.result.metrics if finetuned is not None else None
    if metrics is None and info is not None:
        metrics = Metrics.model_validate(val_metrics(model, spec.data, info, spec.device))
    artifacts = {"checkpoint": PRUNED_FILE, "spec": SPEC_FILE, **extra_budget.pop("artifacts", {})}
    if finetuned is not None:
        artifacts["finetune"] = str(finetuned.run_dir.relative_to(run_dir) / RESULT_FILE)
    macs_ratio = macs / base_macs if base_macs else None
    extra: dict[str, Any] = {
        "fresh_init": fresh, "source_checkpoint": spec.checkpoint, "ratio": session.spec.ratio,
        "layer_ratios": dict(session.spec.layer_ratios), "baseline": baseline,
        "macs_ratio": macs_ratio, "params_ratio": params / base_params if base_params else None,
        "size_ratio": size / baseline["size_bytes"],
        "protected_layers": record["protected_layers"],
        "channels": {"before": channels_before, "after": record["channels"]},
    }  # fmt: skip
    extra.update(latency_comparison(base_latency, latency, macs_ratio))
    if budget is not None:
        achieved = macs_ratio if budget.mode == "macs" else (latency[1].p50 if latency else None)
        extra["budget"] = budget.verified(achieved) | extra_budget
    result = RunResult(
        name=run_dir.name, kind="prune", model=canonical, steps=steps,
        baseline=_baseline_name(spec.checkpoint), params=params, macs=macs,
        macs_input_size=spec.input_size, size_bytes=size, size_artifact=PRUNED_FILE,
        latency_ms=dict([latency]) if latency is not None else {}, metrics=metrics,
        training=finetuned.result.training if finetuned is not None else None,
        artifacts=artifacts,
        env={"torch": torch.__version__, "python": platform.python_version(),
             "threads": torch.get_num_threads()},
        extra=extra,
    )  # fmt: skip
    write_result(run_dir, result)
    return PruneOutcome(run_dir, result, fresh)


def _latency_setup(spec: PruneRunSpec) -> LatencySetup:
    return LatencySetup(runtime=spec.runtime, input_size=spec.input_size, runs=spec.runs,
                        warmup=spec.warmup, threads=spec.threads, seed=spec.seed)  # fmt: skip


def _resolve_budget(
    spec: PruneRunSpec,
    model: torch.nn.Module,
    example: torch.Tensor,
    info: Any,
    importance_data: Any,
    setup: LatencySetup | None,
    base_latency: tuple[str, LatencyStats] | None,
    run_dir: Path,
) -> tuple[BudgetChoice, dict[str, Any]]:
    """Per-group ratios from a sensitivity profile (loaded, or computed on val with
    ``--data``), else a uniform ratio; returns the choice and what to add to ``extra``."""
    from compress.pruning.profile import PLOT_FILE, check_profile_fits, load_profile
    from compress.pruning.sensitivity import evaluation_subset, profile_sensitivity

    extra: dict[str, Any] = {"artifacts": {}}
    profile = None
    if spec.sensitivity is not None:
        profile = load_profile(spec.sensitivity)
        extra["profile_source"] = spec.sensitivity
    elif spec.prune.scope == "global":
        extra["profile_source"] = "none: --scope global searches one global ratio"
    elif info is not None:
        profile = profile_sensitivity(
            copy.deepcopy(model), evaluation_subset(spec.data, "val", info, spec.max_images),
            num_classes=info.num_classes, ignore_index=info.ignore_index, prune=spec.prune,
            ratios=spec.sensitivity_ratios, input_size=spec.input_size,
            model_name=spec.model, device=spec.device, importance_data=importance_data,
        )  # fmt: skip
        from compress.plots.sensitivity import plot_sensitivity

        plot_sensitivity(profile, run_dir / PLOT_FILE)
        extra["artifacts"]["sensitivity_plot"] = PLOT_FILE
        extra["profile_source"] = "computed on val"
        extra["profile"] = profile.model_dump(mode="json")
    if profile is not None:
        groups = _group_names(model, spec.prune, example, importance_data)
        check_profile_fits(profile, model=spec.model, importance=spec.prune.importance,
                           round_to=spec.prune.round_to, groups=groups,
                           source=extra["profile_source"])  # fmt: skip
    choice = resolve_budget(
        model, spec.prune, example_input=example, profile=profile, latency=setup,
        baseline_latency_ms=base_latency[1].p50 if base_latency is not None else None,
        importance_data=importance_data, ignore_index=info.ignore_index if info else None,
    )  # fmt: skip
    return choice, extra


def _group_names(model: Any, prune: PruneSpec, example: Any, data: Any) -> list[str]:
    probe = copy.deepcopy(model)
    spec = prune.model_copy(update={"ratio": 0.5, "target_macs": None,
                                    "target_latency_ms": None, "layer_ratios": {}})  # fmt: skip
    return [g.name for g in PruningSession(probe, spec, example_input=example,
                                           importance_data=data).groups()]  # fmt: skip


def _prune_and_finetune(
    session: PruningSession,
    spec: PruneRunSpec,
    model_spec: ModelSpec,
    structure: list[dict[str, Any]],
    run_dir: Path,
    progress: bool,
) -> Any:
    """Prune all steps; fine-tune after each (iterative) or once at the end.

    Returns the last fine-tuning's ``TrainResult`` (None without fine-tuning).
    """
    if spec.finetune_epochs == 0:
        session.run()
        return None
    from compress.train import LAST_FILE, fit
    from compress.train_spec import finetune_train_spec

    train_spec = finetune_train_spec(spec, model_spec)
    outcome = None
    total = spec.prune.iterative_steps
    while not session.finished:
        session.step()
        folder = run_dir / FINETUNE_DIR
        if total > 1:
            folder = folder / f"step-{session.steps_done}"
        outcome = fit(
            session.model, train_spec, folder, structure=[*structure, session.record()],
            resume=(folder / LAST_FILE).is_file(), progress=progress,
        )  # fmt: skip
        session.model.cpu()
    return outcome


def _baseline_name(checkpoint: str | None) -> str | None:
    """The run folder name of the checkpoint's training run, when it lies in one."""
    if checkpoint is None:
        return None
    folder = Path(checkpoint).parent
    return folder.name if (folder / RESULT_FILE).is_file() else None
