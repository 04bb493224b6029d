"""MinMax calibration in one lean ONNX Runtime pass, handed to ONNX Runtime's quantizer.

ONNX Runtime's ``MinMaxCalibrater`` re-loads the model, writes an augmented copy to
disk (a ReduceMin/ReduceMax pair on every tensor its quantizer reads), runs it and
keeps every image's reductions until the end. This module selects the same tensors
(inputs and outputs of the quantizable op types, float, not initializers), adds the
same reductions (a scalar per image and tensor; none on a Relu output, whose range is
its input's clipped at 0, exactly), runs the augmented graph in memory
and keeps only a running min/max per tensor - the ``nanmin``/``nanmax`` over images
that ONNX Runtime computes - with progress per image. The ranges are ONNX Runtime's
own ``TensorsData`` and reach ``quantize_static`` through its calibration cache, so the
quantizer, its rules and its output are unchanged.

Graph optimisation level: ``ORT_ENABLE_EXTENDED`` gives ranges *bit-identical* to
ONNX Runtime's calibrator (which disables all optimisations) on the CamVid models.
``ORT_ENABLE_ALL`` adds NCHWc layouts: on DeepLab-MobileNetV3-ASPP at 360x480 its
convolutions sum in another order, ranges move by up to 1e-5 (relative) and the int8
file changes (98.8% argmax agreement with the exact one on a random input), for about
a tenth less time - not worth numbers that differ from run to run of the same recipe.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, TensorsData

FLOAT_TYPES = (1, 10)  # onnx.TensorProto.FLOAT, FLOAT16: the types ONNX Runtime calibrates


@dataclass
class MinMaxRanges:
    """Running min/max per tensor over the images seen, and how long collecting took."""

    lowest: dict[str, np.ndarray]
    highest: dict[str, np.ndarray]
    images: int
    seconds: float

    def tensors_data(self) -> TensorsData:
        """The ranges as ONNX Runtime's ``TensorsData`` (MinMax): float32 arrays of one
        element, the shape ``MinMaxCalibrater`` gives them."""
        import numpy as np
        from onnxruntime.quantization.calibrate import CalibrationMethod, TensorData, TensorsData

        return TensorsData(
            CalibrationMethod.MinMax,
            {
                name: TensorData(
                    lowest=np.asarray(self.lowest[name], dtype=np.float32).reshape(-1),
                    highest=np.asarray(self.highest[name], dtype=np.float32).reshape(-1),
                )
                for name in self.lowest
            },
        )


def quantized_op_types() -> list[str]:
    """The op types ``quantize_static`` quantizes (and so calibrates) by default."""
    from onnxruntime.quantization.registry import QDQRegistry, QLinearOpsRegistry

    return sorted(set(QLinearOpsRegistry) | set(QDQRegistry))


def tensors_to_calibrate(model: onnx.ModelProto, op_types: Iterable[str]) -> list[str]:
    """Inputs and outputs of ``op_types`` nodes that are float and not initializers,
    in graph order (the selection of ONNX Runtime's ``CalibraterBase``)."""
    infos = _value_infos(model)
    initializers = {init.name for init in model.graph.initializer}
    wanted = set(op_types)
    chosen: dict[str, None] = {}
    for node in model.graph.node:
        if node.op_type not in wanted:
            continue
        for name in (*node.input, *node.output):
            info = infos.get(name)
            if info is None or name in initializers or not info.type.HasField("tensor_type"):
                continue
            if info.type.tensor_type.elem_type in FLOAT_TYPES:
                chosen[name] = None
    return list(chosen)


def augment_with_reductions(model: onnx.ModelProto, tensors: list[str]) -> onnx.ModelProto:
    """A copy of ``model`` whose only outputs are ReduceMin/ReduceMax (a scalar each) of
    ``tensors``, in that order (a reduction keeps its tensor's float type)."""
    import copy

    from onnx import helper

    infos = _value_infos(model)
    augmented = copy.deepcopy(model)
    del augmented.graph.output[:]
    for index, name in enumerate(tensors):
        elem_type = infos[name].type.tensor_type.elem_type
        for op in ("ReduceMin", "ReduceMax"):
            out = f"segcompress_calib_{index}_{op}"
            augmented.graph.node.append(helper.make_node(op, [name], [out], keepdims=0, name=out))
            augmented.graph.output.append(helper.make_tensor_value_info(out, elem_type, []))
    return augmented


def relu_outputs(model: onnx.ModelProto, tensors: list[str]) -> dict[str, str]:
    """``{Relu output: its input}`` for the ``tensors`` whose range follows exactly from
    their input's: Relu is ``max(x, 0)``, monotone and without rounding, so the min and
    max of its output are those of its input clipped at 0 - one reduction pair fewer."""
    calibrated = set(tensors)
    return {
        node.output[0]: node.input[0]
        for node in model.graph.node
        if node.op_type == "Relu" and node.output[0] in calibrated and node.input[0] in calibrated
    }


def _value_infos(model: onnx.ModelProto) -> dict[str, Any]:
    infos = {vi.name: vi for vi in model.graph.value_info}
    infos.update({o.name: o for o in model.graph.output})
    infos.update({i.name: i for i in model.graph.input})
    return infos


def collect_minmax(
    model_path: str | Path,
    reader: CalibrationDataReader,
    *,
    threads: int | None = None,
    progress: Any = None,
    level: str = "ORT_ENABLE_EXTENDED",
) -> MinMaxRanges:
    """Run every calibration item of ``reader`` once through the augmented graph of
    ``model_path``, keeping the running min/max of each calibrated tensor.

    ``progress`` (a :func:`compress.core.progress.task`) advances per image; ``level``
    is the ``GraphOptimizationLevel`` member the session uses (see the module doc).
    """
    import numpy as np
    import onnxruntime as ort
    from onnxruntime.quantization.quant_utils import load_model_with_shape_infer

    began = time.perf_counter()
    model = load_model_with_shape_infer(Path(model_path))
    tensors = tensors_to_calibrate(model, quantized_op_types())
    derived = relu_outputs(model, tensors)
    reduced = [name for name in tensors if name not in derived]
    options = ort.SessionOptions()
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
    options.log_severity_level = 3
    if threads is not None:
        options.intra_op_num_threads = threads
    session = ort.InferenceSession(
        augment_with_reductions(model, reduced).SerializeToString(),
        options,
        providers=["CPUExecutionProvider"],
    )
    lowest: dict[str, np.ndarray] = {}
    highest: dict[str, np.ndarray] = {}
    images = 0
    reader.progress = progress
    while (inputs := reader.get_next()) is not None:
        values = session.run(None, inputs)
        for index, name in enumerate(reduced):
            low, high = values[2 * index], values[2 * index + 1]
            lowest[name] = low if name not in lowest else np.fmin(lowest[name], low)
            highest[name] = high if name not in highest else np.fmax(highest[name], high)
        images += 1
    if images == 0:
        from compress.core.errors import CompressError

        raise CompressError("calibration read no image: the calibration set is empty")
    for output, source in derived.items():  # min/max of max(x, 0) are max(min/max x, 0)
        zero = np.zeros((), dtype=lowest[source].dtype)
        lowest[output] = np.fmax(lowest[source], zero)
        highest[output] = np.fmax(highest[source], zero)
    lowest = {name: lowest[name] for name in tensors}  # ONNX Runtime's order
    return MinMaxRanges(lowest, highest, images, time.perf_counter() - began)


def save_ranges(ranges: MinMaxRanges, path: str | Path) -> Path:
    """Write ``ranges`` as ONNX Runtime's calibration cache (``quantize_static`` reads it)."""
    from onnxruntime.quantization.calibrate import save_tensors_data

    save_tensors_data(ranges.tensors_data(), Path(path))
    return Path(path)
