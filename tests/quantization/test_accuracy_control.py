"""Accuracy control: a ruined layer ranks first, the loop stops when the drop holds, and an
unreachable drop reverts up to the cap and says so."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
import torch
from torch import nn

from compress.data import SegmentationFolder
from compress.deploy.export import export_onnx
from compress.measure.runtimes import OrtRunner
from compress.quantization.accuracy_control import (
    MIN_SPEEDUP,
    ControlData,
    Timing,
    control_accuracy,
    control_data,
    rank_layers,
)
from compress.quantization.calibration import ImageCalibrationReader
from compress.quantization.float_nodes import FloatNodes
from compress.quantization.ptq import quantize_onnx

TIMING = Timing(input_size=(64, 64), runs=2, warmup=1, threads=1)
DEAD = 0  # the input channel of the ruined convs that is always zero
OUTLIER = 1e4  # a weight on the dead channel: no effect in float, ruins int8 scales


class Tiny(nn.Module):
    """Four 3x3 convs and a 1x1 head; SE-like gate (HardSigmoid, Mul) after the second."""

    def __init__(self, classes: int = 8) -> None:
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(3, 16, 3, padding=1), nn.Conv2d(16, 16, 3, padding=1)
        self.c3, self.c4 = nn.Conv2d(16, 16, 3, padding=1), nn.Conv2d(16, 16, 3, padding=1)
        self.head = nn.Conv2d(16, classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.c1(x))
        x = torch.relu(self.c2(x))
        x = x * nn.functional.hardsigmoid(x.mean(dim=(2, 3), keepdim=True))
        x = torch.relu(self.c3(x))
        return self.head(torch.relu(self.c4(x)))


def ruin(model: Tiny, names: list[str]) -> Tiny:
    """Make channel DEAD of ``c1``/``c2``'s output always zero and give each named conv
    a huge weight on it: the float model is unchanged, int8 rounds the rest to zero."""
    with torch.no_grad():
        for source in (model.c1, model.c2, model.c3):
            source.weight[DEAD] = 0
            source.bias[DEAD] = -1  # relu(-1) = 0: the channel is dead after every conv
        for name in names:
            getattr(model, name).weight[:, DEAD] = OUTLIER
    return model


@pytest.fixture(scope="module")
def trained_tiny(tiny_data: Path) -> Tiny:
    """A few Adam steps on the train split, so that int8 has decisions to lose."""
    torch.manual_seed(0)
    model, train = Tiny(), SegmentationFolder(tiny_data, "train")
    images = torch.stack([train[i][0] for i in range(len(train))])
    masks = torch.stack([train[i][1] for i in range(len(train))])
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(60):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(images), masks).backward()
        optimizer.step()
    return model.eval()


def quantized(model: nn.Module, data: Path, folder: Path) -> tuple[Path, Path]:
    fp32 = export_onnx(model.eval(), folder / "m.onnx", input_size=(64, 64))
    reader = ImageCalibrationReader(SegmentationFolder(data, "train"), 4)
    int8 = quantize_onnx(fp32, folder / "m.int8.onnx", reader, reduce_range=False).path
    return fp32, int8


def node_of(path: Path, module: str) -> str:
    return next(n.name for n in onnx.load(str(path)).graph.node if n.name == f"/{module}/Conv")


def test_float_weights_are_restored_and_ranges_reused(
    trained_tiny: Tiny, tiny_data: Path, tmp_path: Path
) -> None:
    """Every Conv kept float: only activations stay quantized, weights are the fp32 ones."""
    fp32, int8 = quantized(ruin(_copy(trained_tiny), ["c3"]), tiny_data, tmp_path)
    graph = FloatNodes.load(fp32, int8)
    convs = graph.quantized(["Conv"])
    assert len(convs) == 5
    proto = graph.with_float(convs)
    weights = {t.name: t for t in proto.graph.initializer}
    c3 = next(n for n in proto.graph.node if n.name == "/c3/Conv")
    restored = onnx.numpy_helper.to_array(weights[c3.input[1]])
    assert restored.max() == pytest.approx(OUTLIER), "the float weight, outlier included"
    assert not any(
        n.op_type in ("QuantizeLinear", "DequantizeLinear") and n.output[0] in c3.input
        for n in proto.graph.node
    )
    path = tmp_path / "float.onnx"
    onnx.save(proto, str(path))
    x = SegmentationFolder(tiny_data, "val")[0][0][None]
    a, b = OrtRunner(fp32, threads=1)(x), OrtRunner(path, threads=1)(x)
    assert (a.argmax(1) == b.argmax(1)).float().mean() > 0.9


def test_ranking_picks_the_ruined_layer(
    trained_tiny: Tiny, tiny_data: Path, tmp_path: Path
) -> None:
    fp32, int8 = quantized(ruin(_copy(trained_tiny), ["c3"]), tiny_data, tmp_path)
    data = control_data(tiny_data, 8)
    ranking = rank_layers(FloatNodes.load(fp32, int8), [], fp32, data, tmp_path, 1)
    assert ranking[0]["node"] == node_of(fp32, "c3")
    assert ranking[0]["gain"] > ranking[1]["gain"]


def test_the_loop_stops_when_the_drop_holds(
    trained_tiny: Tiny, tiny_data: Path, tmp_path: Path
) -> None:
    fp32, int8 = quantized(ruin(_copy(trained_tiny), ["c3"]), tiny_data, tmp_path)
    before = int8.read_bytes()
    report = _control(fp32, int8, tiny_data, max_drop=1.0, max_reverted=4)
    assert report["drop_before"] > 5, "the ruined layer costs many points"
    assert report["held"] and not report["cap_hit"]
    assert report["reverted_layers"] == [node_of(fp32, "c3")]
    assert report["drop_after"] <= 1.0 and len(report["history"]) == 2
    assert report["split"] == "val" and report["control_images"] == len(report["indices"])
    assert int8.read_bytes() != before, "the int8 file is rewritten with c3 in float"
    assert set(report["latency_ms"]) == {"all-int8", "final"}
    assert "accuracy_control" in {
        p.key.split(".", 1)[1] for p in onnx.load(str(int8)).metadata_props
    }


def test_an_unreachable_drop_reverts_up_to_the_cap_and_says_so(
    trained_tiny: Tiny, tiny_data: Path, tmp_path: Path
) -> None:
    fp32, int8 = quantized(ruin(_copy(trained_tiny), ["c3", "c4"]), tiny_data, tmp_path)
    report = _control(fp32, int8, tiny_data, max_drop=0.0, max_reverted=1)
    assert report["cap_hit"] and not report["held"]
    assert len(report["history"]) == 2 and report["outcome"].startswith("cap hit")
    assert report["drop_after"] > 0
    assert report["tried_layers"][0] in {node_of(fp32, "c3"), node_of(fp32, "c4")}
    assert report["history"][1]["reverted"] == report["tried_layers"][0]
    best = 0 if report["history"][1]["drop_points"] >= report["drop_before"] else 1
    assert report["reverted_layers"] == report["tried_layers"][:best], "the best state is kept"


def test_a_drop_that_holds_at_once_leaves_the_file(
    trained_tiny: Tiny, tiny_data: Path, tmp_path: Path
) -> None:
    fp32, int8 = quantized(trained_tiny, tiny_data, tmp_path)
    before = int8.read_bytes()
    report = _control(fp32, int8, tiny_data, max_drop=100.0, max_reverted=4)
    assert report["held"] and report["reverted_layers"] == [] and report["ranking"] == []
    assert int8.read_bytes() == before and "latency_ms" not in report


def test_float_op_types_are_measured_and_kept_only_when_faster(
    trained_tiny: Tiny, tiny_data: Path, tmp_path: Path
) -> None:
    fp32, int8 = quantized(trained_tiny, tiny_data, tmp_path)
    report = _control(fp32, int8, tiny_data, max_drop=None, float_op_types=["Mul", "Softmax"])
    rows = {row["op_type"]: row for row in report["float_op_types"]}
    assert rows["Mul"]["nodes"] == ["/Mul"] and rows["Softmax"]["nodes"] == []
    assert not rows["Softmax"]["kept"]
    for row in rows.values():
        assert row["latency_ms"] > 0 and row["all_int8_ms"] > 0
        faster = row["latency_ms"] < (1 - MIN_SPEEDUP) * row["all_int8_ms"]
        assert row["kept"] == (bool(row["nodes"]) and faster)
    assert report["float_nodes"] == (["/Mul"] if rows["Mul"]["kept"] else [])


def _control(fp32: Path, int8: Path, data: Path, **options: object) -> dict:
    options.setdefault("max_reverted", 4)
    options.setdefault("float_op_types", [])
    control = control_data(data, 8)
    assert isinstance(control, ControlData) and control.split == "val"
    return control_accuracy(fp32, int8, control, timing=TIMING, **options)  # type: ignore[arg-type]


def _copy(model: Tiny) -> Tiny:
    copy = Tiny()
    copy.load_state_dict(model.state_dict())
    return copy.eval()
