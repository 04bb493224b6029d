"""``compress bench``: latency, size, MACs (and accuracy) of one model, as a RunResult.

One spec names the model (registered name at random init, checkpoint, or ONNX file),
the runtimes (PyTorch eager, ONNX Runtime), the device, input size and timing setup.
A model benchmarked on ONNX Runtime is exported first (to the run folder with ``out``,
else to a temporary file). Threads are set for both runtimes to the same number and
restored afterwards. With ``data``, accuracy is measured through the runtime that
ships: ONNX Runtime for an ONNX file, else PyTorch (ONNX Runtime if it is the only one).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator, model_validator

from compress.core.errors import CompressError
from compress.core.paths import require_file
from compress.core.results import LatencyStats, Metrics, RunResult
from compress.core.specs import ModelSpec, Spec
from compress.deploy.onnx_model import architecture_of, onnx_classes, spec_from_metadata
from compress.measure.runtimes import RUNTIMES, RuntimeName

if TYPE_CHECKING:
    from compress.core.checkpoint import Checkpoint
    from compress.measure.roof import Roof


class BenchSpec(Spec):
    """What to benchmark and how (the CLI's options, validated)."""

    model: str | None = None
    checkpoint: Path | None = None
    onnx: Path | None = None
    num_classes: int = Field(default=8, ge=1)
    options: dict[str, Any] = Field(default_factory=dict)
    runtimes: list[RuntimeName] | None = None  # None: torch and ort (ort only for an ONNX file)
    device: Literal["cpu", "cuda"] = "cpu"
    input_size: tuple[int, int] = (750, 1000)
    batch: int = Field(default=1, ge=1)
    threads: int | None = Field(default=None, ge=1)
    runs: int = Field(default=10, ge=1)
    warmup: int = Field(default=3, ge=0)
    data: Path | None = None
    split: str = "test"
    fp16: bool = False
    channels_last: bool = False
    opset: int = Field(default=17, ge=11)
    roof: bool = True  # measure the matmul reference (cached) beside the derived peak
    seed: int = 0
    name: str | None = None

    @field_validator("model")
    @classmethod
    def _canonical(cls, name: str | None) -> str | None:
        from baselines.registry import canonical_name

        return None if name is None else canonical_name(name)

    @model_validator(mode="after")
    def _consistent(self) -> BenchSpec:
        if sum(x is not None for x in (self.model, self.checkpoint, self.onnx)) != 1:
            raise ValueError("give exactly one of --model, --checkpoint or --onnx")
        if min(self.input_size) < 1:
            raise ValueError(f"input_size must be positive, got {self.input_size}")
        for runtime in self.runtimes or []:
            if self.onnx is not None and not RUNTIMES[runtime].reads_onnx:
                raise ValueError(f"--runtime {runtime} needs --model or --checkpoint, not --onnx")
        return self

    def resolved_runtimes(self) -> list[str]:
        if self.runtimes:
            return list(dict.fromkeys(self.runtimes))
        return ["ort"] if self.onnx is not None else ["torch", "ort"]


def run_bench(spec: BenchSpec, *, out: str | os.PathLike[str] | None = None) -> RunResult:
    """Measure ``spec``; with ``out``, write a run folder (spec.yaml, result.json, model.onnx).

    A run folder that already holds the finished result of this very spec is returned
    as it is (delete it to measure again).
    """
    from compress.core.results import load_result, write_result
    from compress.core.runs import prepare_run_dir
    from compress.measure.latency import torch_threads

    runtimes = spec.resolved_runtimes()
    _check_flags(spec, runtimes)
    for what, path in (("checkpoint", spec.checkpoint), ("ONNX file", spec.onnx)):
        if path is not None:
            require_file(path, what)
    folder = None
    if out is not None:
        folder = prepare_run_dir(out, spec.model_dump(mode="json"), kind="bench")
        if folder.finished:
            return load_result(folder.path)
    with (
        torch_threads(spec.threads) as threads,
        tempfile.TemporaryDirectory(prefix="segcompress-bench-") as scratch,
    ):
        workdir = folder.path if folder is not None else Path(scratch)
        result = _measure(spec, runtimes, threads, workdir, keep=folder is not None)
        if folder is not None:
            result.name = spec.name or folder.path.name
            write_result(folder.path, result)
    return result


def _check_flags(spec: BenchSpec, runtimes: list[str]) -> None:
    from compress.measure.runtimes import check_device

    for runtime in runtimes:
        check_device(spec.device, runtime=runtime)
    for flag, on in (("--fp16", spec.fp16), ("--channels-last", spec.channels_last)):
        if on and spec.device != "cuda":
            raise CompressError(f"{flag} applies to --device cuda only (got --device cpu)")
        if on and "torch" not in runtimes:
            raise CompressError(f"{flag} applies to --runtime torch only")


@dataclass
class _Opened:
    """The model to benchmark, opened: what it is, its costs, and the files it runs from."""

    model_spec: ModelSpec | None
    structure: list[dict[str, Any]]
    loaded: Checkpoint | None  # None for an ONNX file
    onnx_path: Path | None
    macs: int | None
    params: int | None
    size: tuple[int, str]  # (bytes, artifact)
    extra: dict[str, Any]
    artifacts: dict[str, str]


def _measure(
    spec: BenchSpec, runtimes: list[str], threads: int, workdir: Path, *, keep: bool
) -> RunResult:
    from compress.measure.environment import environment

    opened = _open(spec, runtimes, workdir, keep=keep)
    roof = _roof(spec, threads)
    latency, runners = _time(spec, runtimes, threads, opened, roof)
    extra = opened.extra
    metrics = None
    if spec.data is not None:
        # score the PyTorch model where one is timed, else the first (ONNX) runtime
        chosen = next((r for r in runtimes if not RUNTIMES[r].reads_onnx), runtimes[0])
        model_spec = opened.model_spec
        classes = model_spec.num_classes if model_spec else onnx_classes(runners[chosen])
        metrics = _accuracy(spec, runners[chosen], classes)
        extra["metrics_runtime"] = runners[chosen].key
    env = environment(threads=threads)
    env["roof"] = roof.to_dict() if roof is not None else None
    name = opened.model_spec.name if opened.model_spec else "onnx"
    return RunResult(
        name=spec.name or f"{name}-bench",
        kind="bench",
        model=name,
        steps=opened.structure,
        params=opened.params,
        macs=opened.macs,
        macs_input_size=spec.input_size if opened.macs is not None else None,
        size_bytes=opened.size[0],
        size_artifact=opened.size[1],
        latency_ms=latency,
        metrics=metrics,
        artifacts=opened.artifacts,
        source_sha256=_source_sha256(spec),
        env=env,
        extra=extra,
    )


def _open(spec: BenchSpec, runtimes: list[str], workdir: Path, *, keep: bool) -> _Opened:
    """Open the spec's model or ONNX file, count its costs, export it if a runtime needs."""
    from compress.core.onnx_files import read_metadata
    from compress.deploy.base_model import open_model
    from compress.deploy.export import export_onnx
    from compress.measure.macs import count_macs_params
    from compress.measure.size import onnx_size, state_dict_bytes

    extra: dict[str, Any] = {"runtimes": runtimes}
    artifacts: dict[str, str] = {}
    onnx_path, loaded = spec.onnx, None
    if spec.onnx is not None:
        model_spec, structure = spec_from_metadata(read_metadata(spec.onnx), source=str(spec.onnx))
        architecture = architecture_of(model_spec, structure, seed=spec.seed)
        extra["source"] = str(spec.onnx)
    else:
        loaded = open_model(
            model=spec.model,
            checkpoint=spec.checkpoint,
            num_classes=spec.num_classes,
            options=spec.options,
            seed=spec.seed,
        )
        model_spec, structure, architecture = loaded.spec, loaded.structure, loaded.model
        extra["source"] = str(spec.checkpoint) if spec.checkpoint else "random init"
        extra["state_dict_bytes"] = state_dict_bytes(loaded.model)
    macs = params = None
    if architecture is not None:
        macs, params = count_macs_params(architecture, spec.input_size)
    if loaded is not None and any(RUNTIMES[runtime].reads_onnx for runtime in runtimes):
        onnx_path = export_onnx(
            loaded.model,
            workdir / "model.onnx",
            input_size=spec.input_size,
            opset=spec.opset,
            metadata=loaded.metadata(),
        )
        if keep:
            artifacts["onnx"] = "model.onnx"
    size = (extra.get("state_dict_bytes", 0), "fp32-state-dict")
    if onnx_path is not None:
        measured = onnx_size(onnx_path)
        extra.update(onnx_bytes=measured.file_bytes, onnx_elements=measured.initializer_elements)
        if spec.onnx is not None:
            size = (measured.file_bytes, measured.artifact)
    return _Opened(
        model_spec, list(structure), loaded, onnx_path, macs, params, size, extra, artifacts
    )


def _time(
    spec: BenchSpec, runtimes: list[str], threads: int, opened: _Opened, roof: Roof | None
) -> tuple[dict[str, LatencyStats], dict[str, Any]]:
    """Every runtime's runner timed interleaved; ``(latency by key, runner by runtime)``."""
    import torch

    from compress.measure.latency import time_runners
    from compress.measure.runtimes import open_runner

    runners: dict[str, Any] = {}
    for runtime in runtimes:
        if RUNTIMES[runtime].reads_onnx:
            assert opened.onnx_path is not None
            target: Any = opened.onnx_path
            options: dict[str, Any] = {}
        else:
            assert opened.loaded is not None
            target = opened.loaded.model
            options = {"fp16": spec.fp16, "channels_last": spec.channels_last}
        runners[runtime] = open_runner(
            runtime, target, device=spec.device, threads=threads, **options
        )
    generator = torch.Generator().manual_seed(spec.seed)
    x = torch.randn(spec.batch, 3, *spec.input_size, generator=generator)
    timings = time_runners(
        list(runners.values()),
        x,
        warmup=spec.warmup,
        runs=spec.runs,
        threads=threads,
        cuda_memory="torch" in runtimes and spec.device == "cuda",
    )
    latency: dict[str, LatencyStats] = {}
    samples: dict[str, list[float]] = {}
    for runner, timing in zip(runners.values(), timings, strict=True):
        latency[runner.key] = timing.to_stats(
            input_size=spec.input_size,
            batch=spec.batch,
            threads=runner.threads,
            device_name=runner.device_name,
            macs=opened.macs,
            peak_gmacs=roof.peak_gmacs if roof is not None else None,
        )
        samples[runner.key] = timing.samples_ms
    opened.extra.update(  # one figure for the whole interleaved pass, over every runtime
        samples_ms=samples,
        peak_memory_bytes=timings[0].peak_memory_bytes,
        max_rss_bytes=timings[0].max_rss_bytes,
    )
    return latency, runners


def _roof(spec: BenchSpec, threads: int) -> Roof | None:
    """The CPU roof (None on CUDA: no derived GPU peak is claimed)."""
    if spec.device != "cpu":
        return None
    from compress.measure.roof import get_roof

    return get_roof(threads, measure=spec.roof)


def _accuracy(spec: BenchSpec, predict: Any, num_classes: int) -> Metrics:
    """Accuracy of ``predict`` on ``spec.split`` of ``spec.data``."""
    from compress.data import SegmentationFolder
    from compress.measure.evaluate import evaluate

    assert spec.data is not None
    dataset = SegmentationFolder(spec.data, spec.split)
    info = dataset.info
    if info.num_classes != num_classes:
        raise CompressError(
            f"the model predicts {num_classes} classes but data set {spec.data} has "
            f"{info.num_classes}; benchmark it on a data set with {num_classes} classes"
        )
    result = evaluate(
        predict,
        dataset,
        num_classes=num_classes,
        ignore_index=info.ignore_index,
        device=spec.device,
    )
    return result.record(split=spec.split, class_names=info.class_names)


def _source_sha256(spec: BenchSpec) -> str | None:
    """The measured file's digest: how ``compare`` finds the train run that wrote it."""
    from compress.core.runs import file_sha256

    source = spec.checkpoint or spec.onnx
    return file_sha256(str(source)) if source is not None else None
