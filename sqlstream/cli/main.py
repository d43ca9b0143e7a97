"""The command line: a thin shell over the library, grouped by what the user does.

``project`` (init, compile, validate, ls), ``run`` (run, explain, test), ``kafka`` (the
development broker) and ``cluster`` (a local Spark standalone cluster) hold the commands;
``options`` the shared options, ``console`` every line the user reads, ``errors`` the one
handler that turns an exception into a message and an exit code (0 success, 1 a run-time
failure, 2 a user mistake).
"""

from __future__ import annotations

import gc
import typing as t

import click

from sqlstream import __version__
from sqlstream.cli import cluster, kafka, project, registry, run, state, topics
from sqlstream.cli.console import console
from sqlstream.cli.errors import handled
from sqlstream.cli.options import debug_option
from sqlstream.cli.peek import peek


class SqlStreamGroup(click.Group):
    """The root group: every command, nested groups too, runs inside the one error handler."""

    def invoke(self, ctx: click.Context) -> t.Any:
        with handled(console, debug=bool(ctx.params.get("debug"))):
            return super().invoke(ctx)


@click.group(cls=SqlStreamGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sqlstream")
@debug_option
def cli(debug: bool) -> None:
    """sqlstream: Kafka-to-Kafka streaming pipelines written in SQL, run on Apache Spark."""


for command in (
    *project.COMMANDS,
    *run.COMMANDS,
    topics.topics,
    state.state,
    *kafka.COMMANDS,
    *cluster.COMMANDS,
    *registry.COMMANDS,
):
    cli.add_command(command)
cli.add_command(peek)


#: The cyclic garbage collector's thresholds in a command. Compiling builds hundreds of thousands
#: of small sqlglot nodes, each pointing at its parent (a cycle), and with the default (700, 10,
#: 10) the collector ran so often that it took 30 to 45 % of a compile (bench/compile_speed.py);
#: collecting every 100,000 allocations keeps the garbage bounded and the time small.
GC_THRESHOLDS = (100_000, 50, 100)


def main() -> None:
    gc.set_threshold(*GC_THRESHOLDS)
    cli(prog_name="sqlstream")


if __name__ == "__main__":
    main()
