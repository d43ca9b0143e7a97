"""The one console every command prints through: results and progress on stdout, diagnostics on
stderr, colour only when stderr is a terminal.

All the text a user reads after a command lives here (as SQLMesh's ``Console`` does), so that a
command only parses its options, calls the library and hands the result over; and nothing below
the CLI needs click to say something. The streams are looked up at each call, never kept, so
that click's ``CliRunner`` (which swaps ``sys.stdout`` and ``sys.stderr``) sees everything.
"""

from __future__ import annotations

import sys
import traceback
import typing as t

import click

if t.TYPE_CHECKING:
    from pathlib import Path

    from sqlstream.compiler.facade import Compiled
    from sqlstream.errors import CompileWarning, UserError, UserErrors
    from sqlstream.local.broker import Broker
    from sqlstream.local.cluster import Cluster
    from sqlstream.local.registry import Registry

INTERNAL_HINT = (
    "hint: this is a bug in sqlstream; run again with --debug for the traceback and report it"
)


def queries(n: int) -> str:
    """``1 query``, ``2 queries``: the count every summary line ends with."""
    return f"{n} quer{'y' if n == 1 else 'ies'}"


class Console:
    """What the user sees, one method per kind of thing a command has to say."""

    @property
    def color(self) -> bool:
        """Colour diagnostics only on a terminal: CI logs and pipes get plain text."""
        return sys.stderr.isatty()

    def out(self, text: str = "") -> None:
        """A line of results or progress (stdout)."""
        click.echo(text)

    def err(self, text: str) -> None:
        """A line for the user's attention (stderr), never mixed into results."""
        click.echo(text, err=True)

    # -- errors -----------------------------------------------------------------------------

    def diagnostics(self, errors: UserError | UserErrors) -> None:
        """``path:line:col: error: ...`` with the line, a caret and a hint."""
        self.err(errors.format(color=self.color))

    def not_checked(self, errors: t.Iterable[UserError]) -> None:
        """Errors outside the selection (``validate queries/a.sql``, a broken b.sql): one line
        each, no source excerpt; they do not change the exit code."""
        head = click.style("warning:", fg="magenta", bold=True) if self.color else "warning:"
        for e in errors:
            where = f"{e.location}: " if e.location else ""
            message = e.message.splitlines()[0] if e.message else ""
            self.err(f"{where}{head} not checked: {message} (not read by the selection)")

    def warnings(self, warnings: t.Sequence[CompileWarning]) -> None:
        """``path:line:col: warning: ...`` with the line, a caret and a hint, each; the command
        goes on (and exits 0 unless something else fails)."""
        for warning in warnings:
            self.err(warning.format(color=self.color))

    def failure(self, error: BaseException) -> None:
        """A run-time failure or an OS error: one line."""
        self.err(f"error: {error}")

    def internal_error(self, error: BaseException) -> None:
        """A bug of ours: say so briefly and how to get the traceback."""
        self.err(f"internal error: {type(error).__name__}: {error}\n{INTERNAL_HINT}")

    def traceback(self) -> None:
        """The traceback of the error being handled (only with --debug)."""
        self.err(traceback.format_exc().rstrip("\n"))

    # -- project commands -------------------------------------------------------------------

    def created(self, directory: str, paths: t.Iterable[object]) -> None:
        for path in paths:
            self.out(f"  created {path}")
        self.out(
            f"\nA new project is in {directory}. Next:\n  cd {directory}\n"
            "  sqlstream kafka up\n  sqlstream run queries/spend.sql"
        )

    def compiled(self, compiled: Compiled, written: t.Iterable[object]) -> None:
        plan = compiled.plan
        self.out(
            f"compiled {len(compiled.files)} file(s): {len(plan.sources)} source(s), "
            f"{len(plan.views)} derived stream(s), {queries(len(plan.sinks))}"
        )
        for path in written:
            self.out(f"  wrote {path}")

    def validated(self, compiled: Compiled) -> None:
        self.out(f"ok: {len(compiled.files)} file(s), {queries(len(compiled.plan.sinks))}")

    # -- unit tests -------------------------------------------------------------------------

    def no_tests(self) -> None:
        self.out(
            "no tests found (test files are *.yml under the project's test-paths, default tests/)"
        )

    # -- the local broker -------------------------------------------------------------------

    def broker_up(self, broker: Broker) -> None:
        self.out(
            f"kafka is up: bootstrap servers {broker.bootstrap} "
            f"(pid {broker.pid}, logs {broker.log})"
        )

    def broker_down(self, was_running: bool) -> None:
        self.out("kafka stopped" if was_running else "kafka was not running")

    def broker_status(self, broker: Broker | None) -> None:
        if broker is None:
            self.out("kafka is not running")
        else:
            self.out(f"kafka is up: bootstrap servers {broker.bootstrap} (pid {broker.pid})")

    def cluster_up(self, cluster: Cluster) -> None:
        self.out(
            f"spark cluster is up: master {cluster.master_url} (web UI {cluster.webui_url}), "
            f"{len(cluster.workers)} workers (logs in {cluster.state_dir})"
        )

    def cluster_down(self, was_running: bool) -> None:
        self.out("spark cluster stopped" if was_running else "spark cluster was not running")

    def cluster_status(self, cluster: Cluster | None, registered: t.Sequence[str]) -> None:
        if cluster is None:
            self.out("spark cluster is not running")
            return
        self.out(
            f"spark cluster is up: master {cluster.master_url} (pid {cluster.pid}, "
            f"web UI {cluster.webui_url}), workers alive: {', '.join(registered) or 'none'}"
        )

    # -- the local schema registry ----------------------------------------------------------

    def registry_up(self, registry: Registry) -> None:
        self.out(f"schema registry is up: {registry.url} (pid {registry.pid}, logs {registry.log})")

    def registry_down(self, was_running: bool) -> None:
        self.out("schema registry stopped" if was_running else "schema registry was not running")

    def registry_locked(self, lock: Path, subjects: int) -> None:
        self.out(f"{lock}: {subjects} subject(s)")

    def registry_status(self, registry: Registry | None) -> None:
        if registry is None:
            self.out("schema registry is not running")
        else:
            self.out(f"schema registry is up: {registry.url} (pid {registry.pid})")


console = Console()
