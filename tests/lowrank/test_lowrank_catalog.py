"""The factorization-method table: the spec, the CLI help, skip hints and the apply and
replay code all read ``FACTORIZATION_METHODS``; a registered method works end to end."""

from __future__ import annotations

import dataclasses
import sys
import types

import pytest
import torch
from torch import nn

from compress.lowrank import catalog
from compress.lowrank.spec import FactorizeSpec


def test_spec_accepts_exactly_the_table() -> None:
    for name in catalog.FACTORIZATION_METHODS:
        FactorizeSpec(method=name)
    with pytest.raises(ValueError, match="method 'nope' is unknown; valid: tucker, cp, svd"):
        FactorizeSpec(method="nope")


def test_help_groups_methods_by_the_layers_they_factorize() -> None:
    assert (
        catalog.method_help()
        == "tucker, cp, spatial-svd (k x k convs) or svd (1 x 1 convs, Linear)"
    )


def test_every_entry_loads_a_method_of_its_own_name() -> None:
    for name in catalog.FACTORIZATION_METHODS:
        assert catalog.load_method(name).name == name


def test_a_registered_method_factorizes_and_replays(monkeypatch: pytest.MonkeyPatch) -> None:
    from compress.lowrank.apply import factorize_model
    from compress.lowrank.methods import SVD, skip_reason
    from compress.lowrank.replay import replay_factorize

    # a user's method, defined in their own module: SVD of pointwise layers, under a new name
    module = types.ModuleType("my_lowrank_method")
    module.METHOD = dataclasses.replace(SVD, name="my-svd")  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "my_lowrank_method", module)
    monkeypatch.setitem(
        catalog.FACTORIZATION_METHODS,
        "my-svd",
        catalog.MethodEntry("my-svd", "my pointwise method", True, "my_lowrank_method:METHOD"),
    )

    assert "my-svd" in catalog.method_help()
    assert skip_reason(nn.Conv2d(8, 8, 3), "my-svd") == "k x k conv: use tucker, cp or spatial-svd"
    assert "svd or my-svd" in (skip_reason(nn.Linear(4, 4), "tucker") or "")
    torch.manual_seed(0)

    def fresh() -> nn.Module:
        torch.manual_seed(0)
        return nn.Sequential(nn.Conv2d(3, 32, 1), nn.ReLU(), nn.Conv2d(32, 32, 1))

    model = fresh()
    spec = FactorizeSpec(method="my-svd", rank=4, round_to=None, layers=["2"])
    outcome = factorize_model(model, spec, input_size=(8, 8))
    assert outcome.step["method"] == "my-svd"
    assert [row.ranks for row in outcome.layers if row.method] == [[4]]
    rebuilt = replay_factorize(fresh(), outcome.step)
    rebuilt.load_state_dict(model.state_dict())
    x = torch.randn(1, 3, 8, 8)
    assert torch.equal(rebuilt(x), model(x))


def test_unknown_method_in_a_saved_step_is_one_line(tmp_path) -> None:
    from compress.core.errors import CompressError
    from compress.lowrank.replay import replay_factorize

    step = {
        "kind": "factorize",
        "format": 1,
        "layers": [{"name": "0", "method": "gone", "ranks": [2], "weight_shape": [4, 4, 1, 1]}],
    }
    with pytest.raises(CompressError, match="method 'gone' is unknown; valid: tucker, cp"):
        replay_factorize(nn.Sequential(nn.Conv2d(4, 4, 1)), step)
