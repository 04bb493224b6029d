"""What each applied step reports, typed, and how it is labelled: one small registry of kinds.

A variant's ``result.json`` (schema version 2) lists one details record per step in
``step_details``, so reports read named fields instead of ``extra`` string keys. Each
step kind registers its details model and the fields its one-line label shows
(:func:`register_step_kind`; the technique files of :mod:`compress.pipeline.techniques`
do it beside their apply function). A record of a kind nobody registered (written by a
newer segcompress) still loads, as :class:`OtherDetails`.

This layer knows no technique: the registry is filled from above.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BeforeValidator, SerializeAsAny

from compress.core.specs import Spec

LabelFields = tuple[str, ...] | Callable[[Mapping[str, Any]], tuple[str, ...]]


class OtherDetails(Spec):
    """A step kind this version does not know (written by a newer segcompress)."""

    model_config = Spec.model_config | {"extra": "allow"}
    kind: str


@dataclass(frozen=True)
class StepKind:
    """What the lower layers know about a step kind: its details model and label fields.

    ``label_fields`` are the fields its label shows, in order, when set (a tuple, or a
    function of the step's values for kinds whose fields depend on a choice).
    """

    kind: str
    details: type[Spec]
    label_fields: LabelFields = ()

    def fields_of(self, values: Mapping[str, Any]) -> tuple[str, ...]:
        fields = self.label_fields
        return fields(values) if callable(fields) else fields


STEP_KINDS: dict[str, StepKind] = {}


def register_step_kind(kind: str, *, details: type[Spec], label_fields: LabelFields = ()) -> None:
    """Declare step kind ``kind``: its details model and the fields its label shows."""
    STEP_KINDS[kind] = StepKind(kind, details, label_fields)


def details_type(kind: Any) -> type[Spec]:
    """The details model of ``kind`` (:class:`OtherDetails` for a kind nobody registered)."""
    entry = STEP_KINDS.get(kind) if isinstance(kind, str) else None
    return entry.details if entry is not None else OtherDetails


def _as_details(value: Any) -> Any:
    if isinstance(value, Spec):
        return value
    if isinstance(value, Mapping):
        return details_type(value.get("kind")).model_validate(dict(value))
    raise ValueError(f"a step details record is a mapping with a 'kind', got {value!r:.60}")


# One step's details: validated by the model its kind registered, dumped with all its fields.
StepDetails = Annotated[SerializeAsAny[Spec], BeforeValidator(_as_details)]
