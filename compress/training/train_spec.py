"""``TrainSpec``: everything that determines a training run, validated before any work.

The defaults are the study's (Adam, lr 1e-3, weight decay 1e-4, MultiStepLR gamma 0.3 at
epochs 20/40/60, 65 epochs, batch 16, 256x256 crops). The spec is what a run folder is
keyed by, so two runs with equal specs are the same run. Importing this module stays
cheap (no torch): the CLI validates options with it before loading anything heavy.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from pydantic import Field, field_validator, model_validator

from compress.core.errors import CompressError
from compress.core.specs import ModelSpec, Spec, parse_key_values

STUDY_MILESTONES = (20, 40, 60)

# the values of the training recipe's choices (recipes' train sections accept them too)
Schedule = Literal["step", "cosine", "poly"]
ClassWeighting = Literal["none", "median-frequency", "inverse-sqrt"]
LossName = Literal["ce", "ce+dice", "ce+lovasz", "ohem"]
OptimizerName = Literal["adam", "adamw", "sgd"]
DecayScope = Literal["all", "weights"]
InputPipeline = Literal["auto", "loader", "device"]


class Distill(Spec):
    """Knowledge distillation from a teacher (a variant's uncompressed baseline).

    The loss becomes ``(1 - weight) * cross-entropy + weight * T^2 * KL(teacher_T ||
    student_T)`` over every pixel (void ones too: the teacher has an opinion there), with
    both logits softened by the temperature ``T`` (Hinton et al., 2015).
    """

    weight: float = Field(default=0.5, gt=0, le=1, allow_inf_nan=False)
    temperature: float = Field(default=2.0, gt=0, le=20, allow_inf_nan=False)


class TrainSpec(Spec):
    """A model (registered name + builder options) trained on a folder data set.

    ``num_classes`` may be left out: it is then taken from the data set's info; when given
    it must agree with it. ``pretrained`` only affects initialisation and is therefore not
    part of the architecture stored in checkpoints.
    """

    model: str = Field(min_length=1)
    model_options: dict[str, Any] = Field(default_factory=dict)
    num_classes: int | None = Field(default=None, ge=1)
    pretrained: bool = False
    data: str = Field(min_length=1)
    epochs: int = Field(default=65, ge=1)
    batch_size: int = Field(default=16, ge=1)
    crop: int = Field(default=256, ge=32)
    lr: float = Field(default=1e-3, gt=0)
    weight_decay: float = Field(default=1e-4, ge=0)
    milestones: list[int] = Field(default_factory=lambda: list(STUDY_MILESTONES))
    gamma: float = Field(default=0.3, gt=0)
    # step: MultiStepLR; cosine: to 0 at the end; poly: (1 - t)^0.9 (DeepLab's)
    schedule: Schedule = "step"
    augment: bool = True
    device: str = "auto"
    seed: int = Field(default=0, ge=0)
    val_every: int = Field(default=1, ge=1)
    workers: int = Field(default=0, ge=0)
    amp: bool = True  # autocast + GradScaler, used on CUDA only
    init: str | None = None  # start from this checkpoint's weights (and structure steps)
    init_sha256: str | None = None  # filled when resolved: a retrained file is another run
    distill: Distill | None = None  # needs a teacher model given to fit()
    # for a data set without val/: validate on the last fraction of train (by file name)
    val_fraction: float | None = Field(default=None, gt=0, lt=1)
    class_weights: ClassWeighting = "none"
    loss: LossName = "ce"
    optimizer: OptimizerName = "adam"
    weight_decay_scope: DecayScope = "all"  # weights: no decay on norm and bias
    warmup_epochs: int = Field(default=0, ge=0)  # linear warm-up from lr/100
    ema: float | None = Field(default=None, gt=0, lt=1)  # decay of the evaluated EMA weights
    input_pipeline: InputPipeline = "auto"  # auto: device on CUDA
    world_size: int | None = Field(default=None, ge=1)  # torchrun processes (None: one)

    @property
    def effective_batch(self) -> int:
        """Images per optimizer step over every process."""
        return self.batch_size * (self.world_size or 1)

    @field_validator("milestones", mode="before")
    @classmethod
    def _parse_milestones(cls, value: Any) -> Any:
        if isinstance(value, str):
            return parse_milestones(value)
        return value

    @field_validator("milestones")
    @classmethod
    def _increasing(cls, value: list[int]) -> list[int]:
        if any(m < 1 for m in value) or any(b <= a for a, b in zip(value, value[1:], strict=False)):
            raise ValueError(
                f"milestones must be strictly increasing epochs >= 1 (e.g. 20,40,60), got {value}"
            )
        return value

    @model_validator(mode="after")
    def _init_alone(self) -> TrainSpec:
        if self.init is not None and self.pretrained:
            raise ValueError("--init already sets every weight; drop --pretrained")
        if self.init is not None and self.model_options:
            raise ValueError("model options come from --init's checkpoint; drop --model-option")
        return self

    @field_validator("model_options")
    @classmethod
    def _no_pretrained_option(cls, value: dict[str, Any]) -> dict[str, Any]:
        if "pretrained" in value:
            raise ValueError("set pretrained with the 'pretrained' field (--pretrained)")
        return value

    def model_spec(self) -> ModelSpec:
        """The architecture this spec trains (what checkpoints store); needs num_classes."""
        if self.num_classes is None:
            raise CompressError(
                "train spec has no num_classes yet; it is taken from the data set's info"
            )
        return ModelSpec(name=self.model, num_classes=self.num_classes, options=self.model_options)


class FinetuneOptions(Protocol):
    """The fine-tune a compression step is followed by (a variant's ``finetune`` step)."""

    epochs: int
    lr: float
    batch_size: int
    crop: int
    schedule: str
    workers: int
    class_weights: str
    loss: str


def finetune_train_spec(
    step: FinetuneOptions,
    model_spec: ModelSpec,
    *,
    data: str,
    seed: int,
    device: str,
    distill: Distill | None = None,
) -> TrainSpec:
    """The ``TrainSpec`` of a fine-tune after a compression step: ``step``'s options, the
    lr decaying over its epochs (no milestones: they belong to training from scratch),
    distilling with ``distill``. The loss and class weights the baseline was trained with
    are the user's to repeat."""
    return TrainSpec(
        model=model_spec.name,
        model_options=model_spec.options,
        num_classes=model_spec.num_classes,
        data=data,
        epochs=step.epochs,
        batch_size=step.batch_size,
        crop=step.crop,
        lr=step.lr,
        milestones=[],
        schedule=step.schedule,
        workers=step.workers,
        device=device,
        seed=seed,
        distill=distill,
        class_weights=step.class_weights,
        loss=step.loss,
    )


def parse_milestones(text: str) -> list[int]:
    """``"20,40,60"`` -> ``[20, 40, 60]``; an empty string means no milestones."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    try:
        return [int(part) for part in parts]
    except ValueError:
        raise CompressError(
            f"--milestones {text!r} is not a comma-separated list of epochs (e.g. 20,40,60)"
        ) from None


def parse_model_options(items: list[str] | None) -> dict[str, Any]:
    """``["base_channels=8", "dropout=0.1"]`` -> ``{"base_channels": 8, "dropout": 0.1}``.

    Values are read with ``yaml.safe_load`` so ints, floats, bools, lists and null work.
    """
    return parse_key_values(items, option="--model-option")
