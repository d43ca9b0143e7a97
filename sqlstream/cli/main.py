"""The command line: a thin shell over ``compiler``, ``codegen``, ``runtime`` and ``localkafka``.

Exit codes: 0 success, 1 a run-time failure (Spark or Kafka said no), 2 a user mistake.
"""

from __future__ import annotations

import functools
import json
import sys
import traceback
import typing as t
from pathlib import Path

import click

from sqlstream import __version__
from sqlstream.cli.topics import topics
from sqlstream.errors import SqlStreamError, UserError, UserErrors

F = t.TypeVar("F", bound=t.Callable[..., t.Any])


class State:
    debug = False


def handle_errors(fn: F) -> F:
    """Turn sqlstream's errors into a short message and an exit code; tracebacks only with --debug."""

    @functools.wraps(fn)
    def wrapper(*args: t.Any, **kwargs: t.Any) -> t.Any:
        try:
            return fn(*args, **kwargs)
        except (SqlStreamError, OSError) as e:
            if State.debug:
                traceback.print_exc()
            if isinstance(e, (UserError, UserErrors)):
                click.echo(e.format(color=sys.stderr.isatty()), err=True)
            else:
                click.echo(f"error: {e}", err=True)
            # --debug adds the traceback but keeps the exit code: CI tells mistakes (2) apart.
            sys.exit(2 if isinstance(e, OSError) else e.exit_code)
        except KeyboardInterrupt:
            sys.exit(130)
        except Exception as e:  # noqa: BLE001 - a bug of ours: say so briefly, no traceback
            if State.debug:
                traceback.print_exc()
                sys.exit(1)
            click.echo(
                f"internal error: {type(e).__name__}: {e}\n"
                "hint: this is a bug in sqlstream; run again with --debug for the traceback "
                "and report it",
                err=True,
            )
            sys.exit(1)

    return t.cast(F, wrapper)


def project_options(fn: F) -> F:
    """--target, --vars, --select, --profiles-dir: shared by every command that reads a project."""
    fn = click.option("--profiles-dir", type=click.Path(file_okay=False), help="Where profiles.yml is.")(fn)
    fn = click.option(
        "--select", "-s", multiple=True,
        help="Only these queries: a file path, a query name (spend_1) or a stream name.",
    )(fn)
    fn = click.option("--vars", "vars_", help="Variables as YAML/JSON, e.g. '{big_amount: 500}'.")(fn)
    fn = click.option("--target", "-t", help="The target of profiles.yml to use (default: its own default).")(fn)
    return fn


def _compile(paths: t.Sequence[str], target: str | None, vars_: str | None, select: t.Sequence[str], profiles_dir: str | None) -> t.Any:
    from sqlstream.compiler.facade import compile_project

    return compile_project(paths, target=target, vars_override=vars_, select=select, profiles_dir=profiles_dir)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sqlstream")
@click.option("--debug", is_flag=True, help="Show Python tracebacks.")
def cli(debug: bool) -> None:
    """sqlstream: Kafka-to-Kafka streaming pipelines written in SQL, run on Apache Spark."""
    State.debug = debug


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False))
@handle_errors
def init(directory: str) -> None:
    """Create a working example project in DIRECTORY."""
    from sqlstream.project.scaffold import init_project

    created = init_project(Path(directory))
    for path in created:
        click.echo(f"  created {path}")
    click.echo(f"\nA new project is in {directory}. Next:\n  cd {directory}\n  sqlstream kafka up\n  sqlstream run queries/spend.sql")


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path())
@project_options
@click.option("--target-dir", default="target", show_default=True, help="Where to write the output.")
@handle_errors
def compile(paths: tuple[str, ...], target: str | None, vars_: str | None, select: tuple[str, ...], profiles_dir: str | None, target_dir: str) -> None:
    """Render, parse and plan; write rendered SQL and a PySpark script per file to target/."""
    from sqlstream.spark.target import write_target

    compiled = _compile(paths, target, vars_, select, profiles_dir)
    written = write_target(compiled, Path(target_dir))
    plan = compiled.plan
    click.echo(
        f"compiled {len(compiled.files)} file(s): {len(plan.sources)} source(s), "
        f"{len(plan.views)} derived stream(s), {len(plan.sinks)} quer{'y' if len(plan.sinks) == 1 else 'ies'}"
    )
    for path in written:
        click.echo(f"  wrote {path}")


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path())
@project_options
@handle_errors
def validate(paths: tuple[str, ...], target: str | None, vars_: str | None, select: tuple[str, ...], profiles_dir: str | None) -> None:
    """Check everything compile checks; exit 0 when all is well (for CI)."""
    compiled = _compile(paths, target, vars_, select, profiles_dir)
    click.echo(f"ok: {len(compiled.files)} file(s), {len(compiled.plan.sinks)} quer{'y' if len(compiled.plan.sinks) == 1 else 'ies'}")


