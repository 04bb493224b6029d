"""The recipe file: a whole study in one YAML document, validated before anything runs.

    name: quickstart
    data: {synthetic: {n: 60, size: 128, seed: 0}}     # or a folder path
    train: {epochs: 8, batch_size: 8, crop: 96, lr: 2e-3, milestones: []}
    baselines:
      - {name: unet, model: unet}                       # trained with `train` (+ overrides)
      - {name: vgg, checkpoint: ../shared/models/camvid/deeplab-vgg11-aspp.pt}
    variants:
      - name: unet-p50
        baseline: unet
        steps:
          - {kind: prune, ratio: 0.5}
          - {kind: finetune, epochs: 3, lr: 1e-3}
    bench: {input_size: [128, 128], runtimes: [torch, ort], runs: 10, warmup: 2}
    eval: {split: test}
    report: {formats: [table, md, csv, json], plots: [pareto]}

Every problem is reported at once with its YAML path (``variants[2].steps[0].ratio``);
cross-references (a variant's baseline, unique names) and cross-step rules (quantize is
last, steps that read data need data) are checked here.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator

from compress.core.specs import Spec
from compress.pipeline.spec import BenchSettings, VariantSpec
from compress.pipeline.steps import Step
from compress.training.train_spec import (
    ClassWeighting,
    DecayScope,
    InputPipeline,
    LossName,
    OptimizerName,
    Schedule,
)

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class SyntheticData(Spec):
    """The project's synthetic aerial scenes, written into the recipe's output folder."""

    n: int = Field(default=60, ge=3, le=100_000)
    size: int = Field(default=128, ge=32, le=4096)
    seed: int = Field(default=0, ge=0)


class DataSource(Spec):
    """``synthetic`` scenes, generated on first use."""

    synthetic: SyntheticData


class TrainDefaults(Spec):
    """Training options shared by the recipe's baselines (each may override any)."""

    epochs: int = Field(default=65, ge=1)
    batch_size: int = Field(default=16, ge=1)
    crop: int = Field(default=256, ge=32)
    lr: float = Field(default=1e-3, gt=0, allow_inf_nan=False)
    weight_decay: float = Field(default=1e-4, ge=0, allow_inf_nan=False)
    milestones: list[int] = Field(default_factory=lambda: [20, 40, 60])
    gamma: float = Field(default=0.3, gt=0, allow_inf_nan=False)
    schedule: Schedule = "step"
    augment: bool = True
    val_every: int = Field(default=1, ge=1)
    workers: int = Field(default=0, ge=0)
    pretrained: bool = False
    class_weights: ClassWeighting = "none"
    loss: LossName = "ce"
    optimizer: OptimizerName = "adam"
    weight_decay_scope: DecayScope = "all"
    warmup_epochs: int = Field(default=0, ge=0)
    ema: float | None = Field(default=None, gt=0, lt=1)
    input_pipeline: InputPipeline = "auto"


class BaselineEntry(Spec):
    """A baseline: a registered model trained by the recipe, or an existing checkpoint."""

    name: str = Field(pattern=NAME_PATTERN)
    model: str | None = None
    model_options: dict[str, Any] = Field(default_factory=dict)
    checkpoint: str | None = None
    train: dict[str, Any] = Field(default_factory=dict)  # overrides of the recipe's train

    @model_validator(mode="after")
    def _one_source(self) -> BaselineEntry:
        if (self.model is None) == (self.checkpoint is None):
            raise ValueError("give model (trained by the recipe) or checkpoint, not both")
        if self.checkpoint is not None and (self.train or self.model_options):
            raise ValueError("a checkpoint baseline is not trained: drop train and model_options")
        if self.train:
            TrainDefaults.model_validate(self.train)  # a typo fails here, with its path
        return self


class VariantEntry(Spec):
    """A variant: its baseline's name and the steps applied to it, in order."""

    name: str = Field(pattern=NAME_PATTERN)
    baseline: str
    steps: list[Step] = Field(min_length=1)


class EvalSettings(Spec):
    """The split every model of the recipe is scored on (fine-tunes choose on val)."""

    split: str = "test"


class ReportSettings(Spec):
    """What the recipe writes at the end: comparison formats and plots."""

    formats: list[Literal["table", "md", "csv", "json", "study"]] = Field(
        default_factory=lambda: ["table", "md", "csv", "json"]
    )
    plots: list[Literal["pareto"]] = Field(default_factory=lambda: ["pareto"])


class Recipe(Spec):
    """A study: data, baselines, variants, how to measure and what to report."""

    name: str = Field(pattern=NAME_PATTERN)
    description: str | None = None
    data: str | DataSource | None = None
    device: str = "auto"
    seed: int = Field(default=0, ge=0)
    train: TrainDefaults = Field(default_factory=TrainDefaults)
    baselines: list[BaselineEntry] = Field(min_length=1)
    variants: list[VariantEntry] = Field(default_factory=list)
    bench: BenchSettings = Field(default_factory=BenchSettings)
    eval: EvalSettings = Field(default_factory=EvalSettings)
    report: ReportSettings = Field(default_factory=ReportSettings)

    @model_validator(mode="after")
    def _cross_references(self) -> Recipe:
        problems: list[str] = []
        names = [b.name for b in self.baselines] + [v.name for v in self.variants]
        for name in sorted({n for n in names if names.count(n) > 1}):
            problems.append(f"name {name!r} is used more than once; names must be unique")
        baselines = {b.name for b in self.baselines}
        for index, variant in enumerate(self.variants):
            if variant.baseline not in baselines:
                problems.append(
                    f"variants[{index}].baseline: {variant.baseline!r} is not a baseline of "
                    f"this recipe; baselines: {', '.join(sorted(baselines))}"
                )
            try:
                self.variant_spec(variant, data="<data>", checkpoint="<checkpoint>")
            except ValidationError as error:
                for item in error.errors():
                    text = str(item.get("msg", "invalid")).removeprefix("Value error, ")
                    problems.append(f"variants[{index}]: {text}")
        if any(b.model is not None for b in self.baselines) and self.data is None:
            problems.append("data: baselines trained by the recipe need data")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def variant_spec(
        self, entry: VariantEntry, *, data: str | None, checkpoint: str
    ) -> VariantSpec:
        """The :class:`VariantSpec` of ``entry`` on ``checkpoint`` (its baseline's file)."""
        return VariantSpec.model_validate(
            {
                "name": entry.name,
                "baseline": {"checkpoint": checkpoint},
                "steps": [step.model_dump() for step in entry.steps],
                "data": data if data is not None else (None if self.data is None else "<data>"),
                "eval_split": self.eval.split,
                "device": self.device,
                "seed": self.seed,
                "bench": self.bench.model_dump(),
            }
        )

    def selected(self, only: list[str] | None) -> list[VariantEntry]:
        """The variants named by ``only`` (all without it); unknown names are errors."""
        if not only:
            return list(self.variants)
        known = {v.name for v in self.variants}
        unknown = [name for name in only if name not in known]
        if unknown:
            raise ValueError(
                f"--only {','.join(unknown)}: no such variant; variants: {', '.join(sorted(known))}"
            )
        return [v for v in self.variants if v.name in only]
