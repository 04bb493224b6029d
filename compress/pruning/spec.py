"""``PruneSpec``: what structured pruning removes, ranked how, in how many steps.

Importing this module stays cheap (no torch): the CLI validates options with it before
anything heavy is loaded, so a bad ``--ratio`` fails in well under a second.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from compress.core.specs import Spec
from compress.pruning.criteria import CRITERIA, ImportanceName

Scope = Literal["global", "uniform"]
SCOPES: tuple[str, ...] = ("global", "uniform")
DEFAULT_SENSITIVITY_RATIOS: tuple[float, ...] = (0.1, 0.3, 0.5, 0.7)
STEP_KIND = "prune"  # the structure step this package writes and replays
STEP_FORMAT = 1


def check_ratios(values: list[float], *, field: str) -> list[float]:
    """Sorted, distinct ratios, each in (0, 1); ValueError naming ``field`` otherwise."""
    if not values:
        raise ValueError(f"{field} is empty; give ratios in (0, 1) such as 0.1,0.3,0.5,0.7")
    for value in values:
        if not 0.0 < value < 1.0:
            raise ValueError(f"{field}: ratio {value} is outside (0, 1); e.g. 0.1,0.3,0.5,0.7")
    return sorted(set(values))


class PruneSpec(Spec):
    """One structured-pruning step.

    - ``ratio``: fraction of the channels of every prunable group to remove (``uniform``)
      or of all channels ranked together (``global``); exclusive of 0 and 1.
    - ``target_macs``: instead of ``ratio``, the fraction of the unpruned MACs to keep.
    - ``target_latency_ms``: instead of ``ratio``, the latency (ms, p50) to reach on the
      run's runtime at its input size. Both budgets choose per-group ratios from a
      sensitivity profile when one is available, else one uniform ratio
      (:mod:`compress.pruning.budget`).
    - ``layer_ratios``: per-group ratios ``{root layer name: ratio in [0, 1)}`` (a group
      is named by the conv that roots it, as ``compress sensitivity`` lists them); groups
      not listed use ``ratio`` (0 without it). Budget modes fill this in.
    - ``importance``: how channels are ranked (``taylor`` needs data for gradients).
    - ``iterative_steps``: reach the ratio in K equal steps (re-ranking after each).
    - ``round_to``: keep channel counts multiples of this (fast kernels); None: exact.
    - ``ignored_layers``: module names (``model.named_modules()``) never pruned, on top
      of the layers that produce the logits, which are always kept whole.
    - ``importance_batches``: batches of data used to accumulate gradients for taylor.
    """

    ratio: float | None = None
    target_macs: float | None = None
    target_latency_ms: float | None = None
    layer_ratios: dict[str, float] = Field(default_factory=dict)
    importance: ImportanceName = "l2"
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

    @field_validator("target_latency_ms")
    @classmethod
    def _latency_positive(cls, value: float | None) -> float | None:
        if value is not None and not value > 0.0:
            raise ValueError(f"target_latency_ms {value} must be > 0 (milliseconds per image)")
        return value

    @field_validator("layer_ratios")
    @classmethod
    def _layer_ratios_in_range(cls, value: dict[str, float]) -> dict[str, float]:
        for name, ratio in value.items():
            if not 0.0 <= ratio < 1.0:
                raise ValueError(f"layer_ratios[{name!r}] = {ratio} is outside [0, 1)")
        return value

    @model_validator(mode="after")
    def _one_goal(self) -> PruneSpec:
        targets = [self.target_macs, self.target_latency_ms]
        if self.layer_ratios:
            if any(t is not None for t in targets):
                raise ValueError("layer_ratios are chosen by a budget; give one or the other")
            if self.scope == "global":
                raise ValueError(
                    "layer_ratios prune each group by its own ratio: use scope uniform, not global"
                )
            return self
        if sum(v is not None for v in [self.ratio, *targets]) != 1:
            raise ValueError(
                "give exactly one of ratio (--ratio), target_macs (--target-macs) or "
                "target_latency_ms (--target-latency-ms)"
            )
        return self

    @property
    def needs_data(self) -> bool:
        """True when the importance is computed from gradients on real batches."""
        return CRITERIA[self.importance].needs_data

    @property
    def budget(self) -> str | None:
        """``"macs"`` or ``"latency"`` for a budget still to resolve, else None."""
        if self.layer_ratios or self.ratio is not None:
            return None
        return "macs" if self.target_macs is not None else "latency"
