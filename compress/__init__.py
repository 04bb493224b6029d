"""segcompress: train segmentation baselines, then make them smaller and faster.

The Python API (``compress.build``, ``prune``, ``factorize``, ``quantize``,
``benchmark``, ``evaluate``, ``save``, ``load``; see :mod:`compress.api`) is loaded on
first use: importing this package is cheap, heavy dependencies (torch, onnxruntime, ...)
are imported by the submodules that need them, so the CLI starts fast.
"""

from __future__ import annotations

from typing import Any

from compress.core.errors import CompressError
from compress.core.version import __version__
from compress.pipeline import techniques as _techniques  # noqa: F401  (step kinds register)

API = (
    "Benchmark",
    "benchmark",
    "build",
    "evaluate",
    "factorize",
    "load",
    "prune",
    "quantize",
    "save",
)

__all__ = ["CompressError", "__version__", *API]


def __getattr__(name: str) -> Any:
    if name in API:
        from compress import api

        return getattr(api, name)
    raise AttributeError(f"module 'compress' has no attribute {name!r}")
