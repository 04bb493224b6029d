"""``PruneSpec``: what structured pruning removes, ranked how, in how many steps.

Importing this module stays cheap (no torch): the CLI validates options with it before
anything heavy is loaded, so a bad ``--ratio`` fails in well under a second.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from compress.specs import Spec

Importance = Literal["l1", "l2", "taylor", "bn-scale", "lamp", "fpgm"]
Scope = Literal["global", "uniform"]
IMPORTANCES: tuple[str, ...] = ("l1", "l2", "taylor", "bn-scale", "lamp", "fpgm")
SCOPES: tuple[str, ...] = ("global", "uniform")
NEEDS_DATA: frozenset[str] = frozenset({"taylor"})  # importances computed from gradients
DEFAULT_NUM_CLASSES = 8  # a fresh model without --data or --num-classes
STEP_KIND = "prune"  # the structure step this package writes and replays
STEP_FORMAT = 1


class PruneSpec(Spec):
    """One structured-pruning step.

    - ``ratio``: fraction of the channels of every prunable group to remove (``uniform``)
      or of all channels ranked together (``global``); exclusive of 0 and 1.
    - ``target_macs``: instead of ``ratio``, the fraction of the unpruned MACs to keep;
      the uniform ratio that meets it is searched (:mod:`compress.pruning.budget`).
    - ``importance``: how channels are ranked (``taylor`` needs data for gradients).
    - ``iterative_steps``: reach the ratio in K equal steps (re-ranking after each).
    - ``round_to``: keep channel counts multiples of this (fast kernels); None: exact.
    - ``ignored_layers``: module names (``model.named_modules()``) never pruned, on top
      of the layers that produce the logits, which are always kept whole.
    - ``importance_batches``: batches of data used to accumulate gradients for taylor.
    """

    ratio: float | None = None
    target_macs: float | None = None
    importance: Importance = "l2"
    scope: Scope = "uniform"
    iterative_steps: int = Field(default=1, ge=1, le=100)
    round_to: int | None = Field(default=8, ge=1)
    ignored_layers: list[str] = Field(default_factory=list)
    importance_batches: int = Field(default=4, ge=1)

    @field_validator("ratio")
    @classmethod
    def _ratio_in_range(cls, value: float | None) -> float | None:
        if value is not None and not 0.0 < value < 1.0:
            raise ValueError(
                f"ratio {value} is outside (0, 1); give the fraction of channels to remove, "
                "e.g. 0.5"
            )
        return value

    @field_validator("target_macs")
    @classmethod
    def _target_in_range(cls, value: float | None) -> float | None:
        if value is not None and not 0.0 < value < 1.0:
            raise ValueError(
                f"target_macs {value} is outside (0, 1); give the fraction of the baseline's "
                "MACs to keep, e.g. 0.3"
            )
        return value

    @model_validator(mode="after")
    def _one_goal(self) -> PruneSpec:
        if (self.ratio is None) == (self.target_macs is None):
            raise ValueError("give exactly one of ratio (--ratio) or target_macs (--target-macs)")
        return self

    @property
    def needs_data(self) -> bool:
        """True when the importance is computed from gradients on real batches."""
        return self.importance in NEEDS_DATA


class PruneRunSpec(Spec):
    """Everything ``compress prune`` does; the resolved form keys the run folder."""

    model: str = Field(min_length=1)
    checkpoint: str | None = None
    num_classes: int | None = Field(default=None, ge=1)
    model_options: dict[str, Any] = Field(default_factory=dict)
    prune: PruneSpec
    input_size: tuple[int, int] = (256, 256)
    data: str | None = None
    finetune_epochs: int = Field(default=0, ge=0)
    lr: float = Field(default=1e-4, gt=0)
    batch_size: int = Field(default=8, ge=1)
    crop: int = Field(default=256, ge=32)
    seed: int = Field(default=0, ge=0)
    device: str = "auto"
    checkpoint_sha256: str | None = None  # filled when resolved: a retrained file is a new run

    @model_validator(mode="after")
    def _consistent(self) -> PruneRunSpec:
        if self.finetune_epochs > 0 and self.data is None:
            raise ValueError("fine-tuning (--finetune-epochs N) needs --data DIR")
        if self.prune.needs_data and self.data is None:
            raise ValueError(
                f"importance {self.prune.importance!r} ranks channels by gradients and needs "
                "--data DIR; or choose a weight-based importance such as l2"
            )
        if self.checkpoint is not None and self.model_options:
            raise ValueError("model options come from --checkpoint; drop --model-option")
        if min(self.input_size) < 16:
            raise ValueError(f"input_size must be at least 16x16, got {self.input_size}")
        return self
