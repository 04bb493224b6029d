"""The error a user gets from the model zoo: an unknown name, a bad option, a missing file.

``baselines`` depends on nothing in ``compress``; the toolkit registers this type as one of
its own user errors (:class:`compress.core.errors.CompressError`), so the CLI reports it as
one line with exit code 2 and ``except CompressError`` catches it.
"""

from __future__ import annotations


class BaselineError(ValueError):
    """A model name, option or weights file the user got wrong."""

    exit_code = 2
