"""Accuracy-controlled int8: keep in float the layers that cost most, until the drop holds.

The approach of OpenVINO's AccuracyAware quantization and NNCF's
``quantize_with_accuracy_control``: quantize everything, score fp32 and int8 on a
validation subset, and while int8 is more than ``max_drop`` mIoU points below fp32, rank
the quantized layers by their contribution to the drop and revert the worst to float,
re-scoring after each revert, up to a cap on reverted layers. As in NNCF without a
per-image metric, the ranking uses the model's output rather than re-scoring: each
quantized Conv/Gemm/MatMul is kept in float alone (on top of those already reverted) and
the share of pixels whose class then differs from fp32's, on a few downscaled images, is
its remaining error (ties broken by the logits' mean squared error relative to fp32's
variance); the layer whose revert leaves the least error ranks first.

Layers are kept float by :class:`~compress.quantization.float_nodes.FloatNodes` on the
int8 graph itself, so the calibration ranges are reused and nothing is recalibrated.
``float_op_types`` (e.g. HardSigmoid, Mul: hard-swish and squeeze-excitation, whose Q/DQ
pairs ONNX Runtime runs around float kernels) are floated type by type where that is
measured faster than all-int8, timed interleaved in one process.

Scoring uses the VAL split only (never test): ``control_images`` images evenly spaced.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compress.core.errors import CompressError
from compress.core.progress import task
from compress.quantization.float_nodes import WEIGHTED_OPS, FloatNodes

if TYPE_CHECKING:
    import onnx
    import torch

    from compress.quantization.spec import QuantizeOptions

RANKING_IMAGES = 4  # control images the ranking runs on (downscaled)
RANKING_MAX_SIDE = 480  # ranking images are downscaled to at most this many pixels a side
MIN_SPEEDUP = 0.02  # a float op type is kept when it makes the file this much faster


@dataclass
class ControlData:
    """The validation images the control scores on, and how to score them."""

    pairs: list[tuple[torch.Tensor, torch.Tensor]]  # (image [3,H,W] normalised, mask [H,W])
    num_classes: int
    ignore_index: int | None
    split: str = "val"
    indices: list[int] | None = None


@dataclass
class Timing:
    """How latencies are measured (the variant's bench settings)."""

    input_size: tuple[int, int]
    runs: int
    warmup: int
    threads: int | None = None


def control_step(
    step: QuantizeOptions, settings: Any, fp32_path: Path, int8_path: Path
) -> dict[str, Any] | None:
    """The quantize step's accuracy control (None when it asks for none): val images of
    ``settings.data``, latencies as ``settings.bench`` times them."""
    if step.max_drop is None and not step.float_op_types:
        return None
    bench = settings.bench
    return control_accuracy(
        fp32_path,
        int8_path,
        control_data(settings.data, step.control_images),
        max_drop=step.max_drop,
        max_reverted=step.max_reverted,
        float_op_types=step.float_op_types,
        timing=Timing(tuple(bench.input_size), bench.runs, bench.warmup, bench.threads),
    )


def control_data(data: str | os.PathLike[str], count: int, split: str = "val") -> ControlData:
    """``count`` images evenly spaced over the data set's val split (never test)."""
    from compress.data import SegmentationFolder
    from compress.quantization.calibration import calibration_indices

    dataset = SegmentationFolder(data, split)
    if len(dataset) == 0:
        raise CompressError(
            f"--max-drop scores int8 against fp32 on the {split!r} split of {data}, which "
            "holds no image; give a data set with a val split"
        )
    indices = calibration_indices(len(dataset), count)
    info = dataset.info
    return ControlData(
        [dataset[i] for i in indices], info.num_classes, info.ignore_index, split, indices
    )


def control_accuracy(
    fp32_path: Path,
    int8_path: Path,
    data: ControlData,
    *,
    max_drop: float | None,
    max_reverted: int,
    float_op_types: Sequence[str],
    timing: Timing,
) -> dict[str, Any]:
    """Rewrite ``int8_path`` with the fewest float layers that keep the val drop within
    ``max_drop`` points (and the paying ``float_op_types``); return what was decided."""
    graph = FloatNodes.load(fp32_path, int8_path)
    with tempfile.TemporaryDirectory(prefix="segcompress-control-") as folder:
        scratch = Path(folder)
        all_int8 = scratch / "all-int8.onnx"
        all_int8.write_bytes(int8_path.read_bytes())
        floated, op_report = _paying_op_types(graph, float_op_types, all_int8, scratch, timing)
        score = _Scorer(data, scratch, timing.threads)
        fp32_miou = score.path(fp32_path)
        history = [_entry(None, score.proto(graph.with_float(floated)), fp32_miou)]
        reverted: list[str] = []
        ranking: list[dict[str, Any]] = []
        if max_drop is not None and history[0]["drop_points"] > max_drop:
            ranking = rank_layers(graph, floated, fp32_path, data, scratch, timing.threads)
            for row in ranking[:max_reverted]:
                reverted.append(row["node"])
                miou = score.proto(graph.with_float([*floated, *reverted]))
                history.append(_entry(row["node"], miou, fp32_miou))
                if history[-1]["drop_points"] <= max_drop:
                    break
        best = min(range(len(history)), key=lambda i: (history[i]["drop_points"], i))
        kept = reverted[:best]
        final_nodes = [*floated, *kept]
        report = _report(history, best, max_drop, max_reverted, len(ranking), fp32_miou)
        report.update(
            split=data.split,
            control_images=len(data.pairs),
            indices=data.indices,
            float_op_types=op_report,
            ranking=ranking[: max(max_reverted, 1) * 2],
            tried_layers=reverted,
            reverted_layers=kept,
            float_nodes=final_nodes,
        )
        if final_nodes:
            from compress.quantization.ptq import copy_metadata

            proto = graph.with_float(final_nodes)
            summary = {k: report[k] for k in ("drop_before", "drop_after", "float_nodes")}
            copy_metadata(proto, proto, extra={"accuracy_control": summary})
            _save(proto, int8_path)
            report["latency_ms"] = _latencies([all_int8, int8_path], timing, ["all-int8", "final"])
    return report


def _entry(node: str | None, miou: float, fp32_miou: float) -> dict[str, Any]:
    return {
        "reverted": node,
        "miou": miou,
        "drop_points": round(100 * (fp32_miou - miou), 4),
    }


def _report(
    history: list[dict[str, Any]],
    best: int,
    max_drop: float | None,
    cap: int,
    ranked: int,
    fp32_miou: float,
) -> dict[str, Any]:
    """The figures of the loop and one sentence on how it ended."""
    start, final = history[0], history[best]
    if max_drop is None:
        outcome = "no max_drop: no layer reverted"
    elif start["drop_points"] <= max_drop:
        outcome = f"drop {start['drop_points']:.2f} <= max_drop {max_drop}: no layer reverted"
    elif final["drop_points"] <= max_drop:
        outcome = (
            f"drop {start['drop_points']:.2f} -> {final['drop_points']:.2f} <= max_drop "
            f"{max_drop} with {best} layer(s) in float"
        )
    else:
        limit = min(cap, ranked)
        outcome = (
            f"cap hit: {limit} layer(s) reverted (max_reverted {cap}, {ranked} ranked) and the "
            f"drop is still {final['drop_points']:.2f} > max_drop {max_drop}; kept the best "
            f"{best}"
        )
    return {
        "max_drop": max_drop,
        "max_reverted": cap,
        "fp32_miou": fp32_miou,
        "int8_miou": start["miou"],
        "final_miou": final["miou"],
        "drop_before": start["drop_points"],
        "drop_after": final["drop_points"],
        "held": max_drop is None or final["drop_points"] <= max_drop,
        "cap_hit": max_drop is not None and final["drop_points"] > max_drop,
        "history": history,
        "outcome": outcome,
    }


def rank_layers(
    graph: FloatNodes,
    floated: Iterable[str],
    fp32_path: Path,
    data: ControlData,
    scratch: Path,
    threads: int | None,
) -> list[dict[str, Any]]:
    """Quantized weighted layers, the one whose float revert leaves least error first."""
    base = list(floated)
    images = ranking_images(data.pairs)
    reference = _logits(fp32_path, images, threads)
    candidates = [n for n in graph.quantized(WEIGHTED_OPS) if n not in base]
    before = _error(_run(graph.with_float(base), scratch, images, threads), reference)
    rows = []
    with task("ranking int8 layers", total=len(candidates)) as bar:
        for name in candidates:
            output = _run(graph.with_float([*base, name]), scratch, images, threads)
            disagreement, nmse = _error(output, reference)
            rows.append(
                {
                    "node": name,
                    "disagreement": disagreement,
                    "nmse": nmse,
                    "gain": before[0] - disagreement,
                }
            )
            bar.advance(name)
    return sorted(rows, key=lambda r: (r["disagreement"], r["nmse"]))


def ranking_images(pairs: Sequence[tuple[torch.Tensor, Any]]) -> list[torch.Tensor]:
    """The first :data:`RANKING_IMAGES` control images, ``[1,3,h,w]``, downscaled so that
    no side exceeds :data:`RANKING_MAX_SIDE`."""
    import torch.nn.functional as F

    images = []
    for image, _ in pairs[:RANKING_IMAGES]:
        x = image[None].float()
        factor = max(x.shape[-2:]) / RANKING_MAX_SIDE
        if factor > 1:
            size = tuple(max(1, round(s / factor)) for s in x.shape[-2:])
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
        images.append(x)
    return images


def _error(outputs: list[torch.Tensor], reference: list[torch.Tensor]) -> tuple[float, float]:
    """(share of pixels whose argmax differs, logits MSE / reference variance)."""
    differ = pixels = 0
    squared = variance = 0.0
    for out, ref in zip(outputs, reference, strict=True):
        differ += int((out.argmax(1) != ref.argmax(1)).sum())
        pixels += ref.shape[0] * ref.shape[-1] * ref.shape[-2]
        squared += float(((out - ref) ** 2).mean())
        variance += float(ref.var())
    return differ / max(pixels, 1), squared / max(variance, 1e-12)


def _run(
    proto: onnx.ModelProto, scratch: Path, images: list[torch.Tensor], threads: int | None
) -> list[torch.Tensor]:
    return _logits(_save(proto, scratch / "candidate.onnx"), images, threads)


def _logits(path: Path, images: list[torch.Tensor], threads: int | None) -> list[torch.Tensor]:
    from compress.measure.padding import PaddingLogits
    from compress.measure.runtimes import OrtRunner

    runner = PaddingLogits(OrtRunner(path, threads=threads))
    return [runner(x).float() for x in images]


def _save(proto: onnx.ModelProto, path: Path) -> Path:
    import onnx

    from compress.core import atomic

    atomic.write_with(path, lambda tmp: onnx.save(proto, str(tmp)))
    return path


class _Scorer:
    """Val mIoU of ONNX files (or protos, written to the scratch folder) on the control set."""

    def __init__(self, data: ControlData, scratch: Path, threads: int | None) -> None:
        self.data, self.scratch, self.threads = data, scratch, threads

    def path(self, path: Path) -> float:
        from compress.measure.evaluate import evaluate
        from compress.measure.runtimes import OrtRunner

        runner = OrtRunner(path, threads=self.threads)
        data = self.data
        result = evaluate(
            runner, data.pairs, num_classes=data.num_classes, ignore_index=data.ignore_index
        )
        return float(result.miou)

    def proto(self, proto: onnx.ModelProto) -> float:
        return self.path(_save(proto, self.scratch / "scored.onnx"))


def _paying_op_types(
    graph: FloatNodes, op_types: Sequence[str], all_int8: Path, scratch: Path, timing: Timing
) -> tuple[list[str], list[dict[str, Any]]]:
    """Nodes of the ``op_types`` that are faster in float, and the measurement per type."""
    if not op_types:
        return [], []
    files, rows = [all_int8], []
    for op_type in op_types:
        nodes = graph.quantized([op_type])
        rows.append({"op_type": op_type, "nodes": nodes})
        files.append(_save(graph.with_float(nodes), scratch / f"float-{op_type}.onnx"))
    latencies = _latencies(files, timing, ["all-int8", *op_types])
    base = latencies["all-int8"]
    floated: list[str] = []
    for row in rows:
        ms = latencies[row["op_type"]]
        row.update(latency_ms=ms, all_int8_ms=base)
        row["kept"] = bool(row["nodes"]) and ms < (1 - MIN_SPEEDUP) * base
        if row["kept"]:
            floated.extend(row["nodes"])
    return floated, rows


def _latencies(files: list[Path], timing: Timing, names: list[str]) -> dict[str, float]:
    """ORT CPU p50 latency (ms) of each file, interleaved in one measurement."""
    from compress.deploy.subjects import Subject, time_subjects

    measured = time_subjects(
        [Subject(onnx=f) for f in files],
        runtimes=["ort"],
        input_size=timing.input_size,
        warmup=timing.warmup,
        runs=timing.runs,
        threads=timing.threads,
    )
    return {name: m["ort-cpu"].p50 for name, m in zip(names, measured, strict=True)}
