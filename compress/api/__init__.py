"""The short Python API: compress any ``nn.Module`` and measure what it gained.

    import compress
    model = compress.build("lraspp-mobilenetv3-large", num_classes=11)  # or your own
    compress.prune(model, torch.randn(1, 3, 360, 480), ratio=0.5)
    path = compress.quantize(model, calibration_images, "model.int8.onnx")
    print(compress.benchmark(path, input_size=(360, 480), baseline=original).speedup)

Every function works on a plain module; :func:`build`, :func:`prune` and
:func:`factorize` record what :func:`save` needs to write a checkpoint that :func:`load`
rebuilds without pickle. docs/own-model.md walks through it.
"""

from compress.api.benchmark import Benchmark, benchmark
from compress.api.build import build
from compress.api.evaluate import evaluate
from compress.api.factorize import factorize
from compress.api.files import load, save
from compress.api.prune import prune
from compress.api.quantize import quantize

__all__ = [
    "Benchmark",
    "benchmark",
    "build",
    "evaluate",
    "factorize",
    "load",
    "prune",
    "quantize",
    "save",
]
