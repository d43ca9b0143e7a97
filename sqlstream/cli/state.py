"""``sqlstream state``: each query's checkpoint, listed and reset, without a JVM."""

from __future__ import annotations

import difflib
import json
import sys
import typing as t
from pathlib import Path

import click

from sqlstream.cli.options import (
    ProjectArgs,
    output_option,
    profiles_dir_option,
    project_options,
    select_option,
    target_option,
    vars_option,
)
from sqlstream.errors import UserError, UserErrors

if t.TYPE_CHECKING:  # pragma: no cover
    from sqlstream.spark.state import Checkpoint


@click.group()
def state() -> None:
    """The checkpoints of the project's queries: where, how far, how big; reset one."""


def _checkpoints(args: ProjectArgs) -> tuple[list[Checkpoint], Path]:
    from sqlstream.spark import state as state_mod

    compiled = args.compile()
    connection = compiled.connection()
    root = state_mod.local_root(connection)
    if root is None:
        raise UserErrors(
            [
                UserError(
                    f"the checkpoint root {connection.checkpoint_root} is not a local folder",
                    None,
                    "sqlstream reads and resets local checkpoints only;"
                    " use the file system's own tools",
                )
            ]
        )
    return state_mod.checkpoints(compiled.plan, root, compiled.full_plan), root


def size_text(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n = n / 1024  # type: ignore[assignment]
    return str(n)


def _offsets_text(offsets: dict[str, dict[str, int]]) -> str:
    return (
        "; ".join(
            f"{topic} "
            + ", ".join(f"{p}:{o}" for p, o in sorted(parts.items(), key=lambda x: int(x[0])))
            for topic, parts in sorted(offsets.items())
        )
        or "-"
    )


def _row(c: Checkpoint) -> list[str]:
    batch = "-" if c.last_batch is None else str(c.last_batch)
    if c.planned_batch is not None and c.planned_batch != c.last_batch:
        batch += f" ({c.planned_batch} planned)"
    kind = {"sink": "", "dlq": "dlq", "orphaned": "orphaned"}[c.kind]
    return [
        c.query,
        kind,
        "yes" if c.stateful else "no",
        batch if c.exists else "no checkpoint",
        size_text(c.state_bytes) if c.state_bytes else "-",
        _offsets_text(c.offsets),
    ]


def list_text(rows: t.Sequence[Checkpoint], root: Path) -> str:
    """A table, one query a line; the checkpoint root above it, since every path shares it."""
    header = [
        "QUERY",
        "KIND",
        "STATEFUL",
        "LAST BATCH",
        "STATE",
        "OFFSETS (topic partition:offset)",
    ]
    table = [header, *(_row(c) for c in rows)]
    widths = [max(len(r[i]) for r in table) for i in range(len(header) - 1)]
    lines = [f"checkpoints in {root}"]
    for r in table:
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(r, widths)) + "  " + r[-1])
    return "\n".join(line.rstrip() for line in lines)


@state.command("list")
@project_options
@output_option()
def list_(args: ProjectArgs, output: str) -> None:
    """Each query's checkpoint: where, last batch, offsets, size of its state, stateful or not.

    Folders under the project's checkpoints that no query has any more are listed as orphaned.
    """
    rows, root = _checkpoints(args)
    if output == "json":
        click.echo(json.dumps([r.to_dict() for r in rows], indent=2))
    else:
        click.echo(list_text(rows, root))


def on_a_terminal() -> bool:
    """Whether a person can answer a question: deleting state is asked, not assumed."""
    return sys.stdin.isatty()


def _pick(rows: t.Sequence[Checkpoint], names: t.Sequence[str], every: bool) -> list[Checkpoint]:
    """The checkpoints to reset: the named ones (a did-you-mean for an unknown name), or all."""
    if every == bool(names):
        raise UserErrors(
            [
                UserError(
                    "name the queries to reset, or give --all"
                    if not names
                    else "give query names or --all, not both",
                    None,
                    "see `sqlstream state list` for the project's queries",
                )
            ]
        )
    if every:
        return [r for r in rows if r.exists]
    by_name = {r.query: r for r in rows}
    errors = []
    for name in names:
        if name not in by_name:
            close = difflib.get_close_matches(name, list(by_name), n=1, cutoff=0.6)
            hint = (
                f"did you mean {close[0]}?"
                if close
                else "see `sqlstream state list` for the project's queries"
            )
            errors.append(UserError(f"no query named {name} in this project", None, hint))
    if errors:
        raise UserErrors(errors)
    return [by_name[n] for n in dict.fromkeys(names)]


@state.command("reset")
@click.argument("queries", nargs=-1)
@click.option(
    "--all", "every", is_flag=True, help="Every checkpoint of the project (orphaned ones too)."
)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@target_option
@vars_option
@select_option
@profiles_dir_option
def reset(
    queries: tuple[str, ...],
    every: bool,
    yes: bool,
    target: str | None,
    vars_: str | None,
    select: tuple[str, ...],
    profiles_dir: str | None,
) -> None:
    """Delete the checkpoint (offsets and state) of QUERIES: they start again from their
    starting_offsets on the next run."""
    from sqlstream.spark import state as state_mod

    rows, root = _checkpoints(ProjectArgs((), target, vars_, select, profiles_dir))
    picked = _pick(rows, queries, every)
    present = [r for r in picked if r.exists]
    for r in picked:
        if not r.exists:
            click.echo(f"query {r.query} has no checkpoint (nothing at {r.path})")
    if not present:
        return
    if not yes:
        if not on_a_terminal():
            raise UserErrors(
                [
                    UserError(
                        "state reset deletes checkpoints and asks first,"
                        " but this is not a terminal",
                        None,
                        "add --yes to reset without asking",
                    )
                ]
            )
        listing = "\n".join(f"  {r.path}" for r in present)
        click.confirm(f"delete these checkpoints?\n{listing}\n", abort=True)
    for r in present:
        state_mod.delete(r, root)
        batch = "no batch" if r.last_batch is None else f"last batch {r.last_batch}"
        size = f", {size_text(r.state_bytes)} of state" if r.state_bytes else ""
        click.echo(f"deleted {r.path} (query {r.query}: {batch}{size})")
