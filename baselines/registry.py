"""A torchvision-style model registry: ``register_model``, ``get_model``, ``list_models``.

Builders are keyword-only functions ``builder(*, num_classes, **options) -> nn.Module``.
Names are unique; aliases (``vgg`` for ``deeplab-vgg11-aspp``) resolve to one
canonical name, which is what checkpoints record.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from baselines.errors import BaselineError

Builder = TypeVar("Builder", bound=Callable[..., Any])

# Modules that register model builders when imported (loaded on the registry's first use).
MODEL_FAMILIES: tuple[str, ...] = ("baselines.unet", "baselines.deeplab")

_BUILDERS: dict[str, Callable[..., Any]] = {}
_ALIASES: dict[str, str] = {}


def register_model(
    name: str, *, aliases: tuple[str, ...] = ()
) -> Callable[[Builder], Builder]:
    """Decorator that registers a model builder under ``name`` (and ``aliases``).

    Raises:
        ValueError: if ``name`` or an alias is already taken (a programming error).
    """

    def decorator(builder: Builder) -> Builder:
        for key in (name, *aliases):
            if key in _BUILDERS or key in _ALIASES:
                raise ValueError(f"model name {key!r} is already registered")
        _BUILDERS[name] = builder
        for alias in aliases:
            _ALIASES[alias] = name
        return builder

    return decorator


def canonical_name(name: str) -> str:
    """Resolve an alias to its registered name; raise a BaselineError if unknown."""
    _ensure_models_imported()
    if name in _BUILDERS:
        return name
    if name in _ALIASES:
        return _ALIASES[name]
    valid = ", ".join(list_models(include_aliases=True))
    raise BaselineError(f"unknown model {name!r}; valid models: {valid}")


def get_builder(name: str) -> Callable[..., Any]:
    """The builder function registered for ``name`` (alias or canonical)."""
    return _BUILDERS[canonical_name(name)]


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
    naming what would be valid.
    """
    builder = get_builder(name)
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
        raise BaselineError(f"num_classes must be a positive integer, got {num_classes!r}")
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
    _ensure_models_imported()
    names = set(_BUILDERS)
    if include_aliases:
        names |= set(_ALIASES)
    return sorted(names)


def aliases_of(name: str) -> list[str]:
    """The aliases that resolve to the canonical ``name``."""
    _ensure_models_imported()
    return sorted(alias for alias, target in _ALIASES.items() if target == name)


def _ensure_models_imported() -> None:
    # Model families register themselves when their module is imported: done on first
    # use, by name (plugins of this registry, not its dependencies), so that importing
    # the package for its errors or names does not load torch.
    for module in MODEL_FAMILIES:
        importlib.import_module(module)
