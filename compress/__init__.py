"""segcompress: train segmentation baselines, then make them smaller and faster.

Importing this package is cheap: heavy dependencies (torch, onnxruntime, ...) are
imported by the submodules that need them, so the CLI starts fast.
"""

from compress import moved
from compress.core.errors import CompressError

moved.install()  # old module paths (compress.results, ...) keep working for one release

__all__ = ["CompressError"]
__version__ = "0.1.0"
