"""Reading a YAML mapping safely: bounded size, ``yaml.safe_load``, one-line errors.

Every YAML file the project reads (recipes, ``dataset.yaml``, a run's ``spec.yaml``)
goes through :func:`read_yaml_mapping`: a file over ``max_bytes`` is refused before it
is parsed, a ``!!python`` tag never runs code, and a malformed file is one line naming
it and the first problem.
"""

from __future__ import annotations

import os
from typing import Any

from compress.core.errors import CompressError
from compress.core.paths import require_file

MAX_YAML_BYTES = 1 << 20  # a recipe or descriptor is a page of YAML; refuse megabytes


def read_yaml_mapping(
    path: str | os.PathLike[str], *, what: str, max_bytes: int = MAX_YAML_BYTES
) -> dict[str, Any]:
    """The mapping in YAML file ``path``; CompressError naming ``what`` and the file."""
    import yaml

    path = require_file(path, what, "a YAML file")
    size = path.stat().st_size
    if size > max_bytes:
        raise CompressError(
            f"{what} {path} is {size} bytes; at most {max_bytes} bytes are read as YAML"
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError) as error:
        mark = getattr(error, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or type(error).__name__
        raise CompressError(f"{what} {path} is not valid YAML{line} ({problem})") from None
    except OSError as error:
        raise CompressError(f"{what} {path} cannot be read ({error.strerror})") from None
    if not isinstance(data, dict):
        raise CompressError(
            f"{what} {path} holds {type(data).__name__}, expected a mapping of fields"
        )
    return data
