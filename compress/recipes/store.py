"""Step prefixes in folders keyed by digest: variants that share a prefix share its work.

A variant's step ``i`` lives in ``steps/<i>-<kind>-<digest>/`` where the digest covers the
resolved baseline (model, checkpoint SHA-256), the data, the seed, the input size the
steps measure at, and steps ``0..i``. So ``[prune 0.5, finetune 5]`` of one variant and
``[prune 0.5, finetune 5, quantize]`` of another use the same two folders, and a rerun
skips every step whose ``step.json`` exists. ``step.json`` is written last (atomically):
a step killed before it is redone, and a fine-tune resumes from its own ``last.pt``.
A step run between the rounds of another (iterative pruning, then a fine-tune after every
round) is stored with it, under the later step (:func:`compress.pipeline.engine.stages`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from compress.core import atomic
from compress.core.runs import spec_digest
from compress.core.step_details import StepDetails
from compress.pipeline.baseline import OpenedBaseline
from compress.pipeline.engine import Applied
from compress.pipeline.spec import VariantSpec

STEP_FILE = "step.json"
MODEL_FILE = "model.pt"


def prefix_digests(spec: VariantSpec) -> list[str]:
    """One digest per step prefix of a resolved variant spec."""
    root = {
        "baseline": spec.baseline.model_dump(mode="json"),
        "data": spec.data,
        "seed": spec.seed,
        "input_size": list(spec.bench.input_size),
    }
    steps = [step.model_dump(mode="json") for step in spec.steps]
    return [spec_digest(root | {"steps": steps[: i + 1]}) for i in range(len(steps))]


class KeyedStore:
    """:class:`compress.pipeline.engine.StepStore` over ``root/steps``.

    A training step works in ``<its folder>/<kind>`` (``finetune``); a stage of two steps
    (iterative pruning between fine-tunes) is stored under its last step only, so a
    variant pruning without those fine-tunes never takes it for its own prefix."""

    def __init__(self, root: Path, spec: VariantSpec) -> None:
        self.spec = spec
        self.folders = [
            root / "steps" / f"{i:02d}-{step.kind}-{digest[:10]}"
            for i, (step, digest) in enumerate(zip(spec.steps, prefix_digests(spec), strict=True))
        ]

    def folder(self, index: int) -> Path:
        return self.folders[index]

    def work_dir(self, index: int) -> Path:
        return self.folders[index] / self.spec.steps[index].kind

    def finished(self, index: int) -> bool:
        return (self.folders[index] / STEP_FILE).is_file()

    def load(self, index: int, base: OpenedBaseline) -> Applied | None:
        folder = self.folders[index]
        if not self.finished(index):
            return None
        from pydantic import TypeAdapter

        from compress.core.measurements import Metrics

        record = json.loads((folder / STEP_FILE).read_text(encoding="utf-8"))
        details = TypeAdapter(list[StepDetails]).validate_python(record["details"])
        model = None
        if (folder / MODEL_FILE).is_file():  # a final step keeps the fp32 model it exported
            from compress.core.checkpoint import load_checkpoint

            model = load_checkpoint(folder / MODEL_FILE).model.eval()
        return Applied(
            model=model,
            structure=record["structure"],
            details=details,
            artifacts={k: folder / v for k, v in record["artifacts"].items()},
            onnx=folder / record["onnx"] if record.get("onnx") else None,
            fp32_onnx=folder / record["fp32_onnx"] if record.get("fp32_onnx") else None,
            metrics=Metrics.model_validate(record["metrics"]) if record.get("metrics") else None,
            training=record.get("training"),
            final_record=record.get("final_record"),
        )

    def save(self, index: int, applied: Applied, base: OpenedBaseline) -> None:
        folder = self.folders[index]
        folder.mkdir(parents=True, exist_ok=True)
        if applied.model is not None:
            from compress.core.checkpoint import save_checkpoint

            assert base.model_spec is not None
            save_checkpoint(
                folder / MODEL_FILE,
                applied.model,
                base.model_spec,
                structure=applied.structure,
                dataset=base.dataset,
            )
        step = self.spec.steps[index]
        record: dict[str, Any] = {
            "step": step.model_dump(mode="json"),
            "structure": applied.structure,
            "details": [d.model_dump(mode="json") for d in applied.details],
            "artifacts": {k: _rel(v, folder) for k, v in applied.artifacts.items()},
            "onnx": _rel(applied.onnx, folder) if applied.onnx else None,
            "fp32_onnx": _rel(applied.fp32_onnx, folder) if applied.fp32_onnx else None,
            "metrics": applied.metrics.model_dump(mode="json") if applied.metrics else None,
            "training": applied.training,
            "final_record": applied.final_record,
        }
        atomic.write_json(folder / STEP_FILE, record)


def _rel(path: Path, folder: Path) -> str:
    return os.path.relpath(Path(path).resolve(), folder.resolve())
