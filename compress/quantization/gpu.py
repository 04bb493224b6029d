"""The GPU side of quantization: FP16 is the practical fast path; INT8 only through TensorRT.

ONNX Runtime's CUDA execution provider has no int8 convolution kernels, so a QDQ int8
model on it falls back to dequantize + fp32 convolutions. This module measures what a
GPU does offer - PyTorch half precision and ONNX Runtime fp32 on CUDA - and runs the
int8 file only when a TensorRT provider is installed; otherwise it says so. All of them are
timed interleaved in one process (:func:`compress.measure.latency.measure_interleaved`).
It needs CUDA and is not exercised by the CPU test suite.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn

NO_TENSORRT = (
    "int8 on GPU not measured: no TensorrtExecutionProvider; ONNX Runtime's CUDA provider "
    "has no int8 convolution kernels (install onnxruntime-gpu with TensorRT for int8)"
)


def gpu_report(
    model: nn.Module | None,
    fp32_onnx: str | os.PathLike[str],
    int8_onnx: str | os.PathLike[str],
    *,
    input_size: tuple[int, int],
    runs: int = 10,
    warmup: int = 3,
) -> dict[str, Any]:
    """Latency of the GPU variants that exist here, keyed like ``result.json``'s latency."""
    import onnxruntime as ort
    import torch

    from compress.measure.latency import measure_interleaved
    from compress.measure.runtimes import OrtRunner, TorchRunner

    providers = list(ort.get_available_providers())
    report: dict[str, Any] = {"cuda": torch.cuda.is_available(), "providers": providers}
    if not torch.cuda.is_available():
        report["note"] = "no CUDA device: FP16 and GPU int8 were not measured"
        return report
    x = torch.randn(1, 3, *input_size, generator=torch.Generator().manual_seed(0))
    calls: dict[str, tuple[Any, Any]] = {}
    if model is not None:
        runner = TorchRunner(model, device="cuda", fp16=True)
        calls["torch-cuda-fp16"] = (runner.run, runner.prepare(x))
    if "CUDAExecutionProvider" in providers:
        runner_ort = OrtRunner(fp32_onnx, device="cuda")
        calls["ort-cuda-fp32"] = (runner_ort.run, runner_ort.prepare(x))
    if "TensorrtExecutionProvider" in providers:
        session = ort.InferenceSession(
            str(int8_onnx),
            providers=[
                ("TensorrtExecutionProvider", {"trt_int8_enable": True}),
                "CUDAExecutionProvider",
            ],
        )
        name = session.get_inputs()[0].name
        calls["ort-tensorrt-int8"] = (lambda a: session.run(None, {name: a}), x.numpy())
    else:
        report["int8"] = NO_TENSORRT
    timings = (
        measure_interleaved(
            list(calls.values()), warmup=warmup, runs=runs, sync=torch.cuda.synchronize
        )
        if calls
        else []
    )
    report["latency_ms"] = {
        key: timing.to_stats(input_size=input_size).model_dump()
        for key, timing in zip(calls, timings, strict=True)
    }
    return report
