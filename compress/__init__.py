"""segcompress: train segmentation baselines, then make them smaller and faster.

Importing this package is cheap: heavy dependencies (torch, onnxruntime, ...) are
imported by the submodules that need them, so the CLI starts fast.
"""

from compress.errors import CompressError

__all__ = ["CompressError"]
__version__ = "0.1.0"
