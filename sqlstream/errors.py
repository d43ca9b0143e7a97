"""One error hierarchy for the whole tool.

A *user* mistake (bad SQL, a bad option, a missing file) is a ``UserError``: it carries a
``Location`` in the file the user wrote and a hint, and the CLI prints it as
``path:line:col: error: message`` with the source line and a caret, exiting 2. Everything the
compiler finds in one run is collected and reported together (``UserErrors``). A likely mistake
that Spark would still run (a TOPIC that can be NULL, state that grows without limit) is a
``CompileWarning``, printed the same way as ``path:line:col: warning: ...``; it never changes the
exit code. A failure at run time (Spark or Kafka said no) is a
``RunFailure`` and exits 1.
"""

from __future__ import annotations

import typing as t
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """A place in a file the user wrote. ``line`` and ``col`` are 1-based."""

    path: str
    line: int
    col: int
    source_line: str | None = None
    length: int = 1

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"


class SqlStreamError(Exception):
    """Base of every error sqlstream raises on purpose."""

    exit_code = 1


class UserError(SqlStreamError):
    """A mistake the user can fix in what they wrote."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        location: Location | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.location = location
        self.hint = hint

    severity = "error"

    def format(self, color: bool = False) -> str:
        return format_diagnostic(
            self.message, self.location, self.hint, color=color, severity=self.severity
        )

    def __str__(self) -> str:
        return self.format()


class CompileWarning(UserError):
    """A likely mistake that Spark would still run: reported like an error, but the command
    goes on and exits 0. Never raised; ``Diagnostics.warn`` collects it."""

    exit_code = 0
    severity = "warning"


class UserErrors(SqlStreamError):
    """Every user error found in one run, in the order they were found."""

    exit_code = 2

    def __init__(
        self, errors: t.Sequence[UserError], warnings: t.Sequence[CompileWarning] = ()
    ) -> None:
        self.errors = list(errors)
        self.warnings = list(warnings)
        """Found in the same run: shown with the errors, in file order."""
        super().__init__("\n".join(e.format() for e in self.errors))

    def format(self, color: bool = False) -> str:
        shown = sorted([*self.errors, *self.warnings], key=_place)
        body = "\n".join(e.format(color=color) for e in shown)
        n, w = len(self.errors), len(self.warnings)
        if n + w == 1:  # one message needs no count (as a UserError raised alone has none)
            return body
        also = f" and {w} warning{'s' if w != 1 else ''}" if w else ""
        return f"{body}\n{n} error{'s' if n != 1 else ''}{also} found"


def _place(e: UserError) -> tuple[str, int, int]:
    """File order: by path, line and column (the unlocated first)."""
    loc = e.location
    return (loc.path, loc.line, loc.col) if loc is not None else ("", 0, 0)


class RunFailure(SqlStreamError):
    """Spark or Kafka failed while running a pipeline; the message carries Spark's reason."""

    exit_code = 1


def _style(text: str, code: str, color: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if color else text


_SEVERITY_COLOR = {"error": "1;31", "warning": "1;35"}


def format_diagnostic(
    message: str,
    location: Location | None,
    hint: str | None,
    color: bool = False,
    severity: str = "error",
) -> str:
    """Render ``path:line:col: error: message`` (or ``warning:``), the source line, a caret and
    the hint."""
    head = _style(f"{severity}:", _SEVERITY_COLOR[severity], color)
    if location is None:
        lines = [f"{head} {message}"]
    else:
        lines = [f"{location}: {head} {message}"]
        if location.source_line is not None:
            src, caret = _quote_line(location.source_line, location.col, location.length)
            gutter = f"{location.line:>4} | "
            lines.append(f"{gutter}{src}")
            lines.append(" " * (len(gutter) - 2) + "| " + _style(caret, "1;32", color))
    if hint:
        lines.append(f"{_style('hint:', '1;36', color)} {hint}")
    return "\n".join(lines)


SHOWN_LINE = 200
"""The most characters of a source line an error quotes: a minified or generated file of one
5 MB line must give a message of one screen, not 10 MB of output."""
_CUT = "..."


def _quote_line(line: str, col: int, length: int) -> tuple[str, str]:
    """The part of ``line`` an error shows, and the caret line under it.

    A tab counts as one column, as in ``col``; a line longer than ``SHOWN_LINE`` is cut to a
    window around the caret, with ``...`` on each side that was cut.
    """
    src = line.rstrip("\n").expandtabs(1)
    start0 = max(0, col - 1)
    width = max(1, min(length, max(1, len(src) - start0)))
    lo, hi = 0, len(src)
    if len(src) > SHOWN_LINE:
        start0 = min(start0, len(src))
        # The caret's start a third of the way in: some context before, more after.
        lo = max(0, min(start0 - SHOWN_LINE // 3, len(src) - SHOWN_LINE))
        hi = lo + SHOWN_LINE
        width = max(1, min(width, hi - start0))
    left = _CUT if lo > 0 else ""
    right = _CUT if hi < len(src) else ""
    shown = left + src[lo:hi] + right
    caret = " " * (len(left) + start0 - lo) + "^" + "~" * (width - 1)
    return shown, caret


class Diagnostics:
    """Collects user errors so that one run reports all of them, not just the first."""

    def __init__(self) -> None:
        self.errors: list[UserError] = []
        self.warnings: list[CompileWarning] = []

    def warn(self, message: str, location: Location | None = None, hint: str | None = None) -> None:
        """A likely mistake that does not stop the command (see ``CompileWarning``)."""
        self.warnings.append(CompileWarning(message, location, hint))

    def add(self, error: UserError) -> None:
        self.errors.append(error)

    def error(
        self, message: str, location: Location | None = None, hint: str | None = None
    ) -> None:
        self.add(UserError(message, location, hint))

    def add_all(self, errors: t.Iterable[UserError]) -> None:
        self.errors.extend(errors)

    @contextmanager
    def collecting(self) -> t.Iterator[None]:
        """Record a user error raised in the block and go on: the block is skipped from there."""
        try:
            yield
        except UserError as e:
            self.add(e)
        except UserErrors as e:
            self.add_all(e.errors)

    def __bool__(self) -> bool:
        return bool(self.errors)

    def raise_if_any(self) -> None:
        if self.errors:
            raise UserErrors(self.errors, self.warnings)
