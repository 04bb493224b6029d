"""``quantize(spec, out)``: one call from a checkpoint (or ONNX file) to a measured int8 run.

The run folder holds ``spec.yaml``, ``model.onnx`` (fp32, the baseline as it ships),
``model.int8.onnx`` and ``result.json`` (kind ``quantize``): ``size_bytes`` and
``latency_ms["ort-cpu"]`` describe the int8 file, ``metrics`` its mIoU through ONNX
Runtime, and ``extra.fp32`` the fp32 file measured the same way in the same process.
``extra.int8_format`` records the reduce_range decision and its reason.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compress.quantization.spec import QuantizeSpec
from compress.results import RunResult

if TYPE_CHECKING:
    from compress.export import LoadedModel
    from compress.quantization.compare import Comparison

FP32_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
PARITY_IMAGES = 2  # images on which the fp32 export is checked against PyTorch


@dataclass
class QuantizeOutcome:
    """The run folder, its result, and (unless reused) the side-by-side comparison."""

    run_dir: Path
    result: RunResult
    comparison: Comparison | None = None
    reused: bool = False

    @property
    def verdict(self) -> str:
        return str(self.result.extra.get("verdict", ""))


def default_out(spec: QuantizeSpec) -> Path:
    """``runs/<source>-<method>-int8`` when ``--out`` is not given."""
    source = spec.checkpoint.parent.name if spec.checkpoint is not None else None
    stem = source or (spec.onnx.stem if spec.onnx is not None else "model")
    return Path("runs") / f"{stem}-{spec.method}-int8"


def quantize(spec: QuantizeSpec, out: str | os.PathLike[str] | None = None) -> QuantizeOutcome:
    """Quantize as ``spec`` says into run folder ``out``; a finished identical run is reused."""
    import torch

    from compress.export import load_onnx
    from compress.quantization.calibration import calibration_dataset
    from compress.quantization.cpu_features import choose_int8_format
    from compress.results import load_result
    from compress.runs import prepare_run_dir

    calib_set = calibration_dataset(spec.data, spec.calib_split)
    loaded = _load_checkpoint(spec.checkpoint) if spec.checkpoint is not None else None
    if spec.onnx is not None:
        load_onnx(spec.onnx)  # CompressError if absent or corrupt, before any folder exists
    int8_format = choose_int8_format(reduce_range=spec.reduce_range)
    folder = prepare_run_dir(
        out if out is not None else default_out(spec), spec.model_dump(mode="json"),
        kind="quantize",
    )  # fmt: skip
    if folder.finished:
        return QuantizeOutcome(folder.path, load_result(folder.path), reused=True)
    previous = torch.get_num_threads()
    if spec.threads:
        torch.set_num_threads(spec.threads)
    try:
        return _run(spec, folder.path, loaded, calib_set, int8_format)
    except BaseException:
        if not folder.existing:
            _discard(folder.path)  # a corrected spec may then reuse the same --out
        raise
    finally:
        torch.set_num_threads(previous)


def _discard(run_dir: Path) -> None:
    """Remove what a failed first attempt wrote (only our own files), then the empty folder."""
    from compress.runs import SPEC_FILE

    for name in (SPEC_FILE, FP32_FILE, INT8_FILE):
        (run_dir / name).unlink(missing_ok=True)
    if run_dir.is_dir() and not any(run_dir.iterdir()):
        run_dir.rmdir()


def _load_checkpoint(path: Path) -> LoadedModel:
    from compress.export import load_model

    return load_model(model=None, checkpoint=path)


def _run(
    spec: QuantizeSpec, run_dir: Path, loaded: LoadedModel | None, calib_set: Any, fmt: Any
) -> QuantizeOutcome:
    from compress.export import check_parity, export_onnx, read_metadata
    from compress.quantization.calibration import (
        ImageCalibrationReader,
        calibration_images,
    )
    from compress.quantization.compare import compare_onnx
    from compress.results import write_result

    fp32_path, int8_path = run_dir / FP32_FILE, run_dir / INT8_FILE
    calib = ImageCalibrationReader(calib_set, spec.calib_images, size=spec.calib_size)
    parity_images = [
        x for _, x in calibration_images(calib_set, PARITY_IMAGES, size=spec.calib_size)
    ]
    extra: dict[str, Any] = {"int8_format": fmt.to_dict(), "calibration": calib.describe()}
    if loaded is not None:
        metadata = loaded.metadata()
        export_size = tuple(parity_images[0].shape[-2:])
        export_onnx(loaded.model, fp32_path, input_size=export_size, opset=spec.opset,
                    metadata=metadata)  # fmt: skip
        extra["fp32_parity"] = check_parity(
            loaded.model, fp32_path, parity_images, source="calibration images"
        ).agreement
    else:
        assert spec.onnx is not None
        shutil.copyfile(spec.onnx, fp32_path)
        metadata = read_metadata(fp32_path)
    training = None
    if spec.method == "ptq":
        from compress.quantization.ptq import quantize_onnx

        outcome = quantize_onnx(
            fp32_path, int8_path, calib, calibration=spec.calibration,
            per_channel=spec.per_channel, reduce_range=fmt.reduce_range,
            activations=fmt.activation_type,
            keep_fp32=spec.keep_fp32, percentile=spec.percentile,
        )  # fmt: skip
        extra.update(excluded_nodes=outcome.excluded_nodes, ort_options=outcome.options)
    else:
        assert loaded is not None
        training = _qat(spec, loaded, calib_set, int8_path, metadata, parity_images, fmt, extra)
    comparison = compare_onnx(
        fp32_path, int8_path, data=spec.data, split=spec.split,
        num_classes=loaded.spec.num_classes if loaded else None, input_size=spec.input_size,
        runs=spec.runs, warmup=spec.warmup, threads=spec.threads,
        agreement_images=spec.agreement_images, seed=spec.seed,
    )  # fmt: skip
    extra.update(
        fp32={
            "latency_ms": {"ort-cpu": comparison.fp32.latency.model_dump(mode="json")},
            "size_bytes": comparison.fp32.size_bytes,
            "metrics": comparison.fp32.metrics.model_dump(mode="json")
            if comparison.fp32.metrics else None,
        },
        speedup=comparison.speedup, int8_faster=comparison.int8_faster,
        size_ratio=comparison.size_ratio, delta_miou=comparison.delta_miou,
        fp32_int8_agreement=comparison.agreement, verdict=comparison.verdict(),
    )  # fmt: skip
    if spec.gpu:
        from compress.quantization.gpu import gpu_report

        extra["gpu"] = gpu_report(
            loaded.model if loaded else None, fp32_path, int8_path,
            input_size=spec.input_size, runs=spec.runs, warmup=spec.warmup,
        )  # fmt: skip
    result = _result(spec, run_dir, loaded, metadata, comparison, extra, training, fmt)
    write_result(run_dir, result)
    return QuantizeOutcome(run_dir, result, comparison)


def _qat(
    spec: QuantizeSpec, loaded: LoadedModel, calib_set: Any, int8_path: Path,
    metadata: dict[str, Any], parity_images: list[Any], fmt: Any, extra: dict[str, Any],
) -> dict[str, Any]:  # fmt: skip
    import time

    from compress.data import SegmentationFolder
    from compress.export import check_parity
    from compress.quantization.calibration import calibration_images
    from compress.quantization.qat import calibrate_qat, export_qat, prepare_qat, train_qat

    began = time.perf_counter()
    qmodel, fold = prepare_qat(
        loaded.model, parity_images[0], per_channel=spec.per_channel,
        reduce_range=fmt.reduce_range, activations=fmt.activation_type,
    )  # fmt: skip
    seen = calibrate_qat(
        qmodel,
        (x for _, x in calibration_images(calib_set, spec.calib_images, size=spec.calib_size)),
    )
    losses = train_qat(
        qmodel, calib_set.root, epochs=spec.epochs, lr=spec.lr, batch_size=spec.batch_size,
        crop=spec.crop, seed=spec.seed,
    )  # fmt: skip
    export_qat(qmodel, int8_path, input_size=tuple(parity_images[0].shape[-2:]),
               opset=spec.opset, metadata=metadata)  # fmt: skip
    evaluation = SegmentationFolder(spec.data, spec.split)
    images = [evaluation[i][0] for i in range(min(spec.agreement_images, len(evaluation)))]
    parity = check_parity(
        qmodel, int8_path, images + parity_images, min_agreement=spec.qat_min_agreement,
        source=f"{spec.split} and calibration images (fake-quant PyTorch vs ORT int8)",
    )  # fmt: skip
    extra["qat"] = {
        "folded_batchnorms": len(fold.folded), "unfolded_batchnorms": fold.unfolded_batchnorms,
        "calibration_images": seen, "torch_ort_agreement": parity.agreement,
        "min_agreement": spec.qat_min_agreement, "max_abs_diff": parity.max_abs_diff,
    }  # fmt: skip
    return {"epochs": spec.epochs, "losses": losses, "seconds": time.perf_counter() - began,
            "lr": spec.lr, "batch_size": spec.batch_size, "crop": spec.crop}  # fmt: skip


def _result(
    spec: QuantizeSpec, run_dir: Path, loaded: LoadedModel | None, metadata: dict[str, Any],
    comparison: Comparison, extra: dict[str, Any], training: dict[str, Any] | None, fmt: Any,
) -> RunResult:  # fmt: skip
    from compress.environment import environment

    structure = list(loaded.structure if loaded else metadata.get("structure") or [])
    model_name = loaded.spec.name if loaded else (metadata.get("model") or {}).get("name")
    macs = params = None
    if loaded is not None:
        from compress.macs import count_macs_params

        macs, params = count_macs_params(loaded.model, spec.input_size)
    source = spec.checkpoint if spec.checkpoint is not None else spec.onnx
    return RunResult(
        name=spec.name or run_dir.name,
        kind="quantize",
        model=model_name or "onnx",
        steps=[*structure, spec.step(reduce_range=fmt.reduce_range)],
        baseline=source.parent.name if source is not None and source.parent.name else None,
        params=params,
        macs=macs,
        macs_input_size=spec.input_size if macs is not None else None,
        size_bytes=comparison.int8.size_bytes,
        size_artifact="int8-onnx",
        latency_ms={"ort-cpu": comparison.int8.latency},
        metrics=comparison.int8.metrics,
        training=training,
        artifacts={"onnx_fp32": FP32_FILE, "onnx_int8": INT8_FILE},
        env=environment(threads=comparison.int8.latency.threads),
        extra={"source": str(source), **extra},
    )