@cli.command(name="ls")
@click.argument("paths", nargs=-1, type=click.Path())
@project_options
@click.option("--output", "-o", type=click.Choice(["text", "json"]), default="text", show_default=True)
@handle_errors
def ls(paths: tuple[str, ...], target: str | None, vars_: str | None, select: tuple[str, ...], profiles_dir: str | None, output: str) -> None:
    """List streams, sinks and topics and how they depend on each other."""
    from sqlstream.spark.target import listing, listing_text

    compiled = _compile(paths, target, vars_, select, profiles_dir)
    data = listing(compiled)
    click.echo(json.dumps(data, indent=2) if output == "json" else listing_text(data))


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path())
@project_options
@click.option("--trigger", "trigger", help="Override every query's trigger, e.g. available-now, once, '5 seconds'.")
@click.option("--bootstrap-servers", help="Override the target's Kafka bootstrap servers.")
@handle_errors
def run(paths: tuple[str, ...], target: str | None, vars_: str | None, select: tuple[str, ...], profiles_dir: str | None, trigger: str | None, bootstrap_servers: str | None) -> None:
    """Start every query; show progress; stop cleanly on Ctrl-C."""
    from sqlstream.spark import runtime
    from sqlstream.compiler.options import parse_trigger
    from sqlstream.compiler.plan import Trigger

    compiled = _compile(paths, target, vars_, select, profiles_dir)
    if compiled.analysis.selects and not select:
        first = compiled.analysis.selects[0]
        raise UserErrors([UserError(
            "a SELECT on its own has nothing to consume its result in `run`",
            first.stmt.locate(), "write it to a topic with INSERT INTO KAFKA TOPIC '...' SELECT ..., "
            "or name it with CREATE STREAM name AS SELECT ...",
        )])
    if not compiled.plan.sinks:
        raise UserErrors([UserError("nothing to run: no INSERT INTO KAFKA TOPIC in the selected files", None,
                                    "add an INSERT INTO KAFKA TOPIC '...' SELECT ... statement")])
    override = None
    if trigger:
        parsed = parse_trigger(trigger)
        if parsed is None:
            raise UserErrors([UserError(f"--trigger '{trigger}' is not a trigger", None,
                                        "use available-now, once, '10 seconds', 'continuous 1 second' or real-time")])
        override = Trigger(parsed[0], parsed[1])
    from sqlstream.kafka import preflight

    connection = compiled.connection(bootstrap_servers)
    for note in preflight.check(compiled.plan, connection):
        click.echo(f"note: {note}", err=True)  # stdout is the progress lines
    from sqlstream.compiler.render import display_path
    from sqlstream.spark import runlog

    log = runlog.new_path(compiled.project.root)
    click.echo(f"Spark's log: {display_path(log)}", err=True)
    with runlog.captured(log):
        code = runtime.run(compiled.plan, connection, trigger_override=override, out=click.echo)
    sys.exit(code)


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path())
@project_options
@click.option("--bootstrap-servers", help="Override the target's Kafka bootstrap servers.")
@handle_errors
def explain(paths: tuple[str, ...], target: str | None, vars_: str | None, select: tuple[str, ...], profiles_dir: str | None, bootstrap_servers: str | None) -> None:
    """Print Spark's plan of each query (starts a JVM, starts no query)."""
    from sqlstream.spark import runtime

    compiled = _compile(paths, target, vars_, select, profiles_dir)
    click.echo(runtime.explain(compiled.plan, compiled.connection(bootstrap_servers)))


