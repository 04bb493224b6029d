"""Post-training static quantization: fp32 ONNX -> pre-process -> QDQ int8 ONNX.

The pipeline is ONNX Runtime's own tooling, in the order its documentation gives:
``quant_pre_process`` (symbolic shape inference and graph optimisation, which folds
what the quantizer should not see twice), then ``quantize_static`` in QDQ format with
int8 activations (asymmetric, per-tensor; unsigned on x86, where ONNX Runtime's kernels
are u8 x s8 — see cpu_features) and signed weights (symmetric, per-channel by default),
ranges calibrated on real images. MinMax ranges come from one lean ONNX Runtime pass
(:mod:`compress.quantization.lean_calibration`: the tensors and numbers of ONNX Runtime's
own calibrator, bit for bit) handed to ``quantize_static`` as its calibration cache; the
seconds of each phase are returned (``PtqOutcome.timing``). QDQ keeps the graph a
standard ONNX graph (QuantizeLinear/DequantizeLinear around each op) that any runtime
can read; ONNX Runtime fuses each ``DQ -> Conv -> Q`` group into an int8 kernel when it loads it.

``--keep-fp32`` names stay in fp32. A name is either an ONNX node name
(``/backbone/body/conv1/Conv``) or a PyTorch module path (``backbone.body.conv1``,
``classifier``); a module path excludes every node exported from that module and its
children (``backbone.body.layer4`` keeps the whole stage in fp32).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compress.core import atomic
from compress.core.errors import CompressError
from compress.core.onnx_files import METADATA_PREFIX, load_onnx
from compress.core.progress import task
from compress.quantization.calibrators import CALIBRATORS

if TYPE_CHECKING:
    import onnx
    from onnxruntime.quantization import CalibrationDataReader

HISTOGRAM_STRIDE = 8  # images per histogram update for entropy/percentile (bounded memory)


@dataclass
class PtqOutcome:
    """A quantized ONNX file and what was decided on the way."""

    path: Path
    excluded_nodes: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    timing: dict[str, Any] = field(default_factory=dict)  # seconds per phase, calibrator


def module_path(node_name: str) -> str:
    """The PyTorch module path a TorchScript-exported node came from.

    ``/backbone/body/layer1/layer1.0/conv1/Conv`` -> ``backbone.body.layer1.0.conv1``:
    each scope segment repeats its container's name as a prefix, which is dropped.
    """
    parts = [p for p in node_name.strip("/").split("/")[:-1] if p]
    path: list[str] = []
    for part in parts:
        segments = part.split(".")
        overlap = 0
        for k in range(min(len(path), len(segments) - 1), 0, -1):
            if path[-k:] == segments[:k]:
                overlap = k
                break
        path.extend(segments[overlap:])
    return ".".join(path)


def resolve_keep_fp32(proto: onnx.ModelProto, names: list[str]) -> list[str]:
    """ONNX node names to exclude for ``names``; CompressError for a name matching nothing."""
    nodes = [node.name for node in proto.graph.node if node.name]
    excluded: list[str] = []
    for name in names:
        matched = [
            node
            for node in nodes
            if node == name or ((path := module_path(node)) == name or path.startswith(name + "."))
        ]
        if not matched:
            examples = sorted({module_path(n) for n in nodes if module_path(n)})[:6]
            raise CompressError(
                f"--keep-fp32 {name!r} matches no node of the model; give a PyTorch module "
                f"path such as {', '.join(examples) or 'classifier'} or an ONNX node name"
            )
        excluded.extend(m for m in matched if m not in excluded)
    return excluded


# Activation signedness -> ONNX Runtime QuantType name (weights are always signed int8).
ACTIVATION_TYPES = {"uint8": "QUInt8", "int8": "QInt8"}


def quantize_onnx(
    fp32_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    reader: CalibrationDataReader,
    *,
    calibration: str = "minmax",
    per_channel: bool = True,
    reduce_range: bool = False,
    activations: str = "uint8",
    keep_fp32: list[str] | None = None,
    percentile: float = 99.999,
    metadata: dict[str, Any] | None = None,
) -> PtqOutcome:
    """Quantize ``fp32_path`` to a QDQ int8 model at ``out_path`` (written atomically).

    Raises:
        CompressError: the input is not a readable ONNX file, the calibration method is
            unknown, or a ``keep_fp32`` name matches no node.
    """
    import onnx

    if calibration not in CALIBRATORS:
        raise CompressError(
            f"unknown calibration method {calibration!r}; valid: {', '.join(CALIBRATORS)}"
        )
    if activations not in ACTIVATION_TYPES:
        raise CompressError(
            f"unknown activation type {activations!r}; valid: {', '.join(ACTIVATION_TYPES)}"
        )
    source = load_onnx(fp32_path)  # CompressError if absent or corrupt
    options = {
        "quant_format": "QDQ",
        "activation_type": ACTIVATION_TYPES[activations],
        "weight_type": "QInt8",
        "per_channel": per_channel,
        "reduce_range": reduce_range,
        "calibrate_method": CALIBRATORS[calibration].ort_method,
    }
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="segcompress-ptq-") as folder:
        pre = Path(folder) / "pre.onnx"
        options["symbolic_shape_inference"] = _pre_process(Path(fp32_path), pre)
        preprocessed = time.perf_counter()
        excluded = resolve_keep_fp32(onnx.load(str(pre)), list(keep_fp32 or []))
        quantized = Path(folder) / "int8.onnx"
        timing = _calibrate_and_quantize(
            pre,
            quantized,
            reader,
            calibration=calibration,
            percentile=percentile,
            quantizer_options={**options, "nodes_to_exclude": excluded},
        )
        proto = onnx.load(str(quantized))
    copy_metadata(source, proto, extra={**(metadata or {}), "quantization": options})
    onnx.checker.check_model(proto)
    atomic.write_with(out_path, lambda tmp: onnx.save(proto, str(tmp)))
    timing.update(
        pre_process_seconds=preprocessed - began, total_seconds=time.perf_counter() - began
    )
    return PtqOutcome(Path(out_path), excluded, options, timing)


def _calibrate_and_quantize(
    pre: Path,
    quantized: Path,
    reader: CalibrationDataReader,
    *,
    calibration: str,
    percentile: float,
    quantizer_options: dict[str, Any],
) -> dict[str, Any]:
    """Calibrate ``pre`` on ``reader`` and write the QDQ model ``quantized``; the timings.

    MinMax collects its ranges in one lean pass (:mod:`lean_calibration`) and hands them
    to ``quantize_static`` as its calibration cache (where this ONNX Runtime reads one,
    else ONNX Runtime calibrates, to the same numbers); histogram methods keep whole
    tensors, so ONNX Runtime collects them in strides (merged by ONNX Runtime). Not
    CalibMaxIntermediateOutputs: in onnxruntime 1.32 it discards the images it
    buffered instead of reducing them.
    """
    from compress.quantization.lean_calibration import collect_minmax, save_ranges

    calibrator = CALIBRATORS[calibration]
    began = time.perf_counter()
    if calibrator.histogram or not _reads_calibration_cache():
        extra: dict[str, Any] = {}
        if calibrator.histogram:
            extra = {"CalibStridedMinMax": _stride(len(reader)), "CalibPercentile": percentile}
        with task("calibrating and quantizing", total=len(reader)) as progress:
            reader.progress = progress  # ONNX Runtime pulls the images one by one
            _quantize_static(pre, quantized, reader, None, quantizer_options, extra)
        return {
            "calibrator": "onnxruntime " + calibrator.ort_method,
            "calibration_images": len(reader),
            "calibration_seconds": time.perf_counter() - began,  # quantizing included
            "quantize_seconds": None,
        }
    with task("calibrating", total=len(reader)) as progress:
        ranges = collect_minmax(pre, reader, progress=progress)
    reader.progress = None
    cache = save_ranges(ranges, pre.with_name("ranges.json"))
    calibrated = time.perf_counter()
    with task("quantizing"):
        _quantize_static(pre, quantized, None, cache, quantizer_options, {})
    return {
        "calibrator": "lean MinMax (one ONNX Runtime pass, running min/max)",
        "calibration_images": ranges.images,
        "calibrated_tensors": len(ranges.lowest),
        "calibration_seconds": calibrated - began,
        "quantize_seconds": time.perf_counter() - calibrated,
    }


def _quantize_static(
    pre: Path,
    quantized: Path,
    reader: CalibrationDataReader | None,
    cache: Path | None,
    options: dict[str, Any],
    extra: dict[str, Any],
) -> None:
    """ONNX Runtime's ``quantize_static`` with the options of :func:`quantize_onnx`."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    quantize_static(
        str(pre),
        str(quantized),
        reader,
        quant_format=QuantFormat.QDQ,
        per_channel=options["per_channel"],
        reduce_range=options["reduce_range"],
        activation_type=getattr(QuantType, options["activation_type"]),
        weight_type=QuantType.QInt8,
        nodes_to_exclude=options["nodes_to_exclude"] or None,
        calibrate_method=getattr(CalibrationMethod, options["calibrate_method"]),
        extra_options=extra,
        **({"calibration_cache_path": cache} if cache is not None else {}),
    )


