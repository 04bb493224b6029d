"""Keep chosen nodes of a QDQ int8 graph in float, reusing the graph's calibrated ranges.

A node of ONNX Runtime's QDQ graph is quantized when its inputs come through
``QuantizeLinear -> DequantizeLinear`` pairs (activations) or ``DequantizeLinear`` of
int8/int32 initializers (weights, biases). :meth:`FloatNodes.with_float` rewires the
named nodes to the float tensors instead: an activation input to the ``QuantizeLinear``'s
own input, a weight or bias to its float value in the pre-processed fp32 graph that was
quantized (same node names), so the weights are the float ones, not their int8 rounding.
Q/DQ pairs left without a consumer are removed. The result is what
``quantize_static(nodes_to_exclude=...)`` would give for the inputs of those nodes, with
the ranges already calibrated, so no image is run again to build it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import onnx

WEIGHTED_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul")
QDQ_OPS = ("QuantizeLinear", "DequantizeLinear")
FLOAT = 1  # onnx.TensorProto.FLOAT
# single-input activations ONNX Runtime's QDQ quantizer folds into a QuantizeLinear's range
ELEMENTWISE = ("Relu", "Clip")


class FloatNodes:
    """An int8 QDQ graph and the float graph it was quantized from."""

    def __init__(self, int8: onnx.ModelProto, source: onnx.ModelProto) -> None:
        self.int8 = int8
        self.source_nodes = {n.name: n for n in source.graph.node if n.name}
        self.source_producers = {o: n for n in source.graph.node for o in n.output}
        self.source_constants = {t.name: t for t in source.graph.initializer}

    @classmethod
    def load(
        cls, fp32_path: str | os.PathLike[str], int8_path: str | os.PathLike[str]
    ) -> FloatNodes:
        """Read ``int8_path`` and pre-process ``fp32_path`` as PTQ did before quantizing."""
        import onnx

        from compress.quantization.ptq import _pre_process

        with tempfile.TemporaryDirectory(prefix="segcompress-float-") as folder:
            pre = Path(folder) / "pre.onnx"
            _pre_process(Path(fp32_path), pre)
            source = onnx.load(str(pre))
        return cls(onnx.load(str(int8_path)), source)

    def quantized(self, op_types: Iterable[str] | None = None) -> list[str]:
        """Names of the nodes (of ``op_types``; default: all but Q/DQ) with a quantized input,
        in graph order."""
        wanted = set(op_types) if op_types is not None else None
        producers = {o: n for n in self.int8.graph.node for o in n.output}
        names = []
        for node in self.int8.graph.node:
            if not node.name or node.op_type in QDQ_OPS:
                continue
            if wanted is not None and node.op_type not in wanted:
                continue
            if any(
                (p := producers.get(i)) is not None and p.op_type == "DequantizeLinear"
                for i in node.input
            ):
                names.append(node.name)
        return names

    def with_float(self, names: Iterable[str]) -> onnx.ModelProto:
        """A copy of the int8 graph where the nodes ``names`` read float inputs."""
        import onnx

        keep = set(names)
        proto = onnx.ModelProto()
        proto.CopyFrom(self.int8)
        graph = proto.graph
        producers = {o: n for n in graph.node for o in n.output}
        constants = {t.name for t in graph.initializer}
        nodes = []
        for node in graph.node:
            if node.name in keep:
                for index, name in enumerate(node.input):
                    dq = producers.get(name)
                    if dq is None or dq.op_type != "DequantizeLinear":
                        continue
                    if dq.input[0] in constants:
                        node.input[index] = self._float_constant(proto, node.name, index, dq)
                        continue
                    q = producers.get(dq.input[0])
                    if q is not None and q.op_type == "QuantizeLinear":
                        restored = self._float_activation(proto, node, index, q.input[0], nodes)
                        node.input[index] = restored or name
            nodes.append(node)
        rebuilt = [onnx.NodeProto() for _ in nodes]
        for target, node in zip(rebuilt, nodes, strict=True):
            target.CopyFrom(node)
        del graph.node[:]
        graph.node.extend(rebuilt)
        _drop_dead(graph)
        return proto

    def _float_activation(
        self,
        proto: onnx.ModelProto,
        node: onnx.NodeProto,
        index: int,
        quantized: str,
        nodes: list[onnx.NodeProto],
    ) -> str | None:
        """The float tensor ``node`` read at ``index`` before quantization; ``quantized``
        is what the ``QuantizeLinear`` reads. ONNX Runtime drops a Relu/Clip before a
        QuantizeLinear (the int8 range clips instead; the producer takes over the name):
        those nodes are put back, copied from the source graph, ahead of ``node``
        (``nodes``: the graph's nodes so far). None where the graphs do not match."""
        graph_producer = next((n for n in nodes if quantized in n.output), None)
        stop = graph_producer.name if graph_producer is not None else None
        chain: list[onnx.NodeProto] = []
        tensor = quantized
        while (producer := self.source_producers.get(tensor)) is not None and producer.name != stop:
            if producer.op_type not in ELEMENTWISE or len(chain) >= 3:
                return None
            chain.insert(0, producer)
            tensor = producer.input[0]
        if (producer is None) != (stop is None):
            return None
        produced = {o for n in nodes for o in n.output}
        present = {t.name for t in proto.graph.initializer}
        current = quantized
        for source in chain:
            restored = source.output[0] + "_float"
            if restored not in produced:
                for name in source.input[1:]:  # Clip's min/max
                    if name and name not in present and name in self.source_constants:
                        proto.graph.initializer.append(self.source_constants[name])
                        present.add(name)
                copy = onnx_node_copy(source)
                copy.name = source.name + "_float"
                copy.input[0] = current
                copy.output[0] = restored
                nodes.append(copy)
                produced.add(restored)
            current = restored
        return current

    def _float_constant(
        self, proto: onnx.ModelProto, node_name: str, index: int, dq: onnx.NodeProto
    ) -> str:
        """The float weight/bias input ``index`` of ``node_name`` in ``proto``: the source
        graph's tensor where it has one, else the int8 tensor dequantized."""
        from onnx import numpy_helper

        graph = proto.graph
        present = {t.name: t for t in graph.initializer}
        original = self.source_nodes.get(node_name)
        if original is not None and index < len(original.input):
            tensor = self.source_constants.get(original.input[index])
            if tensor is not None and tensor.data_type == FLOAT:
                # ONNX Runtime names a weight's DequantizeLinear output as the weight was
                name = original.input[index] + "_float"
                if name not in present:
                    restored = graph.initializer.add()
                    restored.CopyFrom(tensor)
                    restored.name = name
                return name
        name = dq.output[0] + "_float"
        if name not in present:
            values = _dequantize(dq, present)
            graph.initializer.append(numpy_helper.from_array(values, name=name))
        return name


def onnx_node_copy(node: onnx.NodeProto) -> onnx.NodeProto:
    """A detached copy of ``node``."""
    import onnx

    copy = onnx.NodeProto()
    copy.CopyFrom(node)
    return copy


def _dequantize(dq: onnx.NodeProto, constants: dict[str, onnx.TensorProto]) -> np.ndarray:
    """The float32 value of ``DequantizeLinear`` applied to constants."""
    import numpy as np
    from onnx import numpy_helper

    x, scale, *rest = (numpy_helper.to_array(constants[i]) for i in dq.input)
    zero = rest[0] if rest else np.zeros_like(scale)
    axis = next((a.i for a in dq.attribute if a.name == "axis"), 1)
    if scale.ndim == 1 and scale.size > 1:
        shape = [1] * x.ndim
        shape[axis] = scale.size
        scale, zero = scale.reshape(shape), zero.reshape(shape)
    return ((x.astype(np.float64) - zero.astype(np.float64)) * scale).astype(np.float32)


def _drop_dead(graph: onnx.GraphProto) -> None:
    """Remove Q/DQ nodes whose outputs nothing reads, then initializers nothing reads."""
    while True:
        used = {i for n in graph.node for i in n.input} | {o.name for o in graph.output}
        dead = [
            n for n in graph.node if n.op_type in QDQ_OPS and not any(o in used for o in n.output)
        ]
        if not dead:
            break
        for node in dead:
            graph.node.remove(node)
    used = {i for n in graph.node for i in n.input} | {o.name for o in graph.output}
    for tensor in [t for t in graph.initializer if t.name not in used]:
        graph.initializer.remove(tensor)
