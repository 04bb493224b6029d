"""``FactorizeSpec``: which layers are factorized, by which method, to which ranks.

Importing this module stays cheap (no torch, no tensorly): the CLI validates options with
it before anything heavy is loaded, so ``--rank 0`` fails in well under a second.

Ranks: ``rank`` is ``"auto"`` (chosen per layer by ``rank_rule``), a fraction in (0, 1]
of each layer's channel width, or an integer rank used for every chosen layer.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from compress.core.specs import Spec
from compress.lowrank.catalog import FactorizationMethodName

RankRule = Literal["vbmf", "energy", "macs"]
RANK_RULES: tuple[str, ...] = ("vbmf", "energy", "macs")


def parse_rank(value: Any) -> Any:
    """``"auto"`` stays; ``"0.5"`` -> 0.5 (a fraction); ``"16"`` -> 16 (a rank)."""
    if not isinstance(value, str):
        return value
    text = value.strip().lower()
    if text == "auto":
        return "auto"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise ValueError(
            f"rank {value!r} is not auto, a fraction in (0, 1] such as 0.5, or a positive "
            "integer such as 32"
        ) from None


class FactorizeSpec(Spec):
    """One factorization step.

    - ``method``: tucker (Tucker-2, k x k convs), cp (k x k convs, falls back to Tucker-2
      per layer), svd (1 x 1 convs and Linear), spatial-svd (k x k -> kh x 1, 1 x kw).
    - ``rank``: ``"auto"``, a fraction in (0, 1], or an integer >= 1.
    - ``rank_rule``: with ``rank="auto"``: vbmf (default), energy (keep ``energy`` of the
      squared singular values), macs (meet ``target_macs``).
    - ``layers``: glob patterns over ``model.named_modules()`` names (``aspp.*``).
    - ``round_to``: ranks rounded up to a multiple of this (fast kernels); None: exact.
    - ``max_macs_ratio``: a layer is replaced only if its new MACs are below this
      fraction of its original MACs.
    - ``cp_max_error`` / ``cp_time_limit`` / ``cp_iterations``: CP safeguards; a layer
      beyond them falls back to Tucker-2.
    """

    method: FactorizationMethodName
    rank: Literal["auto"] | int | float = "auto"
    rank_rule: RankRule | None = None
    energy: float = 0.9
    target_macs: float | None = None
    layers: list[str] = Field(default_factory=lambda: ["*"])
    round_to: int | None = Field(default=8, ge=1)
    max_macs_ratio: float = Field(default=0.9, gt=0)
    cp_max_error: float = Field(default=0.8, ge=0)
    cp_time_limit: float = Field(default=60.0, ge=0)
    cp_iterations: int = Field(default=300, ge=1)

    @field_validator("rank", mode="before")
    @classmethod
    def _parse_rank(cls, value: Any) -> Any:
        return parse_rank(value)

    @field_validator("rank")
    @classmethod
    def _rank_range(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError(f"rank {value!r} is not a number")
        if isinstance(value, int) and value < 1:
            raise ValueError(f"rank {value} must be >= 1 (or a fraction in (0, 1], or auto)")
        if isinstance(value, float) and not (0.0 < value <= 1.0 and math.isfinite(value)):
            raise ValueError(
                f"rank fraction {value} is outside (0, 1]; give e.g. 0.5, an integer rank, or auto"
            )
        return value

    @field_validator("energy")
    @classmethod
    def _energy_range(cls, value: float) -> float:
        if not 0.0 < value <= 1.0:
            raise ValueError(f"energy {value} is outside (0, 1]; e.g. 0.9 keeps 90% of the energy")
        return value

    @field_validator("target_macs")
    @classmethod
    def _target_range(cls, value: float | None) -> float | None:
        if value is not None and not 0.0 < value < 1.0:
            raise ValueError(
                f"target_macs {value} is outside (0, 1); give the fraction of the baseline's "
                "MACs to keep, e.g. 0.5"
            )
        return value

    @field_validator("layers")
    @classmethod
    def _some_layers(cls, value: list[str]) -> list[str]:
        patterns = [p.strip() for p in value if p.strip()]
        if not patterns:
            raise ValueError("layers is empty; give glob patterns such as '*' or 'aspp.*'")
        return patterns

    @model_validator(mode="after")
    def _consistent(self) -> FactorizeSpec:
        if self.rank != "auto" and self.rank_rule is not None:
            raise ValueError(
                f"give either a rank ({self.rank}) or a rank rule ({self.rank_rule}) with "
                "rank auto, not both"
            )
        if self.resolved_rule == "macs" and self.target_macs is None:
            raise ValueError("rank rule macs needs target_macs (--target-macs F), e.g. 0.5")
        if self.target_macs is not None and self.resolved_rule != "macs":
            raise ValueError("target_macs (--target-macs) needs rank auto and rank rule macs")
        return self

    @property
    def resolved_rule(self) -> str | None:
        """The rank rule in force: None for an explicit rank, else vbmf by default."""
        if self.rank != "auto":
            return None
        return self.rank_rule or "vbmf"
