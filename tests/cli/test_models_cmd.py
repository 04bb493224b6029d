"""``compress models``: the table, the JSON listing, size parsing and its errors."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

import compress.measure.macs
from baselines import aliases_of, get_model, list_models, model_options
from compress.cli import main
from compress.cli.models_cmd import parse_size
from compress.core.errors import CompressError


def test_default_listing_is_the_catalogue_without_torch() -> None:
    code = (
        "import sys, json; from compress.cli import main; main(['models', '--json']); "
        "print(json.dumps(sorted(m for m in ('torch', 'torchvision', 'timm', 'onnxruntime') "
        "if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    *listing, heavy = out.stdout.strip().split("\n")
    assert json.loads(heavy) == []  # nothing heavy imported: answers in well under 2 s
    rows = json.loads("\n".join(listing))
    assert [row["name"] for row in rows] == list_models()
    sources = {row["name"]: row["source"] for row in rows}
    assert sources["unet"] == "segcompress" and sources["fcn-resnet50"] == "torchvision"
    assert sources["deeplab-mobilenetv4-aspp"] == "segcompress on timm"


@pytest.mark.slow
def test_json_with_macs_lists_every_model_with_counts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--json", "--macs", "--input-size", "64", "--num-classes", "3"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["name"] for row in rows] == list_models()
    for row in rows:
        assert set(row) == {
            "name",
            "aliases",
            "params",
            "macs",
            "input_size",
            "options",
            "source",
            "summary",
            "requires",
        }
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

    def fake(
        *, num_classes: int, input_size: tuple[int, int], on_model: Any = None
    ) -> list[dict[str, Any]]:
        calls.update(num_classes=num_classes, input_size=input_size)
        rows = []
        for name in list_models():
            row = {"name": name, "aliases": ["u"], "params": 8_600_000, "macs": 12_800_000_000}
            rows.append({**row, "input_size": list(input_size), "options": {}})
        return rows

    monkeypatch.setattr(compress.measure.macs, "registered_model_costs", fake)
    return calls


def test_table_shows_names_aliases_and_formatted_counts(
    recorded: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models", "--macs", "--input-size", "750x1000", "--num-classes", "5"]) == 0
    assert recorded == {"num_classes": 5, "input_size": (750, 1000)}
    out = capsys.readouterr().out
    for text in ["unet", "u", "8.60 M", "12.8 G", "750x1000"]:
        assert text in out


def test_defaults_are_256_and_8_classes(recorded: dict[str, Any]) -> None:
    assert main(["models", "--json", "--macs"]) == 0
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
