"""Small pydantic specs shared by every command: what model, built how.

Specs forbid unknown fields so that a typo in a YAML recipe or a checkpoint fails
loudly instead of being ignored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from compress.core.errors import CompressError, first_line, out_of_memory

if TYPE_CHECKING:
    from torch import nn


class Spec(BaseModel):
    """Base for every spec: unknown fields are errors, values are validated on assignment,
    and no float is infinite or NaN (``--lr inf`` is refused, not trained into NaN weights).
    """

    model_config = ConfigDict(
        extra="forbid", validate_assignment=True, frozen=False, allow_inf_nan=False
    )


MAX_CLASSES = 1024  # more than any segmentation data set (ADE20K: 150, COCO-Stuff: 182)


class ModelSpec(Spec):
    """A registered model, identified by canonical name, class count and builder options."""

    name: str
    num_classes: int = Field(ge=1, le=MAX_CLASSES)
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _canonical(cls, name: str) -> str:
        from baselines.registry import canonical_name

        return canonical_name(name)

    def build(self) -> nn.Module:
        """A freshly initialised model of this spec."""
        from baselines import get_model

        try:
            return get_model(self.name, num_classes=self.num_classes, **self.options)
        except (RuntimeError, MemoryError) as error:
            if not out_of_memory(error):
                raise
            raise CompressError(
                f"model {self.name} with options {shorten(repr(self.options))} does not fit in "
                f"memory ({first_line(error)}); use smaller options"
            ) from None


def validation_message(error: ValidationError, *, source: str) -> str:
    """Turn a pydantic error into one line naming ``source`` and the offending field."""
    first = error.errors()[0]
    field = ".".join(str(part) for part in first.get("loc", ())) or "(root)"
    value = first.get("input")
    message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    message = shorten(message, MAX_MESSAGE)
    echo = shorten(repr(value))
    shown = (
        f" (got {echo})"
        if value is not None and not isinstance(value, dict) and (echo not in message)
        else ""
    )
    return f"{source}: field {field!r}: {message}{shown}"


MAX_ECHO = 120  # characters of a user's value echoed in a message
MAX_MESSAGE = 600  # characters of a validator's own message (which may quote the value)


def shorten(text: str, limit: int = MAX_ECHO) -> str:
    """``text`` cut to ``limit`` characters (``...`` and the full length after a cut), so a
    huge value (a YAML alias bomb) never makes a huge error line."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"


def parse_spec(spec_type: type[Spec], data: Any, *, source: str) -> Any:
    """Validate ``data`` as ``spec_type``; raise CompressError naming ``source`` on failure."""
    try:
        return spec_type.model_validate(data)
    except ValidationError as error:
        raise CompressError(validation_message(error, source=source)) from None


def parse_key_values(items: list[str] | None, *, option: str = "--option") -> dict[str, Any]:
    """``["base_channels=8", "aspp=false"]`` -> ``{"base_channels": 8, "aspp": False}``.

    Values are read as YAML scalars (safely), so numbers and booleans get their type.
    """
    options: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise CompressError(f"{option} {item!r} is not key=value (e.g. base_channels=8)")
        try:
            options[key] = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            raise CompressError(
                f"{option} {item!r}: value {raw!r} is not a valid YAML scalar"
            ) from None
    return options
