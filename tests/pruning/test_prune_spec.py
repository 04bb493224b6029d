"""PruneSpec and the prune variant's rules: every bad value is one CompressError line."""

from __future__ import annotations

import pytest
import yaml

from compress.core.errors import CompressError
from compress.core.specs import parse_spec
from compress.pipeline.spec import VariantSpec
from compress.pruning.criteria import IMPORTANCES
from compress.pruning.spec import PruneSpec


@pytest.mark.parametrize("ratio", [0, 1, 1.5, -0.1])
def test_ratio_outside_open_unit_interval_is_refused(ratio: float) -> None:
    with pytest.raises(CompressError) as error:
        parse_spec(PruneSpec, {"ratio": ratio}, source="options")
    message = str(error.value)
    assert "ratio" in message and "(0, 1)" in message and str(ratio) in message
    assert "\n" not in message


@pytest.mark.parametrize("ratio", [0.01, 0.25, 0.5, 0.99])
def test_ratio_inside_is_accepted(ratio: float) -> None:
    assert PruneSpec(ratio=ratio).ratio == ratio


def test_unknown_importance_names_the_valid_ones() -> None:
    with pytest.raises(CompressError) as error:
        parse_spec(PruneSpec, {"ratio": 0.5, "importance": "l3"}, source="options")
    message = str(error.value)
    assert "'l3'" in message
    assert all(name in message for name in IMPORTANCES)


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"ratio": 0.5, "target_macs": 0.3},
        {"target_macs": 1.2},
        {"ratio": 0.5, "scope": "x"},
        {"ratio": 0.5, "iterative_steps": 0},
        {"ratio": 0.5, "round_to": 0},
        {"ratio": 0.5, "typo": 1},
    ],
)
def test_invalid_specs_are_refused(fields: dict) -> None:
    with pytest.raises(CompressError):
        parse_spec(PruneSpec, fields, source="options")


def test_budget_mode_and_defaults() -> None:
    spec = PruneSpec(target_macs=0.3)
    assert spec.ratio is None and spec.importance == "l2" and spec.scope == "uniform"
    assert spec.round_to == 8 and spec.iterative_steps == 1 and not spec.needs_data
    assert PruneSpec(ratio=0.5, importance="taylor").needs_data


def test_spec_round_trips_through_yaml() -> None:
    spec = PruneSpec(
        ratio=0.4,
        importance="fpgm",
        scope="global",
        iterative_steps=3,
        round_to=None,
        ignored_layers=["head.0"],
    )
    again = PruneSpec.model_validate(yaml.safe_load(yaml.safe_dump(spec.model_dump(mode="json"))))
    assert again == spec


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"steps": [{"kind": "prune", "ratio": 0.5}, {"kind": "finetune", "epochs": 2}]}, "data"),
        ({"steps": [{"kind": "prune", "ratio": 0.5, "importance": "taylor"}]}, "data"),
        ({"baseline": {"checkpoint": "a.pt", "model_options": {"base_channels": 8}}}, "options"),
        ({"bench": {"input_size": (8, 8)}}, "16x16"),
    ],
)
def test_variant_cross_field_rules(fields: dict, words: str) -> None:
    data = {"baseline": {"model": "unet"}, "steps": [{"kind": "prune", "ratio": 0.5}]} | fields
    with pytest.raises(CompressError) as error:
        parse_spec(VariantSpec, data, source="options")
    assert words in str(error.value) and "\n" not in str(error.value)


def test_a_criterion_added_to_the_table_is_valid_everywhere(monkeypatch) -> None:
    from compress.pruning import criteria
    from compress.pruning.importance import make_importance

    entry = criteria.Criterion(
        "mine", lambda: "my importance", "mine", consume=criteria.gradient_batches
    )
    monkeypatch.setitem(criteria.CRITERIA, "mine", entry)
    spec = PruneSpec(ratio=0.5, importance="mine")
    assert spec.needs_data and make_importance("mine") == "my importance"
    assert "mine (needs --data)" in criteria.importance_help()
