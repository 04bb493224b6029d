"""`compress export` and `compress bench`: thin commands; user errors exit with code 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from compress.cli import main
from compress.core.results import RunResult
from compress.measure import roof as roof_module

TINY = ["--model", "unet", "--option", "base_channels=8", "--num-classes", "5"]
FAST = ["--input-size", "64x64", "--runs", "2", "--warmup", "1", "--threads", "1"]


@pytest.fixture(autouse=True)
def _cache_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(roof_module, "measure_matmul_gmacs", lambda threads, **_: 50.0)


def test_bench_json_both_runtimes_validates(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", *TINY, *FAST, "--runtime", "torch,ort", "--json"]) == 0
    result = RunResult.model_validate_json(capsys.readouterr().out)
    assert result.kind == "bench" and set(result.latency_ms) == {"torch-cpu", "ort-cpu"}
    assert result.macs_input_size == (64, 64) and result.env["roof"]["peak_gmacs"]


def test_bench_table_and_run_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert main(["bench", *TINY, *FAST, "--runtime", "ort", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "ort-cpu" in printed and "roof" in printed
    assert json.loads((out / "result.json").read_text())["kind"] == "bench"
    assert (out / "spec.yaml").is_file() and (out / "model.onnx").is_file()


def test_bench_builds_the_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    import compress.deploy.bench

    seen: dict[str, object] = {}

    def fake(spec: compress.deploy.bench.BenchSpec, *, out: object = None) -> RunResult:
        seen.update(spec=spec, out=out)
        return RunResult(name="x", kind="bench", model="unet")

    monkeypatch.setattr(compress.deploy.bench, "run_bench", fake)
    assert main(["bench", "--model", "vgg", "--json", "--no-roof"]) == 0
    spec = seen["spec"]
    assert isinstance(spec, compress.deploy.bench.BenchSpec)
    assert spec.model == "deeplab-vgg11-aspp" and spec.input_size == (750, 1000) and spec.batch == 1
    assert spec.runtimes is None and spec.resolved_runtimes() == ["torch", "ort"]
    assert spec.device == "cpu" and spec.roof is False and seen["out"] is None


def test_export_writes_onnx_and_parity(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "model.onnx"
    args = ["export", *TINY, "--out", str(out), "--input-size", "64", "--parity-images", "2"]
    assert main(args) == 0
    report = json.loads((tmp_path / "model.parity.json").read_text())
    assert report["passed"] and report["sizes"] == [[64, 64], [96, 80]]
    assert out.is_file() and "agreement" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args",
    [
        ["bench", "--checkpoint", "{tmp}/missing.pt", *FAST],
        ["export", "--checkpoint", "{tmp}/missing.pt", "--out", "{tmp}/m.onnx"],
        ["bench", "--onnx", "{tmp}/corrupt.onnx", *FAST],
        ["bench", *TINY, "--input-size", "64by64"],
        ["bench", *TINY, "--input-size", "0x64"],
        ["export", *TINY, "--out", "{tmp}/m.onnx", "--input-size", "big"],
        ["bench", *TINY, *FAST, "--runtime", "tensorrt"],
        ["bench", *TINY, *FAST, "--device", "tpu"],
        ["bench", *TINY, *FAST, "--fp16"],
        ["bench", *TINY, *FAST, "--threads", "0"],
        ["bench", *FAST],
        ["bench", *TINY, "--option", "no-equals-sign"],
        ["bench", "--model", "no-such-model", *FAST, "--out", "{tmp}/m.onnx"],
        ["export", *TINY, "--out", "{tmp}/m.onnx", "--exporter", "tvm"],
    ],
)
def test_user_errors_exit_2(
    args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "corrupt.onnx").write_bytes(b"this is not protobuf")
    argv = [arg.replace("{tmp}", str(tmp_path)) for arg in args]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1
    assert not (tmp_path / "m.onnx").exists()


def test_parse_size_and_options() -> None:
    from compress.core.errors import CompressError
    from compress.core.parsing import parse_key_values, parse_size

    assert parse_size("750x1000") == (750, 1000)
    assert parse_size("256") == (256, 256)
    assert parse_size(" 64 X 80 ") == (64, 80)
    for bad in ("", "x", "64x", "64x-1", "0", "1.5x2", "64x64x3"):
        with pytest.raises(CompressError, match="--input-size"):
            parse_size(bad)
    assert parse_key_values(["base_channels=8", "aspp=false", "name=abc"]) == {
        "base_channels": 8,
        "aspp": False,
        "name": "abc",
    }
