"""The runtime table: spec fields, CLI choices and runner dispatch all read ``RUNTIMES``."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from compress.core.errors import CompressError
from compress.measure import runtimes


def test_spec_fields_accept_exactly_the_table() -> None:
    from compress.pipeline.spec import BenchSettings

    assert BenchSettings(runtimes=list(runtimes.RUNTIMES)).runtimes == ["torch", "ort"]
    with pytest.raises(ValueError, match="runtime 'tensorrt' is unknown; valid: torch, ort"):
        BenchSettings(runtimes=["tensorrt"])


def test_devices_are_checked_through_the_entry() -> None:
    with pytest.raises(CompressError, match="unknown device 'tpu'"):
        runtimes.check_device("tpu", runtime="torch")
    with pytest.raises(CompressError, match="unknown runtime 'x'; valid runtimes: torch, ort"):
        runtimes.check_device("cpu", runtime="x")


def test_a_registered_runtime_is_timed_by_the_pipeline(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new runtime is one entry: here PyTorch eager in channels-last memory format."""
    from compress.deploy.subjects import Subject, time_subjects
    from compress.pipeline.measure import bench_timing
    from compress.pipeline.spec import BenchSettings

    class NhwcRunner(runtimes.TorchRunner):
        def __init__(self, model: nn.Module, **options: object) -> None:
            super().__init__(model, **options)  # type: ignore[arg-type]
            self.model = self.model.to(memory_format=torch.channels_last)
            self.memory_format = torch.channels_last
            self.key = "nhwc-cpu"

    entry = runtimes.Runtime(
        "nhwc",
        "PyTorch eager, channels-last",
        reads_onnx=False,
        runner=NhwcRunner,
        check=lambda device: None,
    )
    monkeypatch.setitem(runtimes.RUNTIMES, "nhwc", entry)
    settings = BenchSettings(runtimes=["nhwc", "ort"], input_size=(16, 16), runs=2, warmup=1)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 2, 1))
    [latency] = time_subjects([Subject(model=model)], **bench_timing(settings))
    assert set(latency) == {"nhwc-cpu", "ort-cpu"}
    assert all(stats.p50 > 0 and stats.runs == 2 for stats in latency.values())
    assert "nhwc (PyTorch eager, channels-last)" in runtimes.runtime_help()


def test_a_busy_machine_is_named_and_a_quiet_one_is_not() -> None:
    from compress.measure.environment import busy_note

    assert "load average 3.5 on 2 cores" in busy_note({"load_average": 3.5, "cpu_logical": 2})
    assert busy_note({"load_average": 1.2, "cpu_logical": 2}) is None
    assert busy_note({"threads": 2}) is None  # not recorded: nothing to say
