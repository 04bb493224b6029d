"""``compress eval --out``: a scored checkpoint as a run folder, like every measuring command.

The folder is keyed by what was scored (the checkpoint's SHA-256, the data set, the
split): rerunning returns the stored result, and a retrained checkpoint at the same path
is another run. ``result.json`` holds the metrics (fractions), the model's structure
steps and its size, so ``compress compare`` lists the evaluation beside the others.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from compress.core.results import RunResult
from compress.core.specs import Spec

if TYPE_CHECKING:
    from compress.measure.evaluate import CheckpointEvaluation


class EvalSpec(Spec):
    """What an evaluation scored."""

    checkpoint: str
    checkpoint_sha256: str
    data: str
    split: str
    device: str
    tta: str | None = None  # "flip": another evaluation than without (its own folder)


def evaluate_into(
    checkpoint: str | os.PathLike[str],
    data: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    split: str = "test",
    device: str = "auto",
    tta: str | None = None,
) -> tuple[RunResult, CheckpointEvaluation | None]:
    """Evaluate ``checkpoint`` on ``split`` of ``data`` into the run folder ``out``.

    Returns the stored result and the evaluation (None when ``out`` already held this
    finished evaluation, which is returned without scoring again).
    """
    from compress.core.results import load_result, write_result
    from compress.core.runs import file_sha256, prepare_run_dir
    from compress.measure.evaluate import evaluate_checkpoint
    from compress.measure.size import file_bytes

    path = Path(checkpoint).resolve()
    spec = EvalSpec(
        checkpoint=str(path),
        checkpoint_sha256=file_sha256(str(path)),
        data=str(Path(data).resolve()),
        split=split,
        device=device,
        tta=tta if tta != "none" else None,
    )
    folder = prepare_run_dir(out, spec.model_dump(mode="json"), kind="eval")
    if folder.finished:
        return load_result(folder.path), None
    evaluation = evaluate_checkpoint(path, data, split=split, device=device, tta=spec.tta)
    model = evaluation.model_spec
    result = RunResult(
        name=Path(out).name,
        kind="eval",
        model=model.name if model else "?",
        steps=list(evaluation.structure),
        size_bytes=file_bytes(path),
        size_artifact=path.name,
        metrics=evaluation.result.record(split=split, class_names=evaluation.class_names),
        env={"device": evaluation.device},
        source_sha256=spec.checkpoint_sha256,
        extra={
            "checkpoint": str(path),
            "data": spec.data,
            **({"tta": spec.tta} if spec.tta else {}),
        },
    )
    write_result(folder.path, result)
    return result, evaluation
