"""A torchvision-style model registry: ``register_model``, ``get_model``, ``list_models``.

Builders are keyword-only functions ``builder(*, num_classes, **options) -> nn.Module``.
Names are unique; aliases (``vgg`` for ``deeplab-vgg11-aspp``) resolve to one
canonical name, which is what checkpoints record. Three kinds of names resolve:

- the models this package ships and those of installed plugins (the table in
  :mod:`baselines.catalog`; builders are imported on first use, so listing is cheap);
- builders registered in this process with :func:`register_model`;
- any importable builder named ``"package.module:builder"`` (a user's own model).

A checkpoint records its model's name, so a checkpoint of a user model names code to
import. :func:`is_named` says whether the user named that builder in this process
(``--model``, :func:`name_builder`, ``$SEGCOMPRESS_MODELS`` or by building it): loading
a checkpoint imports nothing else.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from typing import Any, TypeVar

from baselines.catalog import BUILTIN_MODELS, ModelEntry, is_builder_target, plugin_entries
from baselines.errors import BaselineError

Builder = TypeVar("Builder", bound=Callable[..., Any])

NAMED_MODELS_VARIABLE = "SEGCOMPRESS_MODELS"  # comma-separated "package.module:builder"s

_BUILDERS: dict[str, Callable[..., Any]] = {}  # loaded or registered in this process
_ALIASES: dict[str, str] = {}
_ENTRIES: dict[str, ModelEntry] = {}  # the catalogue (filled on first use)
_NAMED: set[str] = set()  # user builder targets named in this process


def register_model(name: str, *, aliases: tuple[str, ...] = ()) -> Callable[[Builder], Builder]:
    """Decorator that registers a model builder under ``name`` (and ``aliases``).

    Raises:
        ValueError: if ``name`` or an alias is already taken (a programming error).
    """

    def decorator(builder: Builder) -> Builder:
        _load_catalog()
        for key in (name, *aliases):
            if key in _BUILDERS or key in _ENTRIES or key in _ALIASES:
                raise ValueError(f"model name {key!r} is already registered")
        _BUILDERS[name] = builder
        for alias in aliases:
            _ALIASES[alias] = name
        return builder

    return decorator


def name_builder(target: str) -> str:
    """Allow the user builder ``"package.module:builder"`` in this process (nothing is
    imported yet); checkpoints that name it then load. Returns ``target``."""
    if not is_builder_target(target):
        raise BaselineError(f"model builder {target!r} is not of the form 'package.module:builder'")
    _NAMED.add(target)
    return target


def is_named(name: str) -> bool:
    """Whether building ``name`` imports only code the user chose: always for registered
    models, for a ``module:builder`` target only once it was named in this process."""
    if not is_builder_target(name) or name in _BUILDERS:
        return True
    _named_by_environment()
    return name in _NAMED


def canonical_name(name: str) -> str:
    """Resolve an alias to its registered name; raise a BaselineError if unknown.

    A ``package.module:builder`` target is its own canonical name (checked for form only).
    """
    _load_catalog()
    if name in _BUILDERS or name in _ENTRIES:
        return name
    if name in _ALIASES:
        return _ALIASES[name]
    if isinstance(name, str) and is_builder_target(name):
        return name
    valid = ", ".join(list_models(include_aliases=True))
    raise BaselineError(f"unknown model {name!r}; valid models: {valid}, or package.module:builder")


def get_builder(name: str) -> Callable[..., Any]:
    """The builder function for ``name`` (alias, canonical or ``module:builder``)."""
    canonical = canonical_name(name)
    if canonical not in _BUILDERS:
        entry = _ENTRIES.get(canonical)
        if entry is not None:
            builder = entry.load()
        else:
            from baselines.catalog import load_target

            builder = load_target(canonical, what=f"model builder {canonical!r}")
            _NAMED.add(canonical)  # built in this process: its checkpoints load too
        _BUILDERS[canonical] = builder
    return _BUILDERS[canonical]


def model_options(name: str) -> dict[str, Any]:
    """The keyword options a model accepts, with their defaults (``num_classes`` excluded)."""
    signature = inspect.signature(get_builder(name))
    return {
        key: (None if p.default is inspect.Parameter.empty else p.default)
        for key, p in signature.parameters.items()
        if key != "num_classes" and p.kind is inspect.Parameter.KEYWORD_ONLY
    }


def get_model(name: str, *, num_classes: int, **options: Any) -> Any:
    """Build the model registered as ``name`` with ``num_classes`` outputs.

    Unknown names and unknown or invalid options raise :class:`BaselineError`
    naming what would be valid. A builder with ``**kwargs`` accepts any option.
    """
    builder = get_builder(name)
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
        raise BaselineError(f"num_classes must be a positive integer, got {num_classes!r}")
    parameters = inspect.signature(builder).parameters.values()
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        accepted = model_options(name)
        unknown = sorted(set(options) - set(accepted))
        if unknown:
            raise BaselineError(
                f"model {canonical_name(name)!r} has no option(s) {', '.join(unknown)}; "
                f"valid options: {', '.join(sorted(accepted)) or 'none'}"
            )
    return builder(num_classes=num_classes, **options)


def list_models(*, include_aliases: bool = False) -> list[str]:
    """Registered model names, sorted; with ``include_aliases`` the aliases too."""
    _load_catalog()
    names = set(_BUILDERS) | set(_ENTRIES)
    names = {name for name in names if not is_builder_target(name)}
    if include_aliases:
        names |= set(_ALIASES)
    return sorted(names)


def model_entry(name: str) -> ModelEntry:
    """The catalogue entry of ``name`` (one is made up for in-process registrations)."""
    canonical = canonical_name(name)
    if canonical in _ENTRIES:
        return _ENTRIES[canonical]
    builder = _BUILDERS.get(canonical)
    summary = (inspect.getdoc(builder) or "").split("\n")[0] if builder else canonical
    return ModelEntry(
        canonical,
        canonical,
        summary,
        "registered in this process",
        aliases=tuple(aliases_of(canonical)),
    )


def aliases_of(name: str) -> list[str]:
    """The aliases that resolve to the canonical ``name``."""
    _load_catalog()
    return sorted(alias for alias, target in _ALIASES.items() if target == name)


def _load_catalog() -> None:
    # The shipped table and the plugins' entry points, read once; no builder is imported.
    if _ENTRIES:
        return
    for entry in (*BUILTIN_MODELS, *plugin_entries()):
        if entry.name in _ENTRIES or entry.name in _ALIASES:
            continue  # a plugin cannot replace a shipped model
        _ENTRIES[entry.name] = entry
        for alias in entry.aliases:
            _ALIASES.setdefault(alias, entry.name)


def _named_by_environment() -> None:
    for target in os.environ.get(NAMED_MODELS_VARIABLE, "").split(","):
        if target.strip():
            name_builder(target.strip())
