"""benchmarks/peer_nncf.py end to end on a tiny trained UNet and synthetic scenes."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import onnx
import pytest

from compress.core.onnx_files import read_metadata

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "peer_nncf.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("peer_nncf", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_without_nncf_it_says_how_to_install(monkeypatch, capsys, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "nncf", None)  # import nncf -> ImportError
    code = _script().main(["--checkpoint", "x.pt", "--data", str(tmp_path)])
    assert code == 2
    assert "pip install 'segcompress[peer]'" in capsys.readouterr().err


def test_peer_benchmark_end_to_end(unet_checkpoint: Path, tiny_data: Path, tmp_path: Path) -> None:
    pytest.importorskip("nncf")
    out = tmp_path / "peer"
    argv = ["--checkpoint", str(unet_checkpoint), "--data", str(tiny_data), "--out", str(out)]
    argv += ["--calib-images", "2", "--input-size", "64x64", "--runs", "1", "--warmup", "0"]
    argv += ["--threads", "1", "--max-images", "2", "--option", "per_channel=false"]
    argv += ["--model", "unet", "--num-classes", "8", "--model-option", "base_channels=8"]
    assert _script().main(argv) == 0
    report = json.loads((out / "peer_nncf.json").read_text())
    result, random_init = report["results"]
    assert random_init["model"] == "unet (random init)" and len(random_init["rows"]) == 3
    rows = result["rows"]
    assert [row["variant"] for row in rows] == ["fp32", "segcompress int8", "NNCF int8"]
    for row in rows:
        assert 0 <= row["miou"] <= 1 and row["images"] == 2
        assert row["p50_ms"] > 0 and row["threads"] == 1 and Path(row["onnx"]).is_file()
    assert rows[0]["x_fp32"] == 1.0
    assert result["segcompress"]["calibration_images"] == 2 == result["nncf"]["images"]
    assert rows[1]["calibration_seconds"] > 0 and rows[2]["quantize_seconds"] > 0
    # --option reaches the quantize step: per-tensor weights were asked for
    assert read_metadata(Path(rows[1]["onnx"]))["quantization"]["per_channel"] is False
    ops = {node.op_type for node in onnx.load(rows[2]["onnx"]).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops  # NNCF wrote a QDQ model
    table = (out / "peer_nncf.md").read_text()
    assert "| NNCF int8 |" in table and "Command: `python benchmarks/peer_nncf.py" in table
    assert "flags" in table
