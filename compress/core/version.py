"""The toolkit's version (one place; ``compress.__version__`` and ONNX metadata read it)."""

__version__ = "0.1.0"
