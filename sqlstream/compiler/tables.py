"""Reference tables: how ``CREATE TABLE ... FROM KAFKA | FILES | JDBC`` is read.

A table is joined to a stream as Spark joins a stream to a batch DataFrame: each micro-batch
plans the batch side again, so each stream record meets the table as it is when its micro-batch
runs (a ksqlDB stream-table join), and a later change of the table never re-emits an earlier
record. A Kafka table is its topic from the earliest to the latest offset at that moment, the
latest record per key (by timestamp, then partition and offset), a tombstone deleting the key.
The cost is one read of the table per micro-batch: tables are for reference data, not for
topics of millions of keys (docs/lowering.md).
"""

from __future__ import annotations

import dataclasses
import typing as t

from sqlglot import exp

from sqlstream.compiler import codecs, formats, lower
from sqlstream.compiler.analyse import Analysis, QueryDef, TableDef
from sqlstream.compiler.plan import TablePlan
from sqlstream.compiler.syntax import nodes as n
from sqlstream.errors import Diagnostics

_ORDER = ("__ts", "__p", "__o")
"""Hidden columns of a Kafka table's records: timestamp, partition, offset (the latest wins)."""
_DELETED = "__deleted"
_LATEST = "__latest"
LATEST = _LATEST
"""The column of the latest record per key, as ``agg`` names it."""
LIVE = f"NOT {_LATEST}.{_DELETED}"
"""The ``where`` keeping the keys whose latest record is no tombstone."""

FILE_FORMATS = ("csv", "json", "parquet")

#: ``jdbc:<scheme>:`` -> (the driver's Maven coordinate, its class): the driver `run` fetches.
JDBC_DRIVERS: dict[str, tuple[str, str]] = {
    "postgresql": ("org.postgresql:postgresql:42.7.4", "org.postgresql.Driver"),
}

#: connector -> (its own options, required ones, whether other keys pass to Spark's reader).
CONNECTOR_OPTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...], bool]] = {
    "kafka": (
        ("topic", "format", "key_format", "on_error", *formats.FORMAT_OPTIONS),
        ("topic",),
        False,
    ),
    "files": (("path", "format"), ("path", "format"), True),
    "jdbc": (("url", "table"), ("url", "table"), True),
}


def plan_table(table: TableDef, diags: Diagnostics) -> TablePlan | None:
    """The table's reads, or None (each problem reported at the statement's option)."""
    if len(table.key) != len(table.node.primary_key):
        return None  # a key column that is not declared: reported by the analysis
    before = len(diags.errors)
    values = _options(table, diags)
    if len(diags.errors) > before:
        return None
    return _PLANNERS[table.node.connector.value](table, values, diags)


def _options(table: TableDef, diags: Diagnostics) -> dict[str, str]:
    connector = table.node.connector.value
    own, required, passes = CONNECTOR_OPTIONS[connector]
    values: dict[str, str] = {}
    for opt in table.node.options:
        name = opt.name
        if name.lower() in own:
            name = name.lower()
        elif not (passes or name.lower().startswith("kafka.")):
            diags.error(
                f"unknown option '{opt.name}' of a table FROM {connector.upper()}",
                table.stmt.locate(opt.key_span),
                f"the options are: {', '.join(own)}; Kafka client settings are quoted, "
                "e.g. 'kafka.group.id' = 'x'",
            )
            continue
        values[name] = opt.value.text
    for name in required:
        if name not in values:
            diags.error(
                f"table '{table.name}' FROM {connector.upper()} needs the option '{name}'",
                table.stmt.locate(table.node.connector),
                _EXAMPLES[connector],
            )
    return values


_EXAMPLES = {
    "kafka": "e.g. FROM KAFKA (topic = 'products', format = 'json')",
    "files": "e.g. FROM FILES (path = 'data/products.csv', format = 'csv')",
    "jdbc": "e.g. FROM JDBC (url = 'jdbc:postgresql://db:5432/shop', table = 'products')",
}


