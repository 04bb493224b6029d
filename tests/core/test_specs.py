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
