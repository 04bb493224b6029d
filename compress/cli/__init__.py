"""Command-line entry point ``compress``: a thin layer over the library.

Every user error (:class:`compress.core.errors.CompressError`, or an invalid spec) becomes
one line on stderr and exit code 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import os
import sys

from compress.cli import (  # noqa: F401  (each module attaches its commands to `app`)
    bench_cmd,
    compare_cmd,
    data_cmd,
    eval_cmd,
    export_cmd,
    factorize_cmd,
    models_cmd,
    predict_cmd,
    prune_cmd,
    quantize_cmd,
    run_cmd,
    sensitivity_cmd,
    train_cmd,
)
from compress.cli.app import app
from compress.core.errors import OS_FAULTS, USER_ERRORS, CompressError


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the process exit code instead of raising."""
    if not sys.stdout.isatty():
        # rich wraps to 80 columns when piped; long paths and tables then break mid-word in
        # logs. A wide default keeps lines whole (an explicit COLUMNS still wins).
        os.environ.setdefault("COLUMNS", "200")
    from compress.core.runs import forget_claims

    forget_claims()
    from compress.cli.progress_display import reporter_for
    from compress.core.progress import use

    args = sys.argv[1:] if argv is None else argv
    try:
        # long steps report through one reporter: bars on a terminal, plain lines in logs
        # and pipes or with --no-progress (any command's flag counts)
        with use(reporter_for("--no-progress" not in args)):
            outcome = app(args=argv, prog_name="compress", standalone_mode=False)
    except KeyboardInterrupt:
        return _interrupted(argv)
    except Exception as error:
        code = _usage_exit_code(error)
        if code is not None:
            return code
        message = _refusal(error)
        if message is None:
            raise  # a bug: keep the traceback
        _release_claims()
        print(f"error: {message}", file=sys.stderr)
        return CompressError.exit_code
    if outcome == 130:  # typer turns Ctrl-C into Exit(130), which click returns
        return _interrupted(argv)
    # click returns the exit code of `ctx.exit(n)` (e.g. --help) when not standalone
    return outcome if isinstance(outcome, int) else 0


def _interrupted(argv: list[str] | None) -> int:
    """Ctrl-C: one line saying how to continue; exit code 130 (128 + SIGINT)."""
    print(f"interrupted; {resume_hint(sys.argv[1:] if argv is None else argv)}", file=sys.stderr)
    return 130


def resume_hint(argv: list[str]) -> str:
    """How to pick up an interrupted command: the same command (with ``--resume`` for
    ``train``, whose unfinished run is otherwise refused). Finished work is never redone."""
    import shlex

    args = list(argv)
    if args[:1] == ["train"] and "--resume" not in args:
        args.append("--resume")
    return f"to continue, run: compress {shlex.join(args)}"


def _refusal(error: Exception) -> str | None:
    """The one line for a user error or an OS fault, or None for a bug."""
    if isinstance(error, USER_ERRORS):
        return str(error)
    if isinstance(error, OSError):
        return _os_fault(error)
    return _user_error_message(error)


def _os_fault(error: OSError) -> str | None:
    """``PATH: reason`` for an OS fault (read-only, disk full, permissions), else None."""
    if error.errno not in OS_FAULTS:
        return None
    path = error.filename if error.filename is not None else "(unknown path)"
    return f"{path}: {error.strerror or os.strerror(error.errno)}"


def _release_claims() -> None:
    """Remove run folders this refused command claimed but never used."""
    from compress.core.runs import release_unused_claims

    release_unused_claims()


def _usage_exit_code(error: Exception) -> int | None:
    """Exit code for click/typer control-flow and usage errors (shown as click shows them)."""
    import typer

    if isinstance(error, typer.Exit):
        return error.exit_code
    # Usage errors: click's ClickException. typer >= 0.2x vendors click privately, so
    # recognise it by its interface rather than importing either click.
    show, code = getattr(error, "show", None), getattr(error, "exit_code", None)
    if not (callable(show) and isinstance(code, int)):
        return None
    format_message = getattr(error, "format_message", None)
    if code == 2 and callable(format_message):  # a usage error: one line, with where to look
        ctx = getattr(error, "ctx", None)
        path = ctx.command_path if ctx is not None else "compress"
        message = " ".join(str(format_message()).split())
        if message:  # empty when the command's help was shown instead (no subcommand)
            print(f"error: {path}: {message} (see '{path} --help')", file=sys.stderr)
    else:
        show()
    return code


def _user_error_message(error: Exception) -> str | None:
    """One line for errors that are the user's, not bugs (aborts, invalid specs)."""
    import typer

    if isinstance(error, typer.Abort):
        return "aborted"
    pydantic = sys.modules.get("pydantic")
    if pydantic is not None and isinstance(error, pydantic.ValidationError):
        from compress.core.specs import validation_message

        return validation_message(error, source="options")
    return None


def entry() -> None:  # pragma: no cover - exercised through the console script
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    entry()
