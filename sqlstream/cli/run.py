"""Commands that need Spark: ``run``, ``explain`` and ``test``.

pyspark is imported inside each command, never at the top: ``compile`` and ``--help`` must not
pay for a JVM, and tests replace ``sqlstream.spark.runtime`` in ``sys.modules`` with a recorder.
"""

from __future__ import annotations

import contextlib
import sys
import typing as t

import click

from sqlstream.cli.console import console
from sqlstream.cli.options import ProjectArgs, bootstrap_servers_option, project_options
from sqlstream.errors import Location, UserError, UserErrors

if t.TYPE_CHECKING:
    from sqlstream.compiler.facade import Compiled
    from sqlstream.compiler.plan import Trigger
    from sqlstream.project.connection import Connection
    from sqlstream.spark.bounded import Range

TRIGGER_HINT = "use available-now, once, '10 seconds', 'continuous 1 second' or real-time"


def mistake(message: str, location: Location | None, hint: str) -> UserErrors:
    """One user error, raised the way the compiler raises all of them (``N error(s) found``)."""
    return UserErrors([UserError(message, location, hint)])


def _check_runnable(compiled: Compiled, select: t.Sequence[str]) -> None:
    """Refuse what would start nothing: a bare SELECT (with nothing selected), or no sink."""
    selects = [q for q in compiled.analysis.selects if q.stmt.file.path in compiled.selected_files]
    if selects and not select:
        first = selects[0]
        raise mistake(
            "a SELECT on its own has nothing to consume its result in `run`",
            first.stmt.locate(),
            "write it to a topic with INSERT INTO KAFKA TOPIC '...' SELECT ..., "
            "or name it with CREATE STREAM name AS SELECT ...",
        )
    if not compiled.plan.sinks:
        raise mistake(
            "nothing to run: no INSERT INTO KAFKA TOPIC in the selected files",
            None,
            "add an INSERT INTO KAFKA TOPIC '...' SELECT ... statement",
        )


def _trigger_override(text: str | None) -> Trigger | None:
    """``--trigger``, in any form a query's TRIGGER option takes."""
    from sqlstream.compiler.options import parse_trigger
    from sqlstream.compiler.plan import Trigger

    if not text:
        return None
    parsed = parse_trigger(text)
    if parsed is None:
        raise mistake(f"--trigger '{text}' is not a trigger", None, TRIGGER_HINT)
    return Trigger(parsed[0], parsed[1])


def _check_rate_limits(compiled: Compiled, override: Trigger | None) -> None:
    """``--trigger once`` over a source with ``max_offsets_per_trigger``: what the compiler
    refuses in a query's own trigger (``TriggerKind.rate_limit``), refused for the override too."""
    from sqlstream.compiler import triggers

    if override is None or triggers.kind(override.kind).rate_limit == "respected":
        return
    limited = [s.name for s in compiled.plan.sources if "maxOffsetsPerTrigger" in s.read_options]
    if limited:
        raise mistake(
            f"--trigger {override.kind} ignores max_offsets_per_trigger of stream {limited[0]}",
            None,
            "use --trigger available-now to read in batches of at most that many records, "
            "or --from/--until for a bounded run",
        )


@click.command()
@project_options
@click.option(
    "--trigger",
    "trigger",
    help="Override every query's trigger, e.g. available-now, once, '5 seconds'.",
)
@click.option(
    "--from",
    "from_",
    help="Bounded run (a backfill) from: earliest, an ISO timestamp or offsets JSON.",
)
@click.option("--until", help="Bounded run until: latest, an ISO timestamp or offsets JSON.")
@bootstrap_servers_option
def run(
    project: ProjectArgs,
    trigger: str | None,
    from_: str | None,
    until: str | None,
    bootstrap_servers: str | None,
) -> None:
    """Start every query; show progress; stop cleanly on Ctrl-C.

    With --from and/or --until: read that range once as a batch job, write it, exit (no checkpoint).
    """
    from sqlstream.spark import runtime

    compiled = project.compile(live_schemas=True)
    _check_runnable(compiled, project.select)
    if from_ is not None or until is not None:
        sys.exit(_bounded(compiled, trigger, from_, until, bootstrap_servers))
    override = _trigger_override(trigger)
    _check_rate_limits(compiled, override)
    connection = compiled.connection(bootstrap_servers)
    with _checked_and_logged(compiled, connection):
        code = runtime.run(compiled.plan, connection, trigger_override=override, out=console.out)
    sys.exit(code)


