"""The dependency graph torch-pruning works on, made safe for segmentation models.

Two things are added to ``tp.DependencyGraph``:

1. **Broadcast gates are decoupled.** DepGraph treats every element-wise op as coupling
   the channels of all its operands. For ``x * alpha`` where ``alpha`` has ONE channel
   broadcast over ``x``'s C channels (the attention gate, upstream issue #510) that
   wrongly ties x's channels to the gate's single output channel: the group that
   prunes the skip features then contains a 1-channel layer and torch-pruning refuses
   to prune it at all (or, forced, would delete the gate map). We cut exactly those
   edges: an operand of a multiply/divide whose channel dimension is 1 while the other
   operand's is larger. Squeeze-excite (``x * scale`` with C == C channels) keeps its
   coupling, which is correct.
2. **Protected layers** are found on the graph: the layers producing the network's
   outputs (the classifier, or both classifiers of LR-ASPP) and the layers producing
   a broadcast gate map. Their output channels are never pruned.

Pruning and replay both build the graph with :func:`build_graph`, so a recorded pruning
history replays on exactly the groups it was recorded on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
import torch_pruning as tp
from torch import nn

if TYPE_CHECKING:
    from torch_pruning.dependency import Node

_BROADCAST_OPS = ("MulBackward", "DivBackward")
_LAYERS = (nn.modules.conv._ConvNd, nn.Linear)


@dataclass
class PruningGraph:
    """A DependencyGraph with broadcasts decoupled, and the layers it must keep whole."""

    graph: tp.DependencyGraph
    output_layers: list[nn.Module] = field(default_factory=list)
    gate_layers: list[nn.Module] = field(default_factory=list)

    @property
    def protected(self) -> list[nn.Module]:
        """Layers whose output channels are never pruned: logits and broadcast gate maps."""
        return _unique(self.output_layers + self.gate_layers)


def forward(model: nn.Module, example_input: torch.Tensor) -> Any:
    """How the graph is traced: one positional tensor (never ``model(*tensor)``)."""
    return model(example_input)


def build_graph(model: nn.Module, example_input: torch.Tensor) -> PruningGraph:
    """Trace ``model`` on ``example_input`` and prepare the graph (see :func:`prepare_graph`)."""
    with torch.enable_grad():
        graph = tp.DependencyGraph().build_dependency(
            model, example_inputs=example_input, forward_fn=forward, verbose=False
        )
    return prepare_graph(graph)


def prepare_graph(graph: tp.DependencyGraph) -> PruningGraph:
    """Find the output layers, then decouple broadcast operands (in that order: a cut
    operand has no consumers left and would otherwise look like an output)."""
    outputs = output_layers(graph)
    gates = decouple_broadcasts(graph)
    return PruningGraph(graph, outputs, gates)


def decouple_broadcasts(graph: tp.DependencyGraph) -> list[nn.Module]:
    """Cut the channel coupling of 1-channel operands broadcast by a multiply or divide.

    Returns the layers that produce those broadcast operands (e.g. an attention gate's
    ``psi`` conv); their single output channel must never be pruned.
    """
    producers: list[nn.Module] = []
    for node in list(graph.module2node.values()):
        for operand in _broadcast_operands(node):
            node.inputs = [n for n in node.inputs if n is not operand]
            operand.outputs = [n for n in operand.outputs if n is not node]
            node.dependencies = [d for d in node.dependencies if d.target is not operand]
            operand.dependencies = [d for d in operand.dependencies if d.target is not node]
            producers.extend(_producing_layers([operand]))
    return _unique(producers)


def _broadcast_operands(node: Node) -> list[Node]:
    """Input nodes of ``node`` whose channel dim is 1 while another operand's is > 1."""
    grad_fn = node.grad_fn
    name = grad_fn.name() if grad_fn is not None and hasattr(grad_fn, "name") else ""
    if not name.startswith(_BROADCAST_OPS):
        return []
    saved = [getattr(grad_fn, "_saved_self", None), getattr(grad_fn, "_saved_other", None)]
    if any(not isinstance(t, torch.Tensor) or t.dim() < 2 for t in saved):
        return []
    channels = [int(t.shape[1]) for t in saved]
    if max(channels) <= 1 or 1 not in channels:
        return []
    operands: list[Node] = []
    for (function, _), count in zip(grad_fn.next_functions, channels, strict=False):
        if count != 1 or function is None:
            continue
        operands.extend(n for n in node.inputs if n.grad_fn is function)
    return operands


def _producing_layers(starts: list[Node]) -> list[nn.Module]:
    """The nearest conv/linear layers upstream of ``starts`` (through BN, activations, ...)."""
    found: list[nn.Module] = []
    stack, seen = list(starts), set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node.module, _LAYERS):
            found.append(node.module)
            continue
        stack.extend(node.inputs)
    return found


def output_layers(graph: tp.DependencyGraph) -> list[nn.Module]:
    """The layers whose output channels ARE the model's outputs (the classifier conv).

    Walks back from every output of the trace (nodes without consumers) to the nearest
    conv/linear layers: the UNet's 1x1 classifier, DeepLab's classifier before its
    upsampling, both classifiers of LR-ASPP (their sum is the output).
    """
    sinks = [node for node in graph.module2node.values() if not node.outputs]
    return _unique(_producing_layers(sinks))


def _unique(modules: list[nn.Module]) -> list[nn.Module]:
    seen: dict[int, nn.Module] = {}
    for module in modules:
        seen.setdefault(id(module), module)
    return list(seen.values())


def layer_names(model: nn.Module, modules: list[nn.Module]) -> list[str]:
    """Names (as in ``model.named_modules()``) of ``modules``, in model order."""
    wanted = {id(m) for m in modules}
    return [name for name, module in model.named_modules() if id(module) in wanted]


def channel_counts(model: nn.Module) -> dict[str, list[int]]:
    """``{layer name: [in, out]}`` for every conv, linear and norm layer, in model order."""
    counts: dict[str, list[int]] = {}
    for name, module in model.named_modules():
        if isinstance(module, nn.modules.conv._ConvNd):
            counts[name] = [int(module.in_channels), int(module.out_channels)]
        elif isinstance(module, nn.Linear):
            counts[name] = [int(module.in_features), int(module.out_features)]
        elif isinstance(module, nn.modules.batchnorm._BatchNorm):
            counts[name] = [int(module.num_features), int(module.num_features)]
    return counts
