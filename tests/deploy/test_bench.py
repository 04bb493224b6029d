"""The bench library: a RunResult with latency per runtime, size, MACs and accuracy.

Only structure is asserted (keys, orderings, sizes, MACs), never how fast anything ran.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from baselines import get_model
from compress.core.errors import CompressError
from compress.core.results import RunResult, load_result
from compress.core.specs import parse_spec
from compress.deploy.bench import BenchSpec, run_bench
from compress.measure import roof as roof_module
from compress.measure.macs import count_macs_params
from compress.measure.size import onnx_size, param_count, state_dict_bytes

TINY = {"model": "unet", "num_classes": 5, "options": {"base_channels": 8}}
FAST = {"input_size": (64, 64), "runs": 2, "warmup": 1, "threads": 1}


@pytest.fixture(autouse=True)
def _no_matmul_measurement(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the roof cache in tmp_path and skip the 2048^2 matmul (tested elsewhere)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(roof_module, "measure_matmul_gmacs", lambda threads, **_: 50.0)


def check_stats(result: RunResult, keys: list[str]) -> None:
    assert sorted(result.latency_ms) == sorted(keys)
    for stats in result.latency_ms.values():
        assert stats.min <= stats.p50 <= stats.p90
        assert stats.runs == 2 and stats.warmup == 1 and stats.input_size == (64, 64)
        assert stats.threads == 1 and stats.device_name
        assert stats.gmacs_per_s is not None and stats.gmacs_per_s > 0
        peak = result.env["roof"]["peak_gmacs"]
        assert stats.roof_fraction == pytest.approx(stats.gmacs_per_s / peak)


def test_bench_both_runtimes_writes_a_run_folder(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = run_bench(BenchSpec(**TINY, **FAST), out=out)
    check_stats(result, ["torch-cpu", "ort-cpu"])
    model = get_model("unet", num_classes=5, base_channels=8)
    assert result.kind == "bench" and result.model == "unet" and result.name == "run"
    assert (result.macs, result.params) == count_macs_params(model, (64, 64))
    assert result.size_artifact == "fp32-state-dict"
    assert result.size_bytes == state_dict_bytes(model)
    assert result.extra["onnx_bytes"] == (out / "model.onnx").stat().st_size
    assert result.env["roof"]["measured_gmacs"] == 50.0 and result.env["threads"] == 1
    assert result.artifacts == {"onnx": "model.onnx"}
    assert {p.name for p in out.iterdir()} == {"spec.yaml", "result.json", "model.onnx", ".lock"}
    assert load_result(out) == result
    assert run_bench(BenchSpec(**TINY, **FAST), out=out) == result  # finished: not re-run
    with pytest.raises(CompressError, match="different bench configuration"):
        run_bench(BenchSpec(**TINY, **{**FAST, "runs": 3}), out=out)


def test_bench_onnx_file_with_accuracy(tmp_path: Path) -> None:
    from compress.data import load_dataset_info, write_synthetic_dataset

    data = write_synthetic_dataset(tmp_path / "data", n=3, size=64, seed=0)
    classes = load_dataset_info(data).num_classes
    spec = {**TINY, "num_classes": classes, **FAST}
    run_bench(BenchSpec(**spec, runtimes=["ort"]), out=tmp_path / "run")
    onnx = tmp_path / "run" / "model.onnx"
    result = run_bench(BenchSpec(onnx=onnx, data=data, split="test", **FAST))
    check_stats(result, ["ort-cpu"])
    assert result.model == "unet"  # read from the ONNX metadata
    model = get_model("unet", num_classes=classes, base_channels=8)
    assert result.macs == count_macs_params(model, (64, 64))[0]
    assert result.size_artifact == "onnx" and result.size_bytes == onnx.stat().st_size
    assert result.metrics is not None and result.metrics.split == "test"
    assert 0.0 <= result.metrics.miou <= 1.0 and result.metrics.num_images == 1
    assert len(result.metrics.per_class_iou) == classes
    assert result.extra["metrics_runtime"] == "ort-cpu"


def test_bench_restores_torch_threads() -> None:
    before = torch.get_num_threads()
    run_bench(BenchSpec(**TINY, **{**FAST, "threads": 2}, runtimes=["torch"], roof=False))
    assert torch.get_num_threads() == before


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"fp16": True}, "--fp16 applies to --device cuda"),
        ({"channels_last": True}, "--channels-last applies to --device cuda"),
    ],
)
def test_cuda_only_flags_fail_on_cpu(changes: dict[str, object], message: str) -> None:
    with pytest.raises(CompressError, match=message):
        run_bench(BenchSpec(**TINY, **FAST, **changes))


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_gpu_fails_clearly() -> None:
    with pytest.raises(CompressError, match="--device cuda"):
        run_bench(BenchSpec(**TINY, **FAST, device="cuda", runtimes=["torch"]))


@pytest.mark.parametrize(
    "data",
    [
        {**TINY, "onnx": "m.onnx"},
        {"onnx": "m.onnx", "runtimes": ["torch"]},
        {**TINY, "runtimes": ["tvm"]},
        {**TINY, "device": "tpu"},
        {**TINY, "runs": 0},
    ],
)
def test_invalid_specs_are_user_errors(data: dict[str, object]) -> None:
    with pytest.raises(CompressError, match="options"):
        parse_spec(BenchSpec, data, source="options")


def test_corrupt_onnx_is_a_user_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"\x00garbage")
    with pytest.raises(CompressError, match="broken.onnx"):
        run_bench(BenchSpec(onnx=broken, **FAST))


def test_sizes() -> None:
    model = get_model("unet", num_classes=5, base_channels=8)
    params = param_count(model)
    assert 4 * params < state_dict_bytes(model) < 4 * params + 200_000  # fp32 + BN + pickle


def test_onnx_size_counts_weights(tmp_path: Path) -> None:
    from compress.deploy.export import export_onnx

    model = get_model("unet", num_classes=5, base_channels=8).eval()
    path = export_onnx(model, tmp_path / "m.onnx", input_size=(64, 64))
    size = onnx_size(path)
    assert size.file_bytes == path.stat().st_size and not size.quantized
    assert size.artifact == "onnx"
    assert 0 < size.initializer_elements <= sum(t.numel() for t in model.state_dict().values())
