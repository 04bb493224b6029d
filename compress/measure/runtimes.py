"""Runners that execute a segmentation model: PyTorch eager or ONNX Runtime, CPU or CUDA.

Both share one small protocol so that latency, parity and accuracy treat them alike:

- ``prepare(x)`` turns a float NCHW tensor into the runtime's native input (moved to the
  device, cast, made contiguous) *outside* the timed region;
- ``run(native)`` is the timed call; ``sync()`` waits for the device;
- ``runner(x)`` = prepare + run, returning float32 logits as a torch tensor on ``x``'s
  device, so a runner can be passed to ``compress.measure.evaluate.evaluate`` as ``predict``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator

from compress.core.errors import CompressError
from compress.core.paths import require_file
from compress.core.tables import name_checker
from compress.measure.environment import cpu_info, gpu_name

if TYPE_CHECKING:
    import numpy as np
    import torch
    from torch import nn

DEVICES = ("cpu", "cuda")


@dataclass(frozen=True)
class Runtime:
    """One inference runtime: ``runner(subject, device=, threads=, **options)`` opens it on
    a PyTorch module, or on an ONNX file path when ``reads_onnx``; ``check(device)``
    raises CompressError unless it can run on ``device`` on this machine."""

    name: str
    help: str
    reads_onnx: bool
    runner: Callable[..., Any]
    check: Callable[[str], None]


def _check_torch(device: str) -> None:
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise CompressError(
                "--device cuda: no CUDA device is visible to PyTorch; use --device cpu"
            )


def _check_ort(device: str) -> None:
    if device == "cuda" and "CUDAExecutionProvider" not in _ort_providers():
        raise CompressError(
            "--device cuda with --runtime ort needs onnxruntime-gpu (CUDAExecutionProvider); "
            f"available providers: {', '.join(_ort_providers())}"
        )


def check_runtime(name: str) -> str:
    """``name`` if it is a runtime of :data:`RUNTIMES`, else ValueError (spec fields)."""
    return name_checker(RUNTIMES, "runtime")(name)  # RUNTIMES is defined below its runners


# A spec field holding a runtime name, validated against the table.
RuntimeName = Annotated[str, AfterValidator(check_runtime)]


def check_device(device: str, *, runtime: str) -> None:
    """CompressError unless ``runtime`` can run on ``device`` on this machine."""
    if runtime not in RUNTIMES:
        raise CompressError(f"unknown runtime {runtime!r}; valid runtimes: {', '.join(RUNTIMES)}")
    if device not in DEVICES:
        raise CompressError(f"unknown device {device!r}; valid devices: {', '.join(DEVICES)}")
    RUNTIMES[runtime].check(device)


def runtime_help() -> str:
    """CLI help: ``torch (PyTorch eager ...), ort (ONNX Runtime ...)``."""
    return ", ".join(f"{r.name} ({r.help})" for r in RUNTIMES.values())


def open_runner(
    runtime: str,
    subject: Any,
    *,
    device: str = "cpu",
    threads: int | None = None,
    **options: Any,
) -> Any:
    """A runner of ``runtime`` on ``subject`` (a module, or an ONNX path for ``reads_onnx``)."""
    check_device(device, runtime=runtime)
    return RUNTIMES[runtime].runner(subject, device=device, threads=threads, **options)


def device_name(device: str) -> str:
    """The CPU model or GPU name that ``device`` refers to."""
    return (gpu_name() or "cuda") if device == "cuda" else cpu_info().model


class TorchRunner:
    """PyTorch eager inference; optional FP16 and channels-last (CUDA only)."""

    def __init__(
        self,
        model: nn.Module,
        *,
        device: str = "cpu",
        threads: int | None = None,
        fp16: bool = False,
        channels_last: bool = False,
    ) -> None:
        import torch

        check_device(device, runtime="torch")
        if (fp16 or channels_last) and device != "cuda":
            flag = "--fp16" if fp16 else "--channels-last"
            raise CompressError(f"{flag} applies to --device cuda only (got --device {device})")
        if threads is not None:
            torch.set_num_threads(threads)
        self.device = device
        self.threads = torch.get_num_threads()
        self.key = f"torch-{device}"
        self.device_name = device_name(device)
        self.dtype = torch.float16 if fp16 else torch.float32
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.model = model.eval().to(device=device, dtype=self.dtype)
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        return x.to(self.device, dtype=self.dtype).contiguous(memory_format=self.memory_format)

    def run(self, native: torch.Tensor) -> torch.Tensor:
        from compress.measure.inference import output_logits

        return output_logits(self.model(native))

    def sync(self) -> None:
        if self.device == "cuda":
            import torch

            torch.cuda.synchronize()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        import torch

        with torch.inference_mode():
            return self.run(self.prepare(x)).float().to(x.device)


class OrtRunner:
    """ONNX Runtime inference session on CPU (or CUDA with onnxruntime-gpu)."""

    def __init__(
        self, onnx_path: str | os.PathLike[str], *, device: str = "cpu", threads: int | None = None
    ) -> None:
        import onnxruntime as ort

        check_device(device, runtime="ort")
        path = require_file(onnx_path, "ONNX file", "an .onnx file")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.inter_op_num_threads = 1
        if threads is not None:
            options.intra_op_num_threads = threads
        options.log_severity_level = 3  # errors only; failures still raise below
        providers = ["CPUExecutionProvider"]
        if device == "cuda":
            providers.insert(0, "CUDAExecutionProvider")
        try:
            self.session = ort.InferenceSession(str(path), options, providers=providers)
        except Exception as error:  # ORT raises Fail / InvalidProtobuf / InvalidGraph
            reason = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
            raise CompressError(
                f"ONNX file {path} cannot be loaded by ONNX Runtime ({reason or type(error)}); "
                "expected a model written by `compress export`"
            ) from None
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1:
            raise CompressError(f"ONNX file {path} has {len(inputs)} inputs; expected one image")
        _check_image_input(path, inputs[0])
        self.path = path
        self.device = device
        self.input_name = inputs[0].name
        self.output_name = outputs[0].name
        self.threads = threads if threads is not None else _default_ort_threads()
        self.key = f"ort-{device}"
        self.device_name = device_name(device)
        self.metadata: dict[str, str] = dict(self.session.get_modelmeta().custom_metadata_map)

    def prepare(self, x: torch.Tensor) -> np.ndarray:
        import numpy as np

        return np.ascontiguousarray(x.detach().float().cpu().numpy())

    def run(self, native: np.ndarray) -> np.ndarray:
        return self.session.run([self.output_name], {self.input_name: native})[0]

    def sync(self) -> None:
        return None  # session.run returns host arrays: it has already waited

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        import torch

        return torch.from_numpy(self.run(self.prepare(x))).float().to(x.device)


def _check_image_input(path: Path, spec: Any) -> None:
    """CompressError unless the ONNX input takes a float N x 3 x H x W image."""
    shape, kind = list(spec.shape or []), str(spec.type)
    channels = shape[1] if len(shape) == 4 else None
    if len(shape) != 4 or (isinstance(channels, int) and channels != 3) or "float" not in kind:
        raise CompressError(
            f"ONNX file {path}: input {spec.name!r} is {kind} {shape}; expected a float "
            "N x 3 x H x W image (as `compress export` writes)"
        )


def _ort_providers() -> list[str]:
    import onnxruntime as ort

    return list(ort.get_available_providers())


def _default_ort_threads() -> int:
    # ONNX Runtime's default intra-op pool has one thread per physical core.
    return cpu_info().physical_cores


# The one table of inference runtimes: spec fields, CLI choices and every place that
# opens a runner read it, so a new runtime is one runner class and one entry here.
RUNTIMES: dict[str, Runtime] = {
    runtime.name: runtime
    for runtime in (
        Runtime(
            "torch",
            "PyTorch eager; fp16, channels-last on CUDA",
            reads_onnx=False,
            runner=TorchRunner,
            check=_check_torch,
        ),
        Runtime(
            "ort",
            "ONNX Runtime on the exported file",
            reads_onnx=True,
            runner=OrtRunner,
            check=_check_ort,
        ),
    )
}
