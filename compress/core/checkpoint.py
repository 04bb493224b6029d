"""Checkpoints that load safely (``torch.load(weights_only=True)``) and rebuild any variant.

A checkpoint is a plain dict of tensors and JSON-like values::

    {"format": "segcompress-checkpoint", "format_version": 1,
     "model": {"name": ..., "num_classes": ..., "options": {...}},   # a ModelSpec
     "structure": [{"kind": "prune", ...}, ...],   # steps that changed the architecture
     "state_dict": {...},
     "dataset": {...} | None,                      # class names, ignore_index, palette
     "meta": {...}}                                # epoch, metrics, anything JSON-like

Loading builds the registered model from its spec, replays each ``structure`` step on
it (pruning removes channels, factorization swaps layers, ...) and then loads the
weights strictly. Nothing is unpickled but tensors and plain containers, so a
checkpoint from an untrusted source cannot run code, and a pruned model loads in a
fresh process without the code path that pruned it.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compress.core import atomic
from compress.core.errors import CompressError
from compress.core.specs import ModelSpec, parse_spec

if TYPE_CHECKING:
    from torch import nn

FORMAT = "segcompress-checkpoint"
FORMAT_VERSION = 1

# kind of structure step -> what replays it, fn(model, step) -> model: a function, or a
# "module:function" target imported when a step of that kind is replayed. This layer names
# no technique: each technique registers its own (compress.pipeline.techniques, imported
# with the package, so that a fresh process reloads any variant).
Replayer = Callable[[Any, dict[str, Any]], Any]
STRUCTURE_REPLAYERS: dict[str, Replayer | str] = {}

_CORE_KEYS = frozenset(
    {
        "format",
        "format_version",
        "model",
        "structure",
        "state_dict",
        "tensor_sha256",
        "dataset",
        "meta",
    }
)
_PLAIN = (str, int, float, bool, type(None))


def register_structure_replayer(kind: str, target: Replayer | str) -> None:
    """Declare that structure steps of ``kind`` are replayed by ``target``: a function
    ``fn(model, step) -> model`` or its ``"module:function"`` name."""
    STRUCTURE_REPLAYERS[kind] = target


@dataclass
class Checkpoint:
    """A loaded checkpoint: the rebuilt model plus everything stored beside it."""

    model: nn.Module
    spec: ModelSpec
    structure: list[dict[str, Any]] = field(default_factory=list)
    dataset: dict[str, Any] | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def metadata(self) -> dict[str, Any]:
        """What an ONNX export of this model records about it (see ``export_onnx``)."""
        from compress.core.onnx_files import onnx_metadata

        return onnx_metadata(self.spec, self.structure, self.dataset)


def make_payload(
    model: nn.Module,
    spec: ModelSpec,
    *,
    structure: list[dict[str, Any]] | None = None,
    dataset: dict[str, Any] | None = None,
    meta: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The dict that :func:`save_checkpoint` writes (``extra`` holds e.g. optimizer state).

    Raises:
        ValueError: ``structure``/``dataset``/``meta`` hold values that a safe
            (``weights_only``) load would refuse, or ``extra`` reuses a core key. Both
            would produce a file that saves but can never be loaded as intended.
    """
    _check_plain(structure, "structure", tensors=False)
    _check_plain(dataset, "dataset", tensors=False)
    _check_plain(meta, "meta", tensors=False)
    _check_plain(extra, "extra", tensors=True)
    clash = sorted(set(extra or {}) & _CORE_KEYS)
    if clash:
        raise ValueError(f"extra must not replace the checkpoint's own keys: {clash}")
    payload: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": spec.model_dump(mode="json"),
        "structure": list(structure or []),
        "state_dict": (state := {k: v.detach().cpu() for k, v in model.state_dict().items()}),
        "tensor_sha256": tensors_sha256(state),
        "dataset": dataset,
        "meta": dict(meta or {}),
    }
    if extra:
        payload.update(extra)
    return payload


