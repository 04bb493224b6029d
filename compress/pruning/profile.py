"""The sensitivity profile: per pruning group, what each ratio costs in mIoU and saves in MACs.

Plain pydantic data (no torch), so the CLI validates ``compress sensitivity`` options
before anything heavy loads, and a profile stored in a run folder's ``result.json``
(``extra.profile``) is read back - and checked - by budget-driven pruning
(``compress prune --target-macs F --sensitivity DIR``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator, model_validator

from compress.core.errors import CompressError
from compress.core.specs import Spec, validation_message
from compress.pruning.criteria import ImportanceName
from compress.pruning.spec import DEFAULT_SENSITIVITY_RATIOS, check_ratios

SENSITIVITY_KIND = "sensitivity"
PLOT_FILE = "sensitivity.png"


class SensitivitySpec(Spec):
    """Everything ``compress sensitivity`` does; the resolved form keys the run folder."""

    model: str = Field(min_length=1)
    checkpoint: str | None = None
    data: str
    ratios: list[float] = Field(default_factory=lambda: list(DEFAULT_SENSITIVITY_RATIOS))
    split: str = "val"
    max_images: int = Field(default=20, ge=1)
    importance: ImportanceName = "l2"
    round_to: int | None = Field(default=8, ge=1)
    ignored_layers: list[str] = Field(default_factory=list)
    input_size: tuple[int, int] = (256, 256)
    num_classes: int | None = Field(default=None, ge=1)
    model_options: dict[str, Any] = Field(default_factory=dict)
    device: str = "auto"
    seed: int = Field(default=0, ge=0)
    checkpoint_sha256: str | None = None  # filled when resolved

    @field_validator("ratios")
    @classmethod
    def _ratios(cls, value: list[float]) -> list[float]:
        return check_ratios(value, field="ratios")

    @field_validator("split")
    @classmethod
    def _never_test(cls, value: str) -> str:
        if value == "test":
            raise ValueError(
                "split 'test' is refused: a sensitivity profile chooses pruning ratios, and "
                "choices made on the test split bias the final score; use val (or train)"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SensitivitySpec:
        if self.checkpoint is not None and self.model_options:
            raise ValueError("model options come from --checkpoint; drop --model-option")
        if min(self.input_size) < 16:
            raise ValueError(f"input_size must be at least 16x16, got {self.input_size}")
        return self


class SensitivityPoint(Spec):
    """One group pruned alone at one ratio (no fine-tuning)."""

    ratio: float = Field(ge=0, lt=1)
    channels_pruned: int = Field(ge=0)
    macs: int = Field(ge=0)  # of the whole model with only this group pruned
    macs_saved: int  # baseline MACs minus ``macs``
    miou: float
    miou_drop: float  # baseline mIoU minus ``miou`` (negative: the model got better)


class GroupSensitivity(Spec):
    """A prunable group (named by its root layer) and its points, by increasing ratio."""

    name: str
    channels: int = Field(ge=1)
    members: list[str] = Field(default_factory=list)
    points: list[SensitivityPoint]


class SensitivityProfile(Spec):
    """Per-group sensitivity of one model on ``num_images`` images of ``split``."""

    model: str
    importance: str
    round_to: int | None
    input_size: tuple[int, int]
    split: str
    num_images: int = Field(ge=1)
    baseline_miou: float
    baseline_macs: int = Field(ge=1)
    ratios: list[float]
    groups: list[GroupSensitivity]
    seconds: float | None = None

    def group(self, name: str) -> GroupSensitivity:
        for group in self.groups:
            if group.name == name:
                return group
        raise KeyError(name)

    def rows(self) -> list[dict[str, Any]]:
        """One flat row per (group, ratio): what the table and the plot show."""
        return [
            {"group": g.name, "channels": g.channels, **p.model_dump()}
            for g in self.groups
            for p in g.points
        ]


def load_profile(path: str | os.PathLike[str]) -> SensitivityProfile:
    """The profile stored in a ``compress sensitivity`` run folder (or its result.json).

    Raises:
        CompressError: not a sensitivity run, or its profile is malformed.
    """
    from compress.core.results import RESULT_FILE, load_result

    result = load_result(path)
    where = Path(path) / RESULT_FILE if Path(path).is_dir() else Path(path)
    if result.kind != SENSITIVITY_KIND or "profile" not in result.extra:
        raise CompressError(
            f"{where} is a {result.kind!r} run, not a sensitivity profile; pass the run "
            "folder written by `compress sensitivity`"
        )
    try:
        return SensitivityProfile.model_validate(result.extra["profile"])
    except ValidationError as error:
        raise CompressError(validation_message(error, source=f"{where} extra.profile")) from None


def check_profile_fits(
    profile: SensitivityProfile,
    *,
    model: str,
    importance: str,
    round_to: int | None,
    groups: list[str],
    source: str,
) -> None:
    """CompressError unless ``profile`` was measured on this model, the same way.

    A profile of another model, importance or rounding ranks other channels: the ratios
    it would choose mean nothing here.
    """
    wanted = {"model": model, "importance": importance, "round_to": round_to}
    for field, value in wanted.items():
        if getattr(profile, field) != value:
            raise CompressError(
                f"sensitivity profile {source} was measured with {field} "
                f"{getattr(profile, field)!r}, but this pruning uses {value!r}; prune with "
                "the same settings or profile again"
            )
    unknown = [g.name for g in profile.groups if g.name not in groups]
    if unknown:
        raise CompressError(
            f"sensitivity profile {source} names group {unknown[0]!r}, which this model "
            "cannot prune (other --ignore-layer or architecture?); profile this model again"
        )
