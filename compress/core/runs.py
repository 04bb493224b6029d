"""Run folders: one folder per run holding ``spec.yaml``, artifacts and ``result.json``.

A run folder belongs to one resolved spec. Re-running the same spec finds the finished
result (or resumes the unfinished run); running a *different* spec into a folder that
already holds one is refused, so a finished result is never overwritten by another
configuration.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from compress.core import atomic
from compress.core.errors import CompressError
from compress.core.results import RESULT_FILE
from compress.core.specs import shorten
from compress.core.yaml_files import read_yaml_mapping

SPEC_FILE = "spec.yaml"


def spec_digest(spec: dict[str, Any]) -> str:
    """A short stable hash of a resolved spec (key order does not matter)."""
    canonical = json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class RunFolder:
    """A prepared run folder and what was found in it."""

    path: Path
    finished: bool  # result.json already exists for this very spec
    existing: bool  # the folder already held this spec (finished or not)


def prepare_run_dir(out: str | os.PathLike[str], spec: dict[str, Any], *, kind: str) -> RunFolder:
    """Create ``out`` for ``spec`` or check that it already belongs to the same spec.

    Raises:
        CompressError: ``out`` is a file, or holds a run of a different spec, or holds
            other files without a spec (never overwrite what we did not write).
    """
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise CompressError(f"--out {path} is a file; expected a run folder")
    document = {"kind": kind, "digest": spec_digest(spec), "spec": spec}
    spec_path = path / SPEC_FILE
    if spec_path.is_file():
        stored = read_yaml_mapping(spec_path, what="run spec")
        if stored.get("kind") != kind or not _same_spec(stored, spec, document["digest"]):
            same_kind = stored.get("kind") == kind
            differ = spec_differences(stored.get("spec"), spec) if same_kind else ""
            raise CompressError(
                f"run folder {path} holds a different {stored.get('kind', 'run')} "
                f"configuration{differ}; choose another --out or delete that folder"
            )
        lock_run_dir(path)
        atomic.remove_temporaries(path)  # left by a write that a kill -9 interrupted
        return RunFolder(path=path, finished=(path / RESULT_FILE).is_file(), existing=True)
    if path.is_dir() and any(
        entry.name != LOCK_FILE and not atomic.is_temporary(entry) for entry in path.iterdir()
    ):  # a lone .lock is what a kill -9 between locking and writing spec.yaml leaves
        raise CompressError(
            f"--out {path} is not empty and holds no {SPEC_FILE}; choose an empty or new folder"
        )
    top = path  # the highest folder this call creates
    while not top.parent.exists() and top.parent != top:
        top = top.parent
    created = not path.exists()
    path.mkdir(parents=True, exist_ok=True)
    lock_run_dir(path)
    if spec_path.is_file():  # another process claimed it between our check and our lock
        return prepare_run_dir(out, spec, kind=kind)
    atomic.write_text(spec_path, yaml.safe_dump(document, sort_keys=False))
    _NEW_CLAIMS.append((path, top if created else None))
    return RunFolder(path=path, finished=False, existing=False)


# Folders claimed in this process: (run folder, highest folder created for it or None).
_NEW_CLAIMS: list[tuple[Path, Path | None]] = []


LOCK_FILE = ".lock"
_LOCKS: dict[Path, int] = {}  # run folder -> open descriptor holding its lock


def lock_run_dir(path: Path) -> None:
    """Hold an exclusive lock on run folder ``path`` for as long as this process runs.

    A second command on the same folder is refused with one line instead of repeating
    the work. The lock is the kernel's (``flock``) on ``.lock``: a process killed with -9
    releases it, so a stale lock file never blocks a resume.
    """
    key = path.resolve()
    if key in _LOCKS:
        return
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no locking
        return
    fd = os.open(path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise CompressError(
            f"run folder {path} is in use by another command (pid {holder}); wait for it to "
            "finish or choose another --out"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    _LOCKS[key] = fd


def unlock_run_dirs() -> None:
    """Release every run-folder lock this process holds."""
    while _LOCKS:
        _, fd = _LOCKS.popitem()
        os.close(fd)


def forget_claims() -> None:
    """Start a new command: earlier commands' folders are theirs to keep (and unlocked)."""
    _NEW_CLAIMS.clear()
    unlock_run_dirs()


def release_unused_claims() -> list[Path]:
    """Undo the claims of run folders that hold nothing but their ``spec.yaml``.

    Called when a command is refused (a user error or an OS fault): a folder it claimed
    before finding the problem is removed again (with the parents it created), so the
    corrected command is not refused as "a different configuration". A folder with any
    other file (a checkpoint, a history: work to resume) is left as it is.
    """
    released = []
    while _NEW_CLAIMS:
        path, top = _NEW_CLAIMS.pop()
        try:
            entries = list(path.iterdir())
        except OSError:
            continue
        keep = (SPEC_FILE, LOCK_FILE)
        if any(entry.name not in keep and not atomic.is_temporary(entry) for entry in entries):
            continue
        fd = _LOCKS.pop(path.resolve(), None)
        if fd is not None:
            os.close(fd)
        for entry in entries:
            entry.unlink(missing_ok=True)
        folder = path
        while top is not None:  # a folder that existed before the command stays
            try:
                folder.rmdir()
            except OSError:
                break
            if folder == top:
                break
            folder = folder.parent
        released.append(path)
    return released


def spec_differences(old: Any, new: dict[str, Any], *, most: int = 3) -> str:
    """`` (lr: 0.001 there, 0.01 here; ...)``: the first fields where two specs differ."""
    if not isinstance(old, dict):
        return ""
    flat_old, flat_new = _flatten(old), _flatten(new)
    keys = [k for k in sorted(set(flat_old) | set(flat_new)) if flat_old.get(k) != flat_new.get(k)]

    def show(value: Any) -> str:
        return shorten(repr(value), 60)

    shown = [
        f"{k}: {show(flat_old.get(k))} there, {show(flat_new.get(k))} here" for k in keys[:most]
    ]
    more = f"; {len(keys) - most} more" if len(keys) > most else ""
    return f" ({'; '.join(shown)}{more})" if shown else ""


def _flatten(value: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, dict) and item:
            flat.update(_flatten(item, f"{name}."))
        else:
            flat[name] = item
    return flat


def _same_spec(stored: dict[str, Any], spec: dict[str, Any], digest: str) -> bool:
    """True when ``stored`` (a spec.yaml document) describes the run ``spec`` describes."""
    if stored.get("digest") == digest:
        return True
    old_spec = stored.get("spec")
    return isinstance(old_spec, dict) and same_spec(old_spec, spec)


def same_spec(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """True when resolved specs ``old`` and ``new`` have equal content (any key order)."""
    return spec_digest(old) == spec_digest(new)


def file_sha256(path: str) -> str:
    """Hex SHA-256 of a file: a retrained checkpoint at the same path is another run."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
