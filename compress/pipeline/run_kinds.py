"""The kinds of run folder a :class:`~compress.pipeline.spec.VariantSpec` is run into.

``compress prune``, ``compress factorize`` and ``compress quantize`` build a VariantSpec
from their options and run it with :func:`run_as`; ``compress run runs/x/spec.yaml``
reruns any such folder the same way. A kind is only a label for humans (``spec.yaml``
and ``result.json`` name it), the file its PyTorch model is saved to and how its
default folder is named; what runs is always the spec. The doors' defaults are the step
specs' field defaults (:func:`field_default`), so a flag, a keyword argument and a
recipe field left out mean the same value.

Importing this module stays cheap (pydantic only): the CLI reads defaults from it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compress.core.runs import LOCK_FILE, spec_digest
from compress.core.specs import Spec
from compress.pipeline.spec import VariantSpec
from compress.pipeline.techniques import technique

if TYPE_CHECKING:
    from compress.pipeline.variant import VariantOutcome

RUNS = Path("runs")  # where a run goes when no folder is given


def field_default(spec: type[Spec], name: str) -> Any:
    """The default of field ``name`` of ``spec`` (a step spec, BenchSettings, ...): the
    one table the CLI options and the Python API's keyword defaults read."""
    return spec.model_fields[name].get_default(call_default_factory=True)


def defaults_of(spec: type[Spec]) -> dict[str, Any]:
    """Every field of ``spec`` that has a default, with its default (see :func:`field_default`)."""
    return {
        name: field_default(spec, name)
        for name, field in spec.model_fields.items()
        if not field.is_required()
    }


def _model(spec: VariantSpec) -> str:
    return (spec.baseline.model or "model").replace("/", "-")


def _source(spec: VariantSpec) -> str:
    """The folder of the baseline's checkpoint, or the ONNX file's stem."""
    ref = spec.baseline
    if ref.checkpoint is not None:
        return Path(ref.checkpoint).parent.name or "model"
    return Path(ref.onnx).stem if ref.onnx is not None else _model(spec)


@dataclass(frozen=True)
class RunKind:
    """One kind of run folder.

    - ``checkpoint_file``: where the variant's PyTorch model is saved (a quantized
      variant ends in ONNX files instead).
    - ``folder``: the default folder's name before its digest (from the resolved spec).
    - ``baseline_is_source``: the baseline measured beside the variant is named after
      its checkpoint's folder (or ONNX file's folder) even when that holds no training run.
    """

    checkpoint_file: str
    folder: Callable[[VariantSpec], str]
    baseline_is_source: bool = False


def _saved_as(kind: str) -> str:
    """The checkpoint a one-step run of technique ``kind`` writes (its registration says)."""
    return technique(kind).checkpoint_file or "model.pt"


RUN_KINDS: dict[str, RunKind] = {
    "prune": RunKind(
        _saved_as("prune"), lambda spec: f"prune-{_model(spec)}-{spec.steps[0].importance}"
    ),
    "factorize": RunKind(
        _saved_as("factorize"), lambda spec: f"factorize-{_model(spec)}-{spec.steps[0].method}"
    ),
    "quantize": RunKind(
        "model.pt",
        lambda spec: f"{_source(spec)}-{spec.steps[-1].method}-int8",
        baseline_is_source=True,
    ),
    "variant": RunKind("model.pt", lambda spec: f"variant-{spec.name or _model(spec)}"),
}


def run_kind(kind: str) -> RunKind:
    """The table entry of ``kind`` (KeyError names the kinds there are)."""
    try:
        return RUN_KINDS[kind]
    except KeyError:
        raise KeyError(f"unknown run kind {kind!r}; kinds: {', '.join(RUN_KINDS)}") from None


def default_out(spec: VariantSpec, kind: str) -> Path:
    """``runs/<kind's name>-<digest8>``: one folder per resolved spec, keyed by its digest."""
    digest = spec_digest(spec.model_dump(mode="json"))[:8]
    return RUNS / f"{run_kind(kind).folder(spec)}-{digest}"


def run_as(
    spec: VariantSpec, out: str | Path | None = None, *, kind: str, progress: bool = True
) -> VariantOutcome:
    """Run ``spec`` into a ``kind`` run folder (default :func:`default_out`).

    A finished identical run is reused; a folder holding another spec is refused. A first
    attempt that fails before leaving work to resume (a fine-tune's folder) removes the
    files it wrote, so a corrected spec may use the same folder.
    """
    from compress.pipeline.baseline import open_baseline
    from compress.pipeline.variant import run_variant

    entry = run_kind(kind)
    base, resolved = open_baseline(spec)
    if entry.baseline_is_source:
        source = resolved.baseline.checkpoint or resolved.baseline.onnx
        base.name = (Path(source).parent.name or None) if source else None
    target = Path(out) if out is not None else default_out(resolved, kind)
    existed = target.exists()
    try:
        return run_variant(
            resolved,
            target,
            opened=(base, resolved),
            kind=kind,
            checkpoint_file=entry.checkpoint_file,
            progress=progress,
        )
    except BaseException:
        if not existed:
            discard_failed(target)
        raise


def discard_failed(run_dir: Path) -> None:
    """Remove the files of a failed first attempt unless it left work to resume (a
    sub-folder: a fine-tune's checkpoints); the claim itself is the caller's to release."""
    if not run_dir.is_dir() or any(entry.is_dir() for entry in run_dir.iterdir()):
        return
    for entry in run_dir.iterdir():
        if entry.name != LOCK_FILE:
            entry.unlink(missing_ok=True)
