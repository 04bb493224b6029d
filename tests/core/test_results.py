from __future__ import annotations

import json
from pathlib import Path

import pytest

from compress.core.errors import CompressError
from compress.core.results import LatencyStats, Metrics, RunResult, load_result, write_result


def _result(**overrides) -> RunResult:
    fields = dict(
        name="vgg-pruned",
        kind="prune",
        model="deeplab-vgg11-aspp",
        steps=[{"kind": "prune", "ratio": 0.5}],
        baseline="vgg",
        params=1000,
        macs=2000,
        size_bytes=4000,
        latency_ms={
            "ort-cpu": LatencyStats(p50=10, p90=12, min=9, runs=5, warmup=2, input_size=(750, 1000))
        },
        metrics=Metrics(miou=0.5, class_acc=0.6, pixel_acc=0.9, per_class_iou=[0.5, None, 0.5]),
    )
    fields.update(overrides)
    return RunResult(**fields)


def test_round_trip(tmp_path: Path) -> None:
    original = _result()
    write_result(tmp_path, original)
    loaded = load_result(tmp_path)
    assert loaded.model_dump() == original.model_dump()
    assert loaded.folder == tmp_path and original.folder is None
    assert json.loads((tmp_path / "result.json").read_text())["schema_version"] == 2


FIXTURES = Path(__file__).parents[1] / "fixtures" / "results-v1"


@pytest.mark.parametrize("name", ["prune", "factorize", "ptq", "qat"])
def test_version_1_files_read_with_their_baseline_lifted(name: str) -> None:
    """Files written by the runners before the variant pipeline (schema 1) still load, and
    their same-process baseline (``extra["baseline"]`` / ``extra["fp32"]``) is typed."""
    raw = json.loads((FIXTURES / f"{name}.json").read_text())
    result = load_result(FIXTURES / f"{name}.json")
    assert result.schema_version == 1 and result.step_details == []
    base = result.baseline_measurement
    if name in ("ptq", "qat"):
        assert base.size_bytes == raw["extra"]["fp32"]["size_bytes"]
        stored = raw["extra"]["fp32"]["latency_ms"]["ort-cpu"]
        assert base.latency_ms["ort-cpu"].p50 == stored["p50"]
        assert base.metrics.miou == raw["extra"]["fp32"]["metrics"]["miou"]
    else:
        assert base.macs == raw["extra"]["baseline"]["macs"] > result.macs
        assert base.metrics.miou == raw["extra"]["baseline"]["metrics"]["miou"]
        assert base.macs_input_size == result.macs_input_size


def test_unknown_field_is_refused(tmp_path: Path) -> None:
    data = _result().model_dump(mode="json")
    data["mIoU"] = 0.7
    (tmp_path / "result.json").write_text(json.dumps(data))
    with pytest.raises(CompressError, match="mIoU"):
        load_result(tmp_path)


def test_other_schema_version_is_refused(tmp_path: Path) -> None:
    data = _result().model_dump(mode="json")
    data["schema_version"] = 99
    (tmp_path / "result.json").write_text(json.dumps(data))
    with pytest.raises(CompressError, match="schema_version 99"):
        load_result(tmp_path)


def test_invalid_json_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CompressError, match="does not exist"):
        load_result(tmp_path / "nope")
    (tmp_path / "result.json").write_text("{not json")
    with pytest.raises(CompressError, match="not valid JSON"):
        load_result(tmp_path)


def test_artifacts_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="model.onnx"):
        write_result(tmp_path, _result(artifacts={"onnx": "model.onnx"}))
    (tmp_path / "model.onnx").write_bytes(b"x")
    write_result(tmp_path, _result(artifacts={"onnx": "model.onnx"}))


def test_a_deeply_nested_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "result.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(CompressError, match="nested too deeply"):
        load_result(tmp_path)
