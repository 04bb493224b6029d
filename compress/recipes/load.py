"""Reading a recipe file safely: bounded size, ``yaml.safe_load``, every problem at once."""

from __future__ import annotations

import os
from typing import Any

from pydantic import ValidationError

from compress.core.errors import CompressError
from compress.core.yaml_files import read_yaml_mapping

MAX_RECIPE_BYTES = 1 << 20  # a recipe is a page of YAML; refuse megabytes before parsing
MAX_SHOWN = 80  # characters of an offending value echoed in a message


def load_recipe(path: str | os.PathLike[str]) -> Any:
    """Parse and validate ``path`` as a :class:`compress.recipes.schema.Recipe`."""
    from compress.recipes.schema import Recipe

    data = read_yaml(path)
    # Top-level keys starting with "x-" hold YAML anchors for reuse (as in Compose files)
    data = {key: value for key, value in data.items() if not str(key).startswith("x-")}
    try:
        return Recipe.model_validate(data)
    except ValidationError as error:
        raise CompressError(f"{path}: " + "; ".join(problems(error))) from None


def read_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A recipe's YAML mapping (never runs code); CompressError naming the file."""
    return read_yaml_mapping(path, what="recipe", max_bytes=MAX_RECIPE_BYTES)


def problems(error: ValidationError) -> list[str]:
    """Every validation problem as ``path: message (got value)``, paths in YAML terms."""
    found: list[str] = []
    for item in error.errors():
        where = yaml_path(item.get("loc", ()))
        message = str(item.get("msg", "invalid")).removeprefix("Value error, ")
        if not where:  # cross-reference checks (several at once) name their own paths
            found.extend(message.split("; "))
            continue
        value = item.get("input")
        shown = ""
        if value is not None and not isinstance(value, (dict, list)) and item["type"] != "missing":
            text = repr(value)
            shown = f", got {text[:MAX_SHOWN]}{'...' if len(text) > MAX_SHOWN else ''}"
        found.append(f"{where or '(top level)'}: {message}{shown}")
    return found


def yaml_path(loc: tuple[Any, ...]) -> str:
    """``("variants", 2, "steps", 0, "prune", "ratio")`` -> ``variants[2].steps[0].ratio``."""
    from compress.pipeline.techniques import kinds

    step_tags = set(kinds())  # the tags of the step union (one per registered technique)
    text = ""
    previous: Any = None
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif isinstance(previous, int) and part in step_tags:
            pass  # the discriminated union's tag, not a YAML key
        else:
            text += f".{part}" if text else str(part)
        previous = part
    return text
