"""``sqlstream peek``: a query's rows in the terminal as they arrive, with no sink.

``peek QUERY`` (a query name, a query file, or a stream) or ``peek --sql "SELECT ..."`` over the
project's streams. The compiler says what to run (``compiler.peek``), Spark runs it
(``spark.peek``), and this module turns each batch of rows into text: a table whose widths come
from the values, or one JSON object a line with ``--output json``.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import sys
import typing as t

import click

from sqlstream.cli.console import console
from sqlstream.cli.options import (
    bootstrap_servers_option,
    output_option,
    profiles_dir_option,
    target_option,
    vars_option,
)
from sqlstream.errors import UserError, UserErrors

if t.TYPE_CHECKING:
    from sqlstream.spark.peek import Batch, Ended

MAX_WIDTH = 40
"""A longer value is cut to this many characters, the last an ellipsis."""
ELLIPSIS = "…"
NULL = "NULL"
NUMBERS = (int, float, decimal.Decimal)

# How a value reads in a cell, first match wins: one row per kind of value.
CELL: tuple[tuple[type | tuple[type, ...], t.Callable[[t.Any], str]], ...] = (
    (type(None), lambda v: NULL),
    (bool, lambda v: "true" if v else "false"),
    (dt.datetime, lambda v: v.isoformat(sep=" ")),
    (dt.date, lambda v: v.isoformat()),
    ((bytes, bytearray), lambda v: "0x" + bytes(v).hex()),
    (dict, lambda v: "{" + ", ".join(f"{k}: {cell(x)}" for k, x in v.items()) + "}"),
    ((list, tuple), lambda v: "[" + ", ".join(cell(x) for x in v) + "]"),
)

# How a value is written in JSON (what json.dumps cannot write on its own).
JSON: tuple[tuple[type | tuple[type, ...], t.Callable[[t.Any], t.Any]], ...] = (
    ((dt.datetime, dt.date), lambda v: v.isoformat()),
    ((bytes, bytearray), lambda v: base64.b64encode(bytes(v)).decode("ascii")),
    (decimal.Decimal, float),
)


def cell(value: t.Any) -> str:
    """The text of one value on one line (a newline in a string shows as ``\\n``)."""
    text = next((show(value) for kind, show in CELL if isinstance(value, kind)), None)
    if text is None:
        text = str(value)
    return text.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")


def cut(text: str, width: int = MAX_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1] + ELLIPSIS


def table(
    columns: t.Sequence[str], rows: t.Sequence[t.Sequence[t.Any]], width: int = MAX_WIDTH
) -> list[str]:
    """A header, a rule and a line per row; numbers right-aligned, text left-aligned."""
    header = [cut(c, width) for c in columns]
    texts = [[cut(cell(v), width) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in texts)]) for i, h in enumerate(header)]
    right = [
        bool(rows) and all(_is_number(r[i]) for r in rows if r[i] is not None)
        for i in range(len(columns))
    ]

    def line(values: t.Sequence[str], align: t.Sequence[bool]) -> str:
        return " | ".join(
            v.rjust(w) if a else v.ljust(w) for v, w, a in zip(values, widths, align)
        ).rstrip()

    rule = "-+-".join("-" * w for w in widths)
    return [line(header, [False] * len(header)), rule, *(line(r, right) for r in texts)]


def _is_number(value: t.Any) -> bool:
    return isinstance(value, NUMBERS) and not isinstance(value, bool)


def json_line(columns: t.Sequence[str], row: t.Sequence[t.Any]) -> str:
    """One row as a JSON object, columns in order (NULL as ``null``, binary as base64)."""
    return json.dumps(dict(zip(columns, row)), ensure_ascii=False, default=_jsonable)


def _jsonable(value: t.Any) -> t.Any:
    for kind, convert in JSON:
        if isinstance(value, kind):
            return convert(value)
    return str(value)


def batch_lines(batch: Batch, output: str) -> list[str]:
    if output == "json":
        return [json_line(batch.columns, row) for row in batch.rows]
    return [*table(batch.columns, batch.rows), ""]


ENDED = {
    "max": "stopped after {rows} (--max)",
    "timeout": "stopped after {rows}: nothing arrived for {timeout:g} s (--timeout)",
    "stopped": "stopped after {rows}",
    "ended": "the query ended after {rows}",
}


def _rows(n: int) -> str:
    return f"{n} row{'s' if n != 1 else ''}"


@click.command()
@click.argument("query", required=False)
@click.option("--sql", "sql", metavar="SELECT", help="A SELECT over the project's streams.")
@click.option(
    "--max",
    "max_rows",
    type=click.IntRange(min=0),
    default=20,
    show_default=True,
    help="Stop after this many rows (0: no limit).",
)
@click.option(
    "--from",
    "start",
    type=click.Choice(["earliest", "latest"]),
    help="Where every source starts (default: its own starting_offsets).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="Stop when no row arrives for this long (default: wait for Ctrl-C or --max).",
)
@output_option("text: a table per batch; json: one object a line.")
@target_option
@vars_option
@profiles_dir_option
@bootstrap_servers_option
def peek(
    query: str | None,
    sql: str | None,
    max_rows: int,
    start: str | None,
    timeout: float | None,
    output: str,
    target: str | None,
    vars_: str | None,
    profiles_dir: str | None,
    bootstrap_servers: str | None,
) -> None:
    """Show the rows of QUERY (a query name, a query file or a stream) or of --sql as they
    arrive, writing nothing to Kafka and leaving no checkpoint."""
    from sqlstream.compiler import peek as compiling
    from sqlstream.spark import peek as peeking

    if (query is None) == (sql is None):
        raise UserErrors(
            [
                UserError(
                    "peek takes a QUERY or --sql, one of the two",
                    None,
                    'e.g. sqlstream peek spend_1, or sqlstream peek --sql "SELECT * FROM orders"',
                )
            ]
        )
    options = compiling.ProjectOptions(target, vars_, profiles_dir)
    compiled, what = (
        compiling.peek_sql(options, sql)
        if sql is not None
        else compiling.peek_named(options, t.cast(str, query))
    )
    console.not_checked(compiled.not_checked)
    from sqlstream.kafka import preflight
    from sqlstream.project.env import display_path
    from sqlstream.spark import runlog

    plan, connection = compiling.needed_plan(compiled, what), compiled.connection(bootstrap_servers)
    for note in preflight.check_reads(plan, connection):  # a broker down: one line, in seconds
        console.err(f"note: {note}")

    log = runlog.new_path(compiled.project.root)
    console.err(f"Spark's log: {display_path(log)}")
    # A --sql text has no name of its own: its place (`<--sql>`) says what it is.
    shown = what.place if what.name == "peek" else f"{what.name} ({what.place})"
    console.err(f"peek {shown} from {start or 'its starting offsets'}; Ctrl-C to stop")

    def waiting() -> None:
        if what.waits_for_watermark:
            console.err(
                f"note: {what.name} aggregates: a row appears when the watermark closes its window"
                " (append mode), not as each record arrives"
            )

    def show(batch: Batch) -> None:
        for line in batch_lines(batch, output):
            console.out(line)
        sys.stdout.flush()

    ended: Ended = peeking.peek(
        plan,
        what,
        connection,
        on_batch=show,
        on_waiting=waiting,
        start=start,
        max_rows=max_rows,
        timeout=timeout,
        log=log,
    )
    console.err(ENDED[ended.why].format(rows=_rows(ended.rows), timeout=timeout or 0))


COMMANDS = (peek,)