def _reads_calibration_cache() -> bool:
    """Whether this ONNX Runtime's ``quantize_static`` takes precomputed ranges (a
    calibration cache, onnxruntime 1.32); older ones calibrate themselves."""
    import inspect

    from onnxruntime.quantization import quantize_static

    return "calibration_cache_path" in inspect.signature(quantize_static).parameters


def copy_metadata(
    source: onnx.ModelProto, target: onnx.ModelProto, *, extra: dict[str, Any] | None = None
) -> None:
    """Give ``target`` the ``segcompress.*`` metadata of ``source`` plus ``extra`` entries."""
    props = {p.key: p.value for p in source.metadata_props}
    props.update({p.key: p.value for p in target.metadata_props})
    for key, value in (extra or {}).items():
        props[METADATA_PREFIX + key] = value if isinstance(value, str) else json.dumps(value)
    del target.metadata_props[:]
    for key, value in props.items():
        entry = target.metadata_props.add()
        entry.key, entry.value = key, value


def _pre_process(source: Path, target: Path) -> bool:
    """ONNX Runtime's pre-processing; return whether symbolic shape inference succeeded.

    Graphs whose padding depends on the input size (the UNet pads odd sizes) defeat
    symbolic shape inference; ONNX's own shape inference and the optimiser still run.
    """
    from onnxruntime.quantization.shape_inference import quant_pre_process

    source, target = source.resolve(), target.resolve()
    # When symbolic inference fails, ONNX Runtime dumps sym_shape_infer_temp.onnx and a
    # <uuid>.data file into the *current directory*; run it where that litter is discarded.
    with tempfile.TemporaryDirectory(prefix="segcompress-preprocess-") as scratch:
        previous = os.getcwd()
        os.chdir(scratch)
        try:
            quant_pre_process(str(source), str(target))
            return True
        except Exception as error:  # "Incomplete symbolic shape inference"
            if "symbolic shape" not in str(error).lower():
                raise
        finally:
            os.chdir(previous)
    quant_pre_process(str(source), str(target), skip_symbolic_shape=True)
    return False


def _stride(count: int) -> int:
    for stride in range(min(count, HISTOGRAM_STRIDE), 0, -1):
        if count % stride == 0:
            return stride
    return 1
