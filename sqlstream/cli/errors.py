"""The one error handler of the command line: an exception in, a message and an exit code out.

Exit codes (documented, as dbt's are, so that CI can tell them apart): 0 success, 1 a run-time
failure (Spark or Kafka said no) or a bug of ours, 2 a mistake the user can fix, 130 Ctrl-C.
``--debug`` adds the traceback but keeps the exit code. The handler sits on the root group
(``main.SqlStreamGroup``), so no command can forget it.
"""

from __future__ import annotations

import contextlib
import sys
import typing as t
from dataclasses import dataclass

import click

from sqlstream.cli.console import Console
from sqlstream.errors import SqlStreamError, UserError, UserErrors


@dataclass(frozen=True)
class Handling:
    """How one kind of exception reaches the user."""

    kinds: tuple[type[BaseException], ...]
    exit_code: t.Callable[[BaseException], int]
    report: t.Callable[[Console, t.Any], None] | None
    """What to print; None prints nothing (Ctrl-C: the user knows)."""
    report_with_debug: bool = True
    """False where the traceback says it all (a bug of ours)."""
    traceback_with_debug: bool = True


def _own_exit_code(error: BaseException) -> int:
    return t.cast(SqlStreamError, error).exit_code


# First match wins: the specific kinds before the general ones.
HANDLING: tuple[Handling, ...] = (
    Handling((UserError, UserErrors), _own_exit_code, Console.diagnostics),
    Handling((SqlStreamError,), _own_exit_code, Console.failure),
    # A file we could not read or write: the user's to fix (a path, a permission).
    Handling((OSError,), lambda _: 2, Console.failure),
    Handling((KeyboardInterrupt,), lambda _: 130, None, traceback_with_debug=False),
    Handling((Exception,), lambda _: 1, Console.internal_error, report_with_debug=False),
)

# click's own exceptions (usage errors, --help, --version, Abort) are click's to print.
CLICK_OWN = (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort)


@contextlib.contextmanager
def handled(console: Console, debug: bool) -> t.Iterator[None]:
    """Turn any exception of the block into a message on ``console`` and ``sys.exit``."""
    try:
        yield
    except CLICK_OWN:
        raise
    except (Exception, KeyboardInterrupt) as error:
        handling = next(h for h in HANDLING if isinstance(error, h.kinds))
        if debug and handling.traceback_with_debug:
            console.traceback()
        if handling.report is not None and (handling.report_with_debug or not debug):
            handling.report(console, error)
        sys.exit(handling.exit_code(error))
