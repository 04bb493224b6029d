"""Spec errors are one bounded line."""

from __future__ import annotations

import pytest


def test_an_echoed_value_is_cut() -> None:
    from pydantic import ValidationError

    from compress.core.specs import MAX_ECHO, validation_message
    from compress.training.train_spec import TrainSpec

    with pytest.raises(ValidationError) as caught:
        TrainSpec(model="unet", data="d", epochs="x" * 100_000)
    line = validation_message(caught.value, source="spec.yaml")
    assert len(line) < 3 * MAX_ECHO + 100 and "100002 characters" in line


def test_an_unset_field_is_in_the_document() -> None:
    """No field is left out of a spec's document while None: its digest covers them all."""
    from compress.core.specs import Spec

    class Later(Spec):
        epochs: int = 3
        distill: dict[str, float] | None = None

    assert Later().model_dump() == {"epochs": 3, "distill": None}
    assert Later().model_dump(mode="json") == {"epochs": 3, "distill": None}