@cli.command(name="test")
@click.argument("paths", nargs=-1, type=click.Path())
@project_options
@handle_errors
def test_(paths: tuple[str, ...], target: str | None, vars_: str | None, select: tuple[str, ...], profiles_dir: str | None) -> None:
    """Run the project's YAML unit tests (rows in -> rows out) on Spark in batch.

    PATHS: test files or directories (default: the project's test-paths). Exit 0 when every
    test passes, 1 when one fails, 2 for a mistake in a test file or a query.
    """
    from sqlstream.unittests import suite as testing
    from sqlstream.compiler.facade import compile_project

    compiled = compile_project(
        (), target=target, vars_override=vars_, profiles_dir=profiles_dir,
        project_dir=paths[0] if paths else None,
    )
    if compiled.project.is_bare:
        raise UserErrors([UserError("no sqlstream.yml found for these tests", None,
                                    "tests belong to a project: run `sqlstream test` in it")])
    tests = testing.load_tests(compiled, paths, select)
    if not tests:
        if select:
            raise UserErrors([UserError(
                f"--select {' '.join(select)} matches no test", None,
                "select by query name (spend_1), stream name, query file or test file",
            )])
        click.echo("no tests found (test files are *.yml under the project's test-paths, default tests/)")
        return
    spark = testing.session(compiled)
    results = testing.run_tests(
        tests, spark, compiled.plan.settings, on_result=lambda r: click.echo(testing.format_result(r))
    )
    click.echo(testing.summary(results))
    errors = sorted(
        (e for r in results for e in r.errors),
        key=lambda e: (e.location.path, e.location.line, e.location.col) if e.location else ("", 0, 0),
    )
    if errors:
        click.echo(UserErrors(errors).format(color=sys.stderr.isatty()), err=True)
        sys.exit(2)
    sys.exit(0 if all(r.passed for r in results) else 1)


@cli.group()
def kafka() -> None:
    """A local single-node Kafka broker (KRaft, loopback), started from the Apache Kafka jars."""


@kafka.command("up")
@click.option("--port", default=9092, show_default=True)
@click.option("--state-dir", default=".sqlstream/kafka", show_default=True, type=click.Path(file_okay=False))
@handle_errors
def kafka_up(port: int, state_dir: str) -> None:
    """Start the broker (fetching its jars once) and return when it is ready."""
    from sqlstream.local import broker as localkafka

    broker = localkafka.up(port=port, state_dir=Path(state_dir))
    click.echo(f"kafka is up: bootstrap servers {broker.bootstrap} (pid {broker.pid}, logs {broker.log})")


@kafka.command("down")
@click.option("--state-dir", default=".sqlstream/kafka", show_default=True, type=click.Path(file_okay=False))
@handle_errors
def kafka_down(state_dir: str) -> None:
    """Stop the broker."""
    from sqlstream.local import broker as localkafka

    click.echo("kafka stopped" if localkafka.down(Path(state_dir)) else "kafka was not running")


@kafka.command("status")
@click.option("--state-dir", default=".sqlstream/kafka", show_default=True, type=click.Path(file_okay=False))
@handle_errors
def kafka_status(state_dir: str) -> None:
    """Say whether the broker runs, and where."""
    from sqlstream.local import broker as localkafka

    broker = localkafka.status(Path(state_dir))
    if broker is None:
        click.echo("kafka is not running")
        sys.exit(1)
    click.echo(f"kafka is up: bootstrap servers {broker.bootstrap} (pid {broker.pid})")


cli.add_command(topics)


def main() -> None:
    cli(prog_name="sqlstream")


if __name__ == "__main__":
    main()
