"""Reading an ONNX file safely: checked on load, project metadata decoded.

The ONNX counterpart of :mod:`compress.core.checkpoint`: a missing or corrupt file is a
one-line :class:`CompressError` naming it. The project's own metadata lives in the
model's ``metadata_props`` under the ``segcompress.`` prefix, JSON-encoded.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from compress.core.errors import CompressError
from compress.core.paths import require_file

if TYPE_CHECKING:
    import onnx

METADATA_PREFIX = "segcompress."


def load_onnx(path: str | os.PathLike[str]) -> onnx.ModelProto:
    """Read and check an ONNX file; CompressError naming it if absent or corrupt."""
    import onnx

    path = require_file(path, "ONNX file", "an .onnx file")
    try:
        proto = onnx.load(str(path))
        onnx.checker.check_model(proto)
    except Exception as error:  # DecodeError, ValidationError, ...
        reason = str(error).strip().splitlines()[0][:160] if str(error).strip() else ""
        raise CompressError(
            f"ONNX file {path} is not a valid ONNX model ({reason or type(error).__name__})"
        ) from None
    return proto


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``segcompress.*`` metadata of an ONNX file, JSON values decoded."""
    return decode_metadata({p.key: p.value for p in load_onnx(path).metadata_props})


def decode_metadata(props: dict[str, str]) -> dict[str, Any]:
    """``{"segcompress.num_classes": "5"}`` -> ``{"num_classes": 5}`` (others dropped)."""
    decoded: dict[str, Any] = {}
    for key, value in props.items():
        if key.startswith(METADATA_PREFIX):
            try:
                decoded[key[len(METADATA_PREFIX) :]] = json.loads(value)
            except ValueError:
                decoded[key[len(METADATA_PREFIX) :]] = value
    return decoded


def check_image_input(proto: onnx.ModelProto, path: str | os.PathLike[str]) -> None:
    """CompressError unless the graph takes exactly one float N x 3 x H x W image."""
    import onnx

    initializers = {init.name for init in proto.graph.initializer}
    inputs = [i for i in proto.graph.input if i.name not in initializers]
    if len(inputs) != 1:
        raise CompressError(f"ONNX file {path} has {len(inputs)} inputs; expected one image")
    tensor = inputs[0].type.tensor_type
    dims = [d.dim_value if d.HasField("dim_value") else d.dim_param for d in tensor.shape.dim]
    kind = onnx.TensorProto.DataType.Name(tensor.elem_type).lower()
    channels = dims[1] if len(dims) == 4 else None
    if len(dims) != 4 or (isinstance(channels, int) and channels != 3) or "float" not in kind:
        raise CompressError(
            f"ONNX file {path}: input {inputs[0].name!r} is {kind} {dims}; expected a float "
            "N x 3 x H x W image (as `compress export` writes)"
        )


def onnx_metadata(
    spec: Any, structure: list[dict[str, Any]], dataset: dict[str, Any] | None
) -> dict[str, Any]:
    """The metadata an exported ONNX file carries: model spec (a ``ModelSpec``), structure,
    data set and the segcompress version, so that the file describes itself."""
    from compress.core.version import __version__

    return {
        "model": spec.model_dump(mode="json"),
        "num_classes": spec.num_classes,
        "class_names": (dataset or {}).get("class_names"),
        "structure": structure,
        "dataset": dataset,
        "version": __version__,
    }
