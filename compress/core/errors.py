"""The project's single user-facing error type.

Anything a user can cause (a wrong path, a malformed file, an unknown model, a value
out of range) raises :class:`CompressError` with a message that names the file, field
or value and says what would be valid. The CLI prints it as one line and exits with
code 2. Every other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import errno

from baselines.errors import BaselineError


class CompressError(Exception):
    """A problem with the user's input, reported as one clear line."""

    exit_code = 2


# Every user error the CLI turns into one line: the toolkit's own and the model zoo's
# (``baselines`` depends on nothing in ``compress``, so it has its own type).
USER_ERRORS: tuple[type[Exception], ...] = (CompressError, BaselineError)


def out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is an allocation failure (CPU or CUDA), not a bug."""
    if isinstance(error, MemoryError):
        return True
    text = str(error)
    return isinstance(error, RuntimeError) and (
        "can't allocate memory" in text or "out of memory" in text.lower()
    )


def first_line(error: BaseException, limit: int = 160) -> str:
    """The first line of an exception's message, cut to ``limit`` characters."""
    return (str(error).strip().splitlines() or [""])[0][:limit]


# OS faults that are the machine's or the user's (read-only, disk full, permissions), not
# bugs: reported as one line naming the path, exit code 2.
OS_FAULTS = frozenset(
    {
        errno.EROFS,
        errno.EACCES,
        errno.EPERM,
        errno.ENOSPC,
        errno.EDQUOT,
        errno.ENOTDIR,
        errno.EISDIR,
        errno.ENAMETOOLONG,
        errno.EFBIG,
        errno.EMFILE,
        errno.ENFILE,
    }
)
