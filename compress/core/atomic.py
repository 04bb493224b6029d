"""Write files so that a crash never leaves a half-written artifact behind.

Every writer goes to a temporary file in the destination's folder and renames it
into place (``os.replace`` is atomic on POSIX when both live on one file system).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from compress.core.errors import OS_FAULTS, CompressError

FULL_DISK_BYTES = 1 << 20  # below this much free space a failed write is a full disk


@contextmanager
def atomic_path(destination: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``destination``; rename it into place on success.

    The temporary file is removed if the body raises, so the destination either
    holds its previous content or the complete new one.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{destination.stem}.", suffix=f".tmp{destination.suffix}", dir=destination.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp creates 0600 files; give the artifact the permissions of a normal file.
        os.chmod(tmp, 0o666 & ~_current_umask())
        os.replace(tmp, destination)
    except OSError as error:
        if error.errno not in OS_FAULTS or _temporary_name(destination.name):
            raise  # a bug, or a nested write: the outer write names the real destination
        # a write deep inside a library (torch.save, onnx.save) names no path: name ours
        reason = error.strerror or os.strerror(error.errno or 0)
        raise CompressError(f"cannot write {destination}: {reason}") from None
    except RuntimeError:
        # torch.save reports a full disk as an opaque "PytorchStreamWriter"/"unexpected pos"
        # RuntimeError: name it when the file system is in fact (nearly) full
        if _temporary_name(destination.name) or (
            shutil.disk_usage(destination.parent).free >= FULL_DISK_BYTES
        ):
            raise
        reason = os.strerror(errno.ENOSPC)
        raise CompressError(f"cannot write {destination}: {reason}") from None
    finally:
        if tmp.exists():
            tmp.unlink()


def is_temporary(path: Path) -> bool:
    """Whether ``path`` is the temporary file of an atomic write (``.NAME.XXXX.tmp.EXT``)."""
    return _temporary_name(path.name) and path.is_file()


def _temporary_name(name: str) -> bool:
    return name.startswith(".") and ".tmp" in name


def remove_temporaries(folder: str | os.PathLike[str]) -> list[Path]:
    """Delete what interrupted atomic writes left in ``folder`` and its sub-folders
    (a kill -9 between writing and renaming); return what was removed."""
    removed = []
    for path in Path(folder).rglob(".*.tmp*"):
        if is_temporary(path):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes(destination: str | os.PathLike[str], data: bytes) -> None:
    """Atomically write ``data`` to ``destination``."""
    with atomic_path(destination) as tmp:
        tmp.write_bytes(data)


def write_text(destination: str | os.PathLike[str], text: str) -> None:
    """Atomically write ``text`` (UTF-8) to ``destination``."""
    write_bytes(destination, text.encode("utf-8"))


def write_json(destination: str | os.PathLike[str], obj: Any, *, indent: int = 2) -> None:
    """Atomically write ``obj`` as pretty JSON (keys in insertion order)."""
    text = json.dumps(obj, indent=indent, default=_json_default, allow_nan=False)  # strict JSON
    write_text(destination, text + "\n")


def write_with(destination: str | os.PathLike[str], writer: Callable[[Path], None]) -> None:
    """Atomically create ``destination`` by calling ``writer(tmp_path)``.

    Use it for libraries that want a path, e.g. ``torch.save`` or ``fig.savefig``;
    the temporary path keeps the destination's extension so format sniffing works.
    """
    with atomic_path(destination) as tmp:
        writer(tmp)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    if hasattr(obj, "item"):  # numpy / torch scalars
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
