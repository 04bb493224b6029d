"""Reading a JSON file the project wrote (``result.json``, ``history.json``), as user input.

A missing, unreadable, malformed or absurdly nested file is one :class:`CompressError`
naming it, never a traceback: these files are copied between machines and edited by hand.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from compress.core.errors import CompressError
from compress.core.paths import require_file


def read_json(path: str | os.PathLike[str], *, default_name: str, what: str) -> tuple[Path, Any]:
    """``(file, parsed document)`` of ``path``, or of ``path/default_name`` for a folder.

    ``what`` says what was expected in the message for a missing file, e.g. ``"a run
    folder with result.json"``.
    """
    path = Path(path)
    if path.is_dir():
        path = path / default_name
    require_file(path, "file", what)
    try:
        return path, json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CompressError(f"{path} is not valid JSON ({error})") from None
    except RecursionError:
        raise CompressError(f"{path} is nested too deeply for a file this project wrote") from None