@contextlib.contextmanager
def _checked_and_logged(
    compiled: Compiled, connection: Connection, then: t.Callable[[], None] = lambda: None
) -> t.Iterator[None]:
    """Before a run starts Spark: the broker and the output topics checked (in seconds, one line
    when something is wrong), and ``then`` the run's own checks; in the block, Spark's own log
    lines go to a file, not the terminal."""
    from sqlstream.kafka import preflight
    from sqlstream.spark.session import cluster_notes

    for note in [*preflight.check(compiled.plan, connection), *cluster_notes(connection)]:
        console.err(f"note: {note}")  # stdout is the progress lines
    then()
    with _spark_logged(compiled):
        yield


@contextlib.contextmanager
def _spark_logged(compiled: Compiled) -> t.Iterator[None]:
    """Spark's own log lines (the JVM's banner too) to a file named on stderr, in the block."""
    from sqlstream.project.env import display_path
    from sqlstream.spark import runlog

    log = runlog.new_path(compiled.project.root)
    console.err(f"Spark's log: {display_path(log)}")
    with runlog.captured(log):
        yield


def _bounded(
    compiled: Compiled, trigger: str | None, start: str | None, end: str | None, servers: str | None
) -> int:
    from sqlstream.spark import bounded

    if trigger:
        raise mistake(
            "--trigger does not apply to a bounded run", None, "drop --trigger, or --from/--until"
        )
    try:
        rng = bounded.parse_range(start, end)
        bounded.check_range(rng, compiled.plan)
    except UserError as e:
        raise UserErrors([e]) from None
    connection = compiled.connection(servers)
    with _checked_and_logged(compiled, connection, lambda: _check_partitions(rng, connection)):
        return bounded.run(compiled.plan, connection, rng, out=console.out)


def _check_partitions(rng: Range, connection: Connection) -> None:
    """The range's offsets against the topics' partitions, before Spark reads them."""
    from sqlstream.kafka import preflight
    from sqlstream.spark import bounded

    topics = bounded.offset_topics(rng)
    try:
        bounded.check_partitions(rng, preflight.partitions(connection, topics) if topics else {})
    except UserError as e:
        raise UserErrors([e]) from None


@click.command()
@project_options
@bootstrap_servers_option
def explain(project: ProjectArgs, bootstrap_servers: str | None) -> None:
    """Print Spark's plan of each query (starts a JVM, starts no query)."""
    from sqlstream.spark import runtime

    compiled = project.compile()
    with _spark_logged(compiled):
        explained = runtime.explain(compiled.plan, compiled.connection(bootstrap_servers))
    console.out(explained)


def _compile_for_tests(project: ProjectArgs) -> Compiled:
    """The whole project (tests select by themselves), found from the first test path."""
    from sqlstream.compiler.facade import compile_project

    compiled = compile_project(
        (),
        target=project.target,
        vars_override=project.vars_,
        profiles_dir=project.profiles_dir,
        project_dir=project.paths[0] if project.paths else None,
    )
    if compiled.project.is_bare:
        raise mistake(
            "no sqlstream.yml found for these tests",
            None,
            "tests belong to a project: run `sqlstream test` in it",
        )
    return compiled


def _by_location(error: UserError) -> tuple[str, int, int]:
    loc = error.location
    return (loc.path, loc.line, loc.col) if loc else ("", 0, 0)


@click.command(name="test")
@project_options
def test_(project: ProjectArgs) -> None:
    """Run the project's YAML unit tests (rows in -> rows out) on Spark in batch.

    PATHS: test files or directories (default: the project's test-paths). Exit 0 when every
    test passes, 1 when one fails, 2 for a mistake in a test file or a query.
    """
    from sqlstream.unittests import suite

    compiled = _compile_for_tests(project)
    tests = suite.load_tests(compiled, project.paths, project.select)
    if not tests and project.select:
        raise mistake(
            f"--select {' '.join(project.select)} matches no test",
            None,
            "select by query name (spend_1), stream name, query file or test file",
        )
    if not tests:
        console.no_tests()
        return
    with _spark_logged(compiled):
        results = suite.run_tests(
            tests,
            suite.session(compiled),
            compiled.plan.settings,
            on_result=lambda r: console.out(suite.format_result(r)),
        )
    console.out(suite.summary(results))
    errors = sorted((e for r in results for e in r.errors), key=_by_location)
    if errors:
        console.diagnostics(UserErrors(errors))
        sys.exit(2)
    sys.exit(0 if all(r.passed for r in results) else 1)


COMMANDS = (run, explain, test_)
