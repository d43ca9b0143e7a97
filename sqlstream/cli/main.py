"""The command line: a thin shell over the library, grouped by what the user does.

``project`` (init, compile, validate, ls), ``run`` (run, explain, test), ``kafka`` (the
development broker) and ``cluster`` (a local Spark standalone cluster) hold the commands;
``options`` the shared options, ``console`` every line the user reads, ``errors`` the one
handler that turns an exception into a message and an exit code (0 success, 1 a run-time
failure, 2 a user mistake).
"""

from __future__ import annotations

import gc
import importlib
import sys
import typing as t

import click

from sqlstream import __version__
from sqlstream.cli import project
from sqlstream.cli.console import console
from sqlstream.cli.errors import handled
from sqlstream.cli.options import debug_option

LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("run", "run"),
    "explain": ("run", "explain"),
    "test": ("run", "test_"),
    "topics": ("topics", "topics"),
    "state": ("state", "state"),
    "kafka": ("kafka", "kafka"),
    "cluster": ("cluster", "cluster"),
    "registry": ("registry", "registry"),
    "peek": ("peek", "peek"),
}
"""Command name -> (module of sqlstream.cli, attribute): the commands whose module is imported
only when the command runs or the help lists it. Importing all seven modules cost every command
(``validate`` too) about 5 % of its instructions; the project commands, the common ones, stay
eager."""


class SqlStreamGroup(click.Group):
    """The root group: every command, nested groups too, runs inside the one error handler."""

    def invoke(self, ctx: click.Context) -> t.Any:
        with handled(console, debug=bool(ctx.params.get("debug"))):
            return super().invoke(ctx)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """``--debug`` is the group's, and is taken after the command too (``sqlstream validate
        --debug``, as dbt takes it): moved in front of the command name."""
        end = args.index("--") if "--" in args else len(args)
        if "--debug" in args[1:end]:
            args = ["--debug", *(a for i, a in enumerate(args) if a != "--debug" or i >= end)]
        return super().parse_args(ctx, args)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in LAZY_COMMANDS:
            module, attribute = LAZY_COMMANDS[cmd_name]
            command = getattr(importlib.import_module(f"sqlstream.cli.{module}"), attribute)
            self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)


@click.group(cls=SqlStreamGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sqlstream")
@debug_option
def cli(debug: bool) -> None:
    """sqlstream: Kafka-to-Kafka streaming pipelines written in SQL, run on Apache Spark."""


for command in project.COMMANDS:
    cli.add_command(command)


#: The cyclic garbage collector's thresholds in a command. Compiling builds hundreds of thousands
#: of small sqlglot nodes, each pointing at its parent (a cycle), and with the default (700, 10,
#: 10) the collector ran so often that it took 30 to 45 % of a compile (bench/compile_speed.py);
#: collecting every 100,000 allocations keeps the garbage bounded and the time small.
GC_THRESHOLDS = (100_000, 50, 100)


FROZEN_AT_EXIT = frozenset(command.name for command in project.COMMANDS)
"""The commands after which ``main`` freezes the collector (``gc.freeze``) before the exit.

A compiled tree is one cycle (each node points at its parent), so only the collector frees it,
and the interpreter's exit ran collections over every tree only for the process to end: 0.14 s
of a 250-file compile's 0.8 s, 1.4 s of a validate of a 20,000-term WHERE on pure sqlglot
(bench/compile_speed.py). Frozen objects are left to the end of the process; atexit handlers
and the flush of the output run as before. These commands hold only trees, plans and closed
files, nothing whose finalizer matters; the commands that run Spark or Kafka exit as usual."""


def main() -> None:
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        cli(prog_name="sqlstream")
    finally:
        if _command_name() in FROZEN_AT_EXIT:
            gc.freeze()


def _command_name() -> str | None:
    """The command ``main`` ran: the first argument that is not an option."""
    return next((a for a in sys.argv[1:] if not a.startswith("-")), None)


if __name__ == "__main__":
    main()
