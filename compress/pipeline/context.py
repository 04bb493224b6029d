"""What a step receives beside the model, what it returns, and the lifecycle it runs by.

Every step gets the same :class:`StepContext`: where it writes, the structure the model
carries, the variant's settings and its baseline. It never sees the other steps: when
one step is applied in rounds around another (iterative pruning between fine-tunes),
the engine drives both (:class:`StepLifecycle`, :mod:`compress.pipeline.engine`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from torch import nn

    from compress.core.measurements import Metrics
    from compress.core.specs import ModelSpec


class Baseline(Protocol):
    """What a step reads of the variant's opened baseline
    (:class:`compress.pipeline.baseline.OpenedBaseline`)."""

    model_spec: ModelSpec | None  # the base architecture checkpoints record
    info: Any  # compress.data.DatasetInfo | None
    dataset: dict[str, Any] | None  # what checkpoints record of the data set
    own_dataset: dict[str, Any] | None  # what the baseline's checkpoint recorded itself
    onnx: Path | None  # the baseline's ONNX file when the variant starts from one


@dataclass(frozen=True)
class VariantSettings:
    """The variant's settings every step shares: data, where it is scored, device, seed,
    how it is timed (``bench``: input size and runtimes for costs and latency budgets)."""

    data: str | None
    eval_split: str | None
    device: str
    seed: int
    bench: Any  # compress.pipeline.spec.BenchSettings (that module builds on this one)
    progress: bool = True


@dataclass
class StepContext:
    """Everything around a step.

    - ``folder``: where the step writes its own artifacts (ONNX files, plots);
      ``work_dir`` the folder of a training run the step starts (a fine-tune's ``fit``).
    - ``structure``: the structure steps the model already carries (for checkpoints
      written during the step, e.g. by a fine-tune).
    - ``baseline``: what the variant starts from (model spec, data set info, its ONNX
      file); ``teacher`` its model, untouched by the steps (for distillation).
    """

    folder: Path
    work_dir: Path
    structure: list[dict[str, Any]]
    settings: VariantSettings
    baseline: Baseline
    teacher: nn.Module | None = None

    @property
    def ignore_index(self) -> int | None:
        info = self.baseline.info
        return info.ignore_index if info is not None else None


@dataclass
class StepOutcome:
    """A step's result: the new model, the structure step it recorded, typed details.

    ``onnx`` is the deployable file a final step wrote (int8 ONNX); ``metrics`` and
    ``training`` come from a training step (val metrics of the best epoch, the training
    summary); ``artifacts`` are role -> path of files the step wrote in its folder.
    """

    model: nn.Module | None
    record: dict[str, Any] | None
    details: list[Any]
    artifacts: dict[str, Path] = field(default_factory=dict)
    onnx: Path | None = None
    fp32_onnx: Path | None = None
    metrics: Metrics | None = None
    training: dict[str, Any] | None = None


@dataclass(frozen=True)
class Event:
    """What the engine tells a running step: round ``index`` (1-based) of ``rounds`` is due."""

    type: Literal["round"]
    index: int
    rounds: int


class StepLifecycle:
    """A step applied by the engine (llm-compressor's modifier lifecycle, in small).

    The engine calls ``on_start()``, then ``on_event(Event("round", k, rounds))`` for
    every round, then ``on_end()`` for the outcome. Between rounds it may run a training
    step on :attr:`model` (iterative pruning fine-tunes after every round); ``structure()``
    is what the model carries at that moment. A technique with one round just subclasses
    nothing: its apply function is wrapped in :class:`FunctionStep`.
    """

    def __init__(self, model: nn.Module | None, step: Any, context: StepContext) -> None:
        self.model = model
        self.step = step
        self.context = context

    def on_start(self) -> None:
        """Prepare (resolve budgets, build state); the model is not changed yet."""

    def on_event(self, event: Event) -> None:
        """Apply round ``event.index`` of ``event.rounds``."""

    def structure(self) -> list[dict[str, Any]]:
        """The structure the model carries now (the context's, plus this step's so far)."""
        return list(self.context.structure)

    def on_end(self) -> StepOutcome:
        """The step's outcome, after its last round."""
        raise NotImplementedError


class FunctionStep(StepLifecycle):
    """A one-round step: ``apply(model, step, context) -> StepOutcome`` run at its end."""

    apply: Callable[..., StepOutcome]

    def on_end(self) -> StepOutcome:
        return type(self).apply(self.model, self.step, self.context)


def lifecycle_of(target: Callable[..., Any] | type[StepLifecycle]) -> type[StepLifecycle]:
    """The lifecycle class of a registered apply function or lifecycle class."""
    if isinstance(target, type) and issubclass(target, StepLifecycle):
        return target
    return type(
        f"{getattr(target, '__name__', 'apply')}_step",
        (FunctionStep,),
        {"apply": staticmethod(target)},
    )
