"""fp32 against int8, side by side in one process: mIoU through ONNX Runtime, latency, size.

Both ONNX files run on ONNX Runtime's CPU provider with the same thread count, the same
input and the same warm-up, one after the other in this process, so the ratio is not
blurred by another process's load profile. Accuracy is scored on the same split for
both, and the argmax agreement of the two models is measured on its first images.
When int8 is not faster the verdict says so plainly: on CPUs without VNNI it often is
not (see docs/quantization.md).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compress.core.errors import CompressError
from compress.core.results import LatencyStats, Metrics

if TYPE_CHECKING:
    from compress.data import SegmentationFolder
    from compress.measure.runtimes import OrtRunner


@dataclass
class Measured:
    """One ONNX file measured: bytes on disk, ORT CPU latency, accuracy (if data given)."""

    path: Path
    size_bytes: int
    latency: LatencyStats
    metrics: Metrics | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "size_bytes": self.size_bytes,
            "latency": {"ort-cpu": self.latency.model_dump(mode="json")},
            "metrics": self.metrics.model_dump(mode="json") if self.metrics else None,
        }


@dataclass
class Comparison:
    """fp32 and int8 measured the same way, and what that means."""

    fp32: Measured
    int8: Measured
    agreement: float | None  # fraction of pixels where fp32 and int8 pick the same class

    @property
    def speedup(self) -> float:
        """fp32 p50 / int8 p50 (> 1 means int8 is faster)."""
        return self.fp32.latency.p50 / max(self.int8.latency.p50, 1e-9)

    @property
    def int8_faster(self) -> bool:
        return self.int8.latency.p50 < self.fp32.latency.p50

    @property
    def size_ratio(self) -> float:
        return self.int8.size_bytes / max(self.fp32.size_bytes, 1)

    @property
    def delta_miou(self) -> float | None:
        if self.fp32.metrics is None or self.int8.metrics is None:
            return None
        return self.int8.metrics.miou - self.fp32.metrics.miou

    def verdict(self) -> str:
        """One sentence on speed, printed as it is."""
        fp32, int8 = self.fp32.latency.p50, self.int8.latency.p50
        if not self.int8_faster:
            return (
                f"int8 is NOT faster than fp32 on this machine (ORT CPU p50 {int8:.1f} ms vs "
                f"{fp32:.1f} ms fp32, {self.speedup:.2f}x)"
            )
        return f"int8 is {self.speedup:.2f}x faster than fp32 (p50 {int8:.1f} ms vs {fp32:.1f} ms)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "fp32": self.fp32.to_dict(),
            "int8": self.int8.to_dict(),
            "speedup": self.speedup,
            "int8_faster": self.int8_faster,
            "size_ratio": self.size_ratio,
            "delta_miou": self.delta_miou,
            "agreement": self.agreement,
            "verdict": self.verdict(),
        }


def compare_onnx(
    fp32_path: str | os.PathLike[str],
    int8_path: str | os.PathLike[str],
    *,
    data: str | os.PathLike[str] | None = None,
    split: str = "test",
    num_classes: int | None = None,
    input_size: tuple[int, int] = (750, 1000),
    runs: int = 10,
    warmup: int = 2,
    threads: int | None = None,
    agreement_images: int = 8,
    seed: int = 0,
) -> Comparison:
    """Measure both files in this process; score both on ``split`` of ``data`` if given."""
    import torch

    from compress.measure.latency import measure_latency
    from compress.measure.runtimes import OrtRunner
    from compress.measure.size import file_bytes

    threads = threads or torch.get_num_threads()
    runners = [OrtRunner(p, device="cpu", threads=threads) for p in (fp32_path, int8_path)]
    x = torch.randn(1, 3, *input_size, generator=torch.Generator().manual_seed(seed))
    latencies = []
    for runner in runners:
        native = runner.prepare(x)
        timing = measure_latency(runner.run, [native], warmup=warmup, runs=runs)
        latencies.append(
            timing.to_stats(input_size=input_size, threads=threads, device_name=runner.device_name)
        )
    metrics: list[Metrics | None] = [None, None]
    agreement = None
    if data is not None:
        from compress.data import SegmentationFolder

        dataset = SegmentationFolder(data, split)
        classes = num_classes or dataset.info.num_classes
        metrics = [_score(runner, dataset, classes, split) for runner in runners]
        agreement = argmax_agreement(runners[0], runners[1], dataset, agreement_images)
    fp32, int8 = (
        Measured(Path(r.path), file_bytes(r.path), lat, m)
        for r, lat, m in zip(runners, latencies, metrics, strict=True)
    )
    return Comparison(fp32=fp32, int8=int8, agreement=agreement)


def argmax_agreement(
    first: OrtRunner, second: OrtRunner, dataset: SegmentationFolder, count: int
) -> float:
    """Fraction of pixels of the first ``count`` images where both predict the same class."""
    same = total = 0
    for index in range(min(count, len(dataset))):
        image, _ = dataset[index]
        a, b = first(image[None]).argmax(1), second(image[None]).argmax(1)
        same += int((a == b).sum())
        total += a.numel()
    return same / max(total, 1)


def _score(runner: OrtRunner, dataset: SegmentationFolder, classes: int, split: str) -> Metrics:
    from compress.measure.evaluate import evaluate

    info = dataset.info
    if info.num_classes != classes:
        raise CompressError(
            f"the model predicts {classes} classes but data set {dataset.root} has "
            f"{info.num_classes}; score it on a data set with {classes} classes"
        )
    result = evaluate(runner, dataset, num_classes=classes, ignore_index=info.ignore_index)
    return result.record(split=split, class_names=info.class_names)
