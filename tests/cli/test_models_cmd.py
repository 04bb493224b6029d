"""``compress models``: the table, the JSON listing, size parsing and its errors."""

from __future__ import annotations

import json
from typing import Any

import pytest

import compress.measure.macs
from baselines import aliases_of, get_model, list_models, model_options
from compress.cli import main
from compress.cli.models_cmd import parse_size
from compress.core.errors import CompressError


def test_json_lists_every_model_with_counts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--json", "--input-size", "64", "--num-classes", "3"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["name"] for row in rows] == list_models()
    for row in rows:
        assert set(row) == {"name", "aliases", "params", "macs", "input_size", "options"}
        assert row["aliases"] == aliases_of(row["name"])
        assert row["input_size"] == [64, 64]
        assert row["macs"] > 0
        assert set(row["options"]) == set(model_options(row["name"]))
    unet = next(row for row in rows if row["name"] == "unet")
    model = get_model("unet", num_classes=3)
    assert unet["params"] == sum(p.numel() for p in model.parameters())
    assert unet["options"]["base_channels"] == 32
    vgg = next(row for row in rows if row["name"] == "deeplab-vgg11-aspp")
    assert vgg["aliases"] == ["vgg"]


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Replace the library call; record what the command asked for."""
    calls: dict[str, Any] = {}

    def fake(*, num_classes: int, input_size: tuple[int, int]) -> list[dict[str, Any]]:
        calls.update(num_classes=num_classes, input_size=input_size)
        row = {"name": "unet", "aliases": ["u"], "params": 8_600_000, "macs": 12_800_000_000}
        return [{**row, "input_size": list(input_size), "options": {}}]

    monkeypatch.setattr(compress.measure.macs, "registered_model_costs", fake)
    return calls


def test_table_shows_names_aliases_and_formatted_counts(
    recorded: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models", "--input-size", "750x1000", "--num-classes", "5"]) == 0
    assert recorded == {"num_classes": 5, "input_size": (750, 1000)}
    out = capsys.readouterr().out
    for text in ["unet", "u", "8.60 M", "12.8 G", "750x1000"]:
        assert text in out


def test_defaults_are_256_and_8_classes(recorded: dict[str, Any]) -> None:
    assert main(["models", "--json"]) == 0
    assert recorded == {"num_classes": 8, "input_size": (256, 256)}


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("256", (256, 256)),
        ("256x256", (256, 256)),
        ("750x1000", (750, 1000)),
        (" 64X32 ", (64, 32)),
    ],
)
def test_parse_size(text: str, size: tuple[int, int]) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "x", "256x", "256x256x3", "-4x4", "0x16", "1.5x2", "ab"])
def test_parse_size_rejects_malformed_sizes(text: str) -> None:
    with pytest.raises(CompressError, match="input-size"):
        parse_size(text)


def test_bad_size_is_one_line_and_exit_code_2(
    recorded: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models", "--input-size", "big"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --input-size 'big'") and err.count("\n") == 1
    assert recorded == {}  # nothing was built
