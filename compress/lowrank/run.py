"""``compress factorize`` as a library call: load or build, factorize, fine-tune, write a run.

The run folder holds ``spec.yaml`` (the resolved :class:`FactorizeRunSpec`),
``factorized.pt`` (base model spec + structure steps + factorized weights: it reloads with
``load_checkpoint``), ``result.json`` (kind ``factorize``: params, MACs, size and, with
data, val mIoU; ``extra.layers`` is the per-layer table, ``extra.baseline`` the
unfactorized model's numbers) and, when fine-tuned, ``finetune/`` (one ``fit`` run).
"""

from __future__ import annotations

import copy
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from compress.base_model import resolved_base, val_metrics
from compress.checkpoint import save_checkpoint
from compress.lowrank.apply import FactorizeOutcome, factorize_model
from compress.lowrank.spec import FactorizeRunSpec
from compress.results import RESULT_FILE, Metrics, RunResult, load_result, write_result
from compress.runs import SPEC_FILE, prepare_run_dir, spec_digest
from compress.specs import ModelSpec

FACTORIZED_FILE = "factorized.pt"
FINETUNE_DIR = "finetune"


@dataclass
class FactorizeRun:
    """What a factorize run produced (``reused``: the folder already held this finished run)."""

    run_dir: Path
    result: RunResult
    fresh_init: bool
    reused: bool = False
    outcome: FactorizeOutcome | None = None  # None when reused

    @property
    def layers(self) -> list[dict[str, Any]]:
        return list(self.result.extra.get("layers", []))


def default_out(spec: FactorizeRunSpec) -> Path:
    """``runs/factorize-<model>-<method>-<digest>``: one folder per resolved spec."""
    name = spec.model.replace("/", "-")
    digest = spec_digest(spec.model_dump(mode="json"))[:8]
    return Path("runs") / f"factorize-{name}-{spec.factorize.method}-{digest}"


def run_factorize(
    spec: FactorizeRunSpec, out: str | Path | None = None, *, progress: bool = True
) -> FactorizeRun:
    """Factorize the spec's model (trained checkpoint or fresh init) into a run folder."""
    from compress.macs import count_macs_params
    from compress.size import state_dict_bytes

    model, model_spec, structure, dataset, fresh, info, update = resolved_base(spec)
    canonical = model_spec.name
    spec = spec.model_copy(update=update)
    dump = spec.model_dump(mode="json")
    folder = prepare_run_dir(out if out is not None else default_out(spec), dump, kind="factorize")
    if folder.finished:
        result = load_result(folder.path)
        return FactorizeRun(folder.path, result, bool(result.extra.get("fresh_init")), True)
    run_dir = folder.path

    model.eval()
    base_macs, base_params = count_macs_params(model, spec.input_size)
    baseline: dict[str, Any] = {
        "params": base_params, "macs": base_macs, "size_bytes": state_dict_bytes(model),
    }  # fmt: skip
    if info is not None:
        baseline["metrics"] = val_metrics(copy.deepcopy(model), spec.data, info, spec.device)
    outcome = factorize_model(model, spec.factorize, input_size=spec.input_size)
    steps = [*structure, outcome.step]
    finetuned = _finetune(model, spec, model_spec, steps, run_dir, progress)
    model.cpu().eval()
    save_checkpoint(  # after fine-tuning: the weights the result's metrics describe
        run_dir / FACTORIZED_FILE, model, model_spec, structure=steps, dataset=dataset,
        meta={"kind": "factorize", "fresh_init": fresh, "source_checkpoint": spec.checkpoint,
              "finetune_epochs": spec.finetune_epochs},
    )  # fmt: skip
    macs, params = count_macs_params(model, spec.input_size)
    size = state_dict_bytes(model)
    metrics = finetuned.result.metrics if finetuned is not None else None
    if metrics is None and info is not None:
        metrics = Metrics.model_validate(val_metrics(model, spec.data, info, spec.device))
    artifacts = {"checkpoint": FACTORIZED_FILE, "spec": SPEC_FILE}
    if finetuned is not None:
        artifacts["finetune"] = str(finetuned.run_dir.relative_to(run_dir) / RESULT_FILE)
    result = RunResult(
        name=run_dir.name, kind="factorize", model=canonical, steps=steps,
        baseline=_baseline_name(spec.checkpoint), params=params, macs=macs,
        macs_input_size=spec.input_size, size_bytes=size, size_artifact=FACTORIZED_FILE,
        metrics=metrics, training=finetuned.result.training if finetuned is not None else None,
        artifacts=artifacts,
        env={"torch": torch.__version__, "python": platform.python_version(),
             "threads": torch.get_num_threads()},
        extra={
            "fresh_init": fresh, "source_checkpoint": spec.checkpoint,
            "method": spec.factorize.method, "rank_fraction": outcome.fraction,
            "baseline": baseline, "macs_ratio": macs / base_macs if base_macs else None,
            "params_ratio": params / base_params if base_params else None,
            "size_ratio": size / baseline["size_bytes"],
            "layers": [row.to_dict() for row in outcome.layers],
            "warnings": list(outcome.warnings),
        },
    )  # fmt: skip
    write_result(run_dir, result)
    return FactorizeRun(run_dir, result, fresh, outcome=outcome)


def _finetune(
    model: nn.Module,
    spec: FactorizeRunSpec,
    model_spec: ModelSpec,
    steps: list[dict[str, Any]],
    run_dir: Path,
    progress: bool,
) -> Any:
    """Fine-tune with the project's training loop into ``finetune/`` (None: no epochs)."""
    if spec.finetune_epochs == 0:
        return None
    from compress.train import LAST_FILE, fit
    from compress.train_spec import finetune_train_spec

    train_spec = finetune_train_spec(spec, model_spec)
    folder = run_dir / FINETUNE_DIR
    outcome = fit(
        model, train_spec, folder, structure=steps, resume=(folder / LAST_FILE).is_file(),
        progress=progress,
    )  # fmt: skip
    model.cpu().eval()
    return outcome


def _baseline_name(checkpoint: str | None) -> str | None:
    """The run folder name of the checkpoint's training run, when it lies in one."""
    if checkpoint is None:
        return None
    folder = Path(checkpoint).parent
    return folder.name if (folder / RESULT_FILE).is_file() else None