def save_checkpoint(
    path: str | os.PathLike[str],
    model: nn.Module,
    spec: ModelSpec,
    *,
    structure: list[dict[str, Any]] | None = None,
    dataset: dict[str, Any] | None = None,
    meta: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Atomically write a checkpoint of ``model`` (built from ``spec``) to ``path``."""
    import torch

    payload = make_payload(
        model, spec, structure=structure, dataset=dataset, meta=meta, extra=extra
    )
    atomic.write_with(path, lambda tmp: torch.save(payload, tmp))
    return Path(path)


def read_payload(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint file safely; raise CompressError naming the file if it is unusable."""
    import torch

    path = Path(path)
    if path.is_dir():
        raise CompressError(f"checkpoint {path} is a folder; expected a .pt file")
    if not path.is_file():
        raise CompressError(f"checkpoint {path} does not exist")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # corrupt, truncated, or not a torch file
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(error)).strip()
        reason = text.splitlines()[0] if text else type(error).__name__
        raise CompressError(
            f"checkpoint {path} cannot be read safely ({reason[:160]}); "
            "expected a file written by segcompress"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CompressError(
            f"checkpoint {path} is not a segcompress checkpoint "
            f"(no 'format: {FORMAT}' entry); expected a file written by `compress train`"
        )
    version = payload.get("format_version")
    if version != FORMAT_VERSION:
        raise CompressError(
            f"checkpoint {path} has format_version {version!r}; this segcompress reads "
            f"version {FORMAT_VERSION}"
        )
    stored = payload.get("tensor_sha256")  # absent in checkpoints written before 0.3
    state = payload.get("state_dict")
    if stored is not None and isinstance(state, dict) and tensors_sha256(state) != stored:
        raise CompressError(
            f"checkpoint {path} is corrupted: its weights do not match the checksum stored "
            "when it was written (a damaged copy or disk); use another copy"
        )
    return payload


def tensors_sha256(state: dict[str, Any]) -> str:
    """SHA-256 over every tensor's name, dtype, shape and bytes, in name order."""
    import hashlib

    import torch

    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name]
        if not isinstance(tensor, torch.Tensor):
            continue
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{list(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def build_from_payload(payload: dict[str, Any], *, source: str = "checkpoint") -> Checkpoint:
    """Rebuild the model a payload describes and load its weights strictly."""
    spec = parse_spec(ModelSpec, payload.get("model"), source=f"{source} 'model'")
    _require_named_builder(spec.name, source=source)
    model = spec.build()
    structure = list(payload.get("structure") or [])
    model = replay_structure(model, structure, source=source)
    state_dict = payload.get("state_dict")
    if not isinstance(state_dict, dict):
        raise CompressError(f"{source}: 'state_dict' is {type(state_dict).__name__}, not a dict")
    try:
        model.load_state_dict(state_dict, strict=True)
    except (RuntimeError, KeyError, TypeError) as error:
        first = str(error).strip().splitlines()[0][:200]
        raise CompressError(
            f"{source}: weights do not fit model {spec.name!r} with its stored structure ({first})"
        ) from None
    known = _CORE_KEYS
    return Checkpoint(
        model=model,
        spec=spec,
        structure=structure,
        dataset=payload.get("dataset"),
        meta=dict(payload.get("meta") or {}),
        extra={k: v for k, v in payload.items() if k not in known},
    )


def _require_named_builder(name: str, *, source: str) -> None:
    """Refuse to import a user builder that a file names but the user did not."""
    from baselines.registry import NAMED_MODELS_VARIABLE, is_named

    if not is_named(name):
        raise CompressError(
            f"{source} holds user model {name!r}, whose code is imported only when you name "
            f"it: set {NAMED_MODELS_VARIABLE}={name} (or pass --model {name} where a command "
            f"takes it; in Python baselines.registry.name_builder({name!r}))"
        )


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Load a checkpoint from ``path``: a rebuilt model in eval mode plus its metadata."""
    payload = read_payload(path)
    checkpoint = build_from_payload(payload, source=f"checkpoint {path}")
    checkpoint.model.eval()
    checkpoint.path = Path(path)
    return checkpoint


def require_step_format(step: dict[str, Any], supported: int, *, source: str) -> None:
    """Refuse a structure step written in a format this version cannot replay."""
    if step.get("format") != supported:
        raise CompressError(
            f"{source}: format {step.get('format')!r} is not supported; this segcompress "
            f"replays format {supported}"
        )


def replay_structure(
    model: nn.Module, structure: list[dict[str, Any]], *, source: str = "structure"
) -> nn.Module:
    """Apply recorded structure steps (pruning, factorization, ...) to a fresh ``model``.

    The result has the shapes of the compressed model; its weights are whatever the
    replayers leave and are meant to be overwritten by a state dict.
    """
    for index, step in enumerate(structure):
        model = _replay(model, step, source=f"{source} structure[{index}]")
    return model


def _check_plain(value: Any, where: str, *, tensors: bool) -> None:
    """Refuse values ``torch.load(weights_only=True)`` cannot read back (numpy, objects)."""
    import torch

    if isinstance(value, _PLAIN) and type(value) in _PLAIN:
        return
    if tensors and isinstance(value, torch.Tensor):
        return
    if isinstance(value, dict):
        for key, item in value.items():
            _check_plain(key, f"{where} key", tensors=False)
            _check_plain(item, f"{where}[{key!r}]", tensors=tensors)
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_plain(item, f"{where}[{index}]", tensors=tensors)
        return
    raise ValueError(
        f"checkpoint {where} holds a {type(value).__module__}.{type(value).__name__}, which a "
        "safe load refuses; store plain Python values (convert numpy with .item()/.tolist())"
    )


def _replay(model: nn.Module, step: dict[str, Any], *, source: str) -> nn.Module:
    kind = step.get("kind") if isinstance(step, dict) else None
    target = STRUCTURE_REPLAYERS.get(kind) if isinstance(kind, str) else None
    if target is None:
        known = ", ".join(sorted(STRUCTURE_REPLAYERS)) or "none"
        raise CompressError(f"{source}: unknown structure step kind {kind!r}; known: {known}")
    if isinstance(target, str):
        module_name, function_name = target.split(":")
        target = getattr(importlib.import_module(module_name), function_name)
    return target(model, step)
