"""User-facing errors.

Every error a user can cause (bad files, bad values, diverging runs) is a `GailrunError` whose message is one
line naming the problem and the fix. The CLI prints it without a traceback and exits with code 1: Hydra tasks
through `gailrun.cli.tasks.fail` (which also records the failed job), the other commands through
`exit_on_error`; both print it with `report_error`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager


class GailrunError(Exception):
    """A problem the user can fix; the message says what it is and how."""


class CheckpointError(GailrunError):
    """A checkpoint is missing, corrupt, foreign, untrusted or does not fit the request."""


class DataError(GailrunError):
    """An expert dataset is missing, malformed or does not match the environment."""


class DivergenceError(GailrunError):
    """A loss, gradient or observation became non-finite during training."""


def error_line(exc: BaseException) -> str:
    """The first line of `exc`'s message, or its type's name where it has none."""
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__


def report_error(exc: BaseException) -> str:
    """Print `gailrun: error: <first line>` on stderr, as every command reports a failure; return the line."""
    line = error_line(exc)
    print(f"gailrun: error: {line}", file=sys.stderr)
    return line


@contextmanager
def exit_on_error() -> Iterator[None]:
    """Run a command's body: a `GailrunError` ends it with its one line on stderr and exit code 1."""
    try:
        yield
    except GailrunError as exc:
        report_error(exc)
        raise SystemExit(1) from exc
