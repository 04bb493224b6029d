"""The registry of step kinds: one file per technique in this package, one decorator each.

A technique file holds its step spec, its details model and its apply function (or
:class:`~compress.pipeline.context.StepLifecycle` class), registered with
:func:`register_technique` (as torchao's ``register_quantize_module_handler(ConfigType)``
registers a handler by its config type)::

    @register_technique(FuseStep, summary="fold BatchNorm into convolutions",
                        details=FuseDetails, label_fields=("method",))
    def apply_fuse(model, step, context) -> StepOutcome: ...

Everything else is derived from the registry: the ``Step`` union and the YAML step tags
(:mod:`compress.pipeline.steps`), the details types and step labels (registered into
:mod:`compress.core.step_details`), the structure replayers (into
:mod:`compress.core.checkpoint`). Every module of this package is imported when the
package is (the package ``compress`` imports it, so a fresh process reloads any variant):
a technique file must therefore import no torch at module level (recipes and CLI options
validate before torch loads); its apply function imports what it needs.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from compress.core.checkpoint import Replayer, register_structure_replayer
from compress.core.specs import Spec
from compress.core.step_details import LabelFields, register_step_kind
from compress.pipeline.context import StepLifecycle, lifecycle_of

Target = TypeVar("Target", bound=Callable[..., Any])


@dataclass(frozen=True)
class Technique:
    """One step kind, as registered.

    - ``needs_data(step)``: the step reads the data set (training, gradients, calibration).
    - ``final``: the step produces a deployable file (ONNX) and must come last.
    - ``trains``: the step is a training run; a step applied in several rounds just
      before it (``rounds(step) > 1``, e.g. iterative pruning) runs it after every round.
    - ``rounds(step)``: how many rounds the step is applied in (1 for most).
    - ``checkpoint_file``: the checkpoint a one-step run of it writes (``pruned.pt``).
    """

    kind: str
    spec: type[Spec]
    lifecycle: type[StepLifecycle]
    summary: str
    details: type[Spec]
    needs_data: Callable[[Any], bool]
    rounds: Callable[[Any], int]
    final: bool = False
    trains: bool = False
    label_fields: LabelFields = ()
    replay: Replayer | None = None
    checkpoint_file: str | None = None


TECHNIQUES: dict[type[Spec], Technique] = {}


def register_technique(
    spec: type[Spec],
    *,
    summary: str,
    details: type[Spec],
    needs_data: bool | Callable[[Any], bool] = False,
    final: bool = False,
    trains: bool = False,
    rounds: Callable[[Any], int] | None = None,
    label_fields: LabelFields = (),
    replay: Replayer | None = None,
    checkpoint_file: str | None = None,
) -> Callable[[Target], Target]:
    """Register the decorated apply function (or lifecycle class) for steps of type ``spec``.

    ``spec`` has a ``kind`` literal, which names the step in recipes, results and labels;
    ``replay(model, record) -> model`` rebuilds the shapes of the structure record the
    step writes (for a step that changes them) when a checkpoint is loaded.
    """
    kind = spec.model_fields["kind"].default
    if not isinstance(kind, str):
        raise TypeError(f"{spec.__name__} needs a kind literal with a default, e.g. 'fuse'")

    def register(target: Target) -> Target:
        TECHNIQUES[spec] = Technique(
            kind=kind,
            spec=spec,
            lifecycle=lifecycle_of(target),
            summary=summary,
            details=details,
            needs_data=needs_data if callable(needs_data) else (lambda step: needs_data),
            rounds=rounds or (lambda step: 1),
            final=final,
            trains=trains,
            label_fields=label_fields,
            replay=replay,
            checkpoint_file=checkpoint_file,
        )
        register_step_kind(kind, details=details, label_fields=label_fields)
        if replay is not None:
            register_structure_replayer(kind, replay)
        return target

    return register


def technique(kind: str) -> Technique:
    """The registered technique of step kind ``kind`` (KeyError names the kinds there are)."""
    for entry in TECHNIQUES.values():
        if entry.kind == kind:
            return entry
    raise KeyError(f"unknown step kind {kind!r}; kinds: {', '.join(kinds())}")


def kinds() -> list[str]:
    """The registered step kinds, in registration order."""
    return [entry.kind for entry in TECHNIQUES.values()]


def _load_builtin() -> None:
    """Import every technique file of this package (each registers itself)."""
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")


_load_builtin()
