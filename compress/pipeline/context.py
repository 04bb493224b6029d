"""What a step's ``apply`` receives beside the model, and what it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn

    from compress.core.measurements import Metrics
    from compress.core.specs import ModelSpec
    from compress.core.step_details import StepDetails
    from compress.pipeline.spec import BenchSettings
    from compress.pipeline.steps import FinetuneStep


@dataclass
class StepContext:
    """Everything around a step: data, device, the model's identity, where to write.

    - ``folder``: where the step writes its own artifacts (fine-tune runs, ONNX files,
      plots); ``finetune_dir`` the folder of the fit run a fine-tune writes.
    - ``structure``: the structure steps the model already carries (for checkpoints
      written during the step, e.g. by a fine-tune).
    - ``then_finetune``: the variant's next step when it is a fine-tune; iterative
      pruning fine-tunes between its iterations with it (and then consumes it), taylor
      importance reads batches of its crop size.
    - ``onnx``: the baseline's ONNX file when the variant starts from one.
    """

    folder: Path
    finetune_dir: Path
    data: str | None
    info: Any  # compress.data.DatasetInfo | None
    device: str
    seed: int
    bench: BenchSettings
    model_spec: ModelSpec | None
    structure: list[dict[str, Any]]
    dataset: dict[str, Any] | None
    own_dataset: dict[str, Any] | None = None  # what the baseline's checkpoint recorded
    progress: bool = True
    eval_split: str | None = "val"
    then_finetune: FinetuneStep | None = None
    onnx: Path | None = None
    teacher: nn.Module | None = None  # the uncompressed baseline, for distilling fine-tunes

    @property
    def ignore_index(self) -> int | None:
        return self.info.ignore_index if self.info is not None else None


@dataclass
class StepOutcome:
    """A step's result: the new model, the structure step it recorded, typed details.

    ``onnx`` is the deployable file a final step wrote (int8 ONNX); ``metrics`` and
    ``training`` come from a fine-tune (val metrics of the best epoch, the training
    summary); ``artifacts`` are role -> path of files the step wrote in its folder.
    """

    model: nn.Module | None
    record: dict[str, Any] | None
    details: list[StepDetails]
    artifacts: dict[str, Path] = field(default_factory=dict)
    onnx: Path | None = None
    fp32_onnx: Path | None = None
    metrics: Metrics | None = None
    training: dict[str, Any] | None = None
    consumed_next: bool = False  # the following fine-tune step ran inside this one