def _kafka(table: TableDef, values: dict[str, str], diags: Diagnostics) -> TablePlan | None:
    if len(table.key) != 1:
        diags.error(
            f"a Kafka table is keyed by its record key: table '{table.name}' declares "
            f"{len(table.key)} PRIMARY KEY columns",
            table.stmt.locate(table.node.primary_key[0].span),
            "declare one column, e.g. PRIMARY KEY (product)",
        )
        return None
    key = table.key[0]
    columns = [
        c if c.name != key else dataclasses.replace(c, role="key", ref=None) for c in table.columns
    ]
    on_error = values.get("on_error", "fail")
    if on_error not in ("fail", "skip"):
        diags.error(
            f"on_error of a table is 'fail' or 'skip', not '{on_error}'",
            table.stmt.locate(_option(table, "on_error")),
            "a table has no dead-letter topic: skip drops a malformed record",
        )
        return None
    format_options = {k: values[k] for k in formats.FORMAT_OPTIONS if k in values}
    try:
        decoding = lower.decode(
            columns, values.get("format", "json"), values.get("key_format", "text"), format_options
        )
    except ValueError as e:
        diags.error(str(e), table.stmt.locate(table.node.name), None)
        return None
    read = {
        "subscribe": values["topic"],
        "startingOffsets": "earliest",
        "endingOffsets": "latest",
        **{k: v for k, v in values.items() if k.startswith("kafka.")},
    }
    names = [c.name for c in columns]
    others = [c for c in names if c != key]
    fields = ", ".join(f"{lower.sql_string(c)}, {lower.quote_ident(c)}" for c in others)
    return TablePlan(
        name=table.name,
        file=table.stmt.file.path,
        connector="kafka",
        columns=columns,
        key=[key],
        read_format="kafka",
        read_options=read,
        decode_exprs=decoding.parse_exprs,
        keep_filter=_keep(decoding.error_expr, decoding.reason_expr, on_error, table.name),
        row_exprs=[
            *decoding.output_exprs,
            f"{lower.quote_ident(lower.TOMBSTONE_COLUMN)} AS {_DELETED}",
            "`timestamp` AS __ts",
            "`partition` AS __p",
            "`offset` AS __o",
        ],
        latest=f"max_by(named_struct({fields + ', ' if fields else ''}'{_DELETED}', "
        f"{_DELETED}), struct({', '.join(_ORDER)}))",
        output_exprs=[
            lower.quote_ident(key),
            *[f"{_LATEST}.{lower.quote_ident(c)} AS {lower.quote_ident(c)}" for c in others],
        ],
    )


def _keep(error_expr: str, reason_expr: str, on_error: str, name: str) -> str | None:
    """Keeps the good records and the tombstones; a malformed one fails the query or is dropped."""
    if error_expr == "false":
        return None
    if on_error == "skip":
        return f"NOT ({error_expr})"
    message = (
        f"concat({lower.sql_string(f'malformed record in table {name} at ')}, `topic`, '/', "
        f"CAST(`partition` AS STRING), '@', CAST(`offset` AS STRING), ': ', {reason_expr})"
    )
    return f"CASE WHEN {error_expr} THEN raise_error({message}) ELSE true END"


def _files(table: TableDef, values: dict[str, str], diags: Diagnostics) -> TablePlan | None:
    fmt = values["format"].lower()
    if fmt not in FILE_FORMATS:
        diags.error(
            f"a files table reads csv, json or parquet, not '{values['format']}'",
            table.stmt.locate(_option(table, "format")),
            "e.g. format = 'csv'",
        )
        return None
    reader = {k: v for k, v in values.items() if k not in ("path", "format")}
    if fmt == "csv":
        reader.setdefault("header", "true")
    return TablePlan(
        name=table.name,
        file=table.stmt.file.path,
        connector="files",
        columns=table.columns,
        key=table.key,
        read_format=fmt,
        read_options=reader,
        path=values["path"],
        schema=codecs.ddl_schema((c.name, c.type) for c in table.columns),
        row_exprs=[lower.quote_ident(c.name) for c in table.columns],
    )


def _jdbc(table: TableDef, values: dict[str, str], diags: Diagnostics) -> TablePlan | None:
    scheme = values["url"].split(":")[1] if values["url"].count(":") >= 2 else ""
    if not values["url"].startswith("jdbc:") or scheme not in JDBC_DRIVERS:
        diags.error(
            f"no JDBC driver for '{values['url']}'",
            table.stmt.locate(_option(table, "url")),
            f"the drivers sqlstream fetches: {', '.join(JDBC_DRIVERS)} "
            "(e.g. url = 'jdbc:postgresql://db:5432/shop'); the user and password come from "
            "the target's jdbc: settings in profiles.yml",
        )
        return None
    package, driver = JDBC_DRIVERS[scheme]
    reader = {k: v for k, v in values.items() if k not in ("table",)}
    reader["dbtable"] = values["table"]
    reader.setdefault("driver", driver)
    return TablePlan(
        name=table.name,
        file=table.stmt.file.path,
        connector="jdbc",
        columns=table.columns,
        key=table.key,
        read_format="jdbc",
        read_options=reader,
        packages=[package],
        row_exprs=[
            f"CAST({lower.quote_ident(c.name)} AS {c.type}) AS {lower.quote_ident(c.name)}"
            for c in table.columns
        ],
    )


def _option(table: TableDef, name: str) -> n.Span:
    opt = next(o for o in table.node.options if o.name.lower() == name)
    return opt.value.span


_PLANNERS: dict[str, t.Callable[[TableDef, dict[str, str], Diagnostics], TablePlan | None]] = {
    "kafka": _kafka,
    "files": _files,
    "jdbc": _jdbc,
}


def check_reads_a_stream(q: QueryDef, analysis: Analysis, diags: Diagnostics) -> None:
    """A query over tables alone is no stream: it would run once, not for ever."""
    if q.broken or not any(r in analysis.tables for r in q.reads):
        return
    if any(r not in analysis.tables for r in q.reads):
        return
    table = next(r for r in q.reads if r in analysis.tables)
    node = next((tb for tb in q.query.find_all(exp.Table) if tb.name.lower() == table), q.query)
    diags.error(
        f"this query reads only tables ({', '.join(r for r in q.reads)}): a table is joined "
        "to a stream, it is not one",
        q.stmt.locate(node),
        f"read a stream and join the table to it: FROM orders o JOIN {table} t ON ...",
    )
