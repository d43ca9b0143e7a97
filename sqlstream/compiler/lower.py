"""Lowering: how each sqlstream construct is written in Spark SQL.

The planner calls these functions and stores the text they return in the plan; the runtime applies
it with ``selectExpr`` / ``where`` and ``spark.script`` prints it into the standalone script, so
both run the very same expressions. Everything here is pure string building: no pyspark, no JVM.
Every form is checked on real Spark in ``tests/e2e/test_lower_spark.py``; ``docs/lowering.md``
explains the choices (and the Spark behaviour they rest on) for users and contributors.

Conventions:

- A Kafka record is decoded in two ``selectExpr`` steps. ``parse_exprs`` keeps the raw Kafka columns
  (``key``, ``value``, ``topic``, ``partition``, ``offset``, ``timestamp``, ``timestampType``,
  ``headers``) and adds hidden helper columns named ``__sqlstream_*``; ``output_exprs`` then gives
  the declared columns. User columns only appear as *aliases* of ``output_exprs``, so a user column
  called ``value`` or ``key`` never hides the raw column of the same name.
- Names are always backquoted and literals always escaped, so any user name works.
- Conditions are written with ``IS [NOT] NULL`` so they are never NULL themselves: true or false.
"""

from __future__ import annotations

import re

from sqlstream.compiler import codecs, formats
from sqlstream.compiler.codecs import (
    HIDDEN_PREFIX,
    Part,
    any_of,
    as_text_or_bytes,
    as_utf8_bytes,
    case,
    json_of,
    normalise_type,
    quote_ident,
    single,
    sql_string,
    text_to_type,
    utf8_text,
)
from sqlstream.compiler.plan import Decoding, Field, StreamColumn

TOMBSTONE_COLUMN = HIDDEN_PREFIX + "is_tombstone"
"""True for a record that is not an event of the stream (a null value): never one of its rows."""

ON_ERROR = formats.ON_ERROR
ON_TOMBSTONE = formats.ON_TOMBSTONE
TOMBSTONE_REASON = "tombstone (null value)"
KAFKA_HEADERS_TYPE = formats.HEADERS_TYPE
METADATA_COLUMNS = formats.METADATA_FIELDS

# --------------------------------------------------------------------------------------------
# Decoding a Kafka source
# --------------------------------------------------------------------------------------------


def _decode_value(
    columns: list[StreamColumn], value_format: str, format_options: dict[str, str]
) -> Part:
    if not columns:
        return Part()  # nothing to read from the value: it is not decoded at all
    fmt = formats.value_format(value_format)
    if not fmt.many and len(columns) != 1:
        names = ", ".join(c.name for c in columns)
        raise ValueError(
            f"format '{value_format}' holds exactly one value column, not {len(columns)} ({names})"
        )
    return fmt.decode(codecs.VALUE, columns, format_options)


def _decode_key(
    columns: list[StreamColumn], key_format: str, format_options: dict[str, str]
) -> Part:
    if not columns:
        return Part()
    fmt = formats.key_format(key_format)
    if not fmt.many and len(columns) != 1:
        names = ", ".join(c.name for c in columns)
        raise ValueError(
            f"key_format '{key_format}' holds exactly one KEY column, not {len(columns)} "
            f"({names}); use key_format = 'json' for several"
        )
    return fmt.decode(codecs.KEY, columns, format_options)


def last_header_sql(header_key: str, headers_sql: str = "`headers`") -> str:
    """The value (BINARY) of the last header with this key, as Kafka's ``lastHeader``; NULL when
    absent or when the record has no headers. ``try_element_at`` because ``element_at`` raises
    on an empty array under ANSI mode."""
    return f"try_element_at(filter({headers_sql}, h -> h.key = {sql_string(header_key)}), -1).value"


def _decode_header(column: StreamColumn, index: int) -> Part:
    if column.ref is None:
        raise ValueError(f"HEADER column {column.name} needs a header key")
    raw = quote_ident(f"{HIDDEN_PREFIX}header_{index}")
    part = Part(parse_exprs=[f"{last_header_sql(column.ref)} AS {raw}"])
    part.add(
        single(
            text_to_type(utf8_text(raw), raw, column.type, f"header {column.ref}"),
            column.name,
        )
    )
    return part


def _metadata(column: StreamColumn) -> str:
    if column.ref is None or column.ref not in METADATA_COLUMNS:
        known = ", ".join(METADATA_COLUMNS)
        raise ValueError(f"METADATA FROM {column.ref!r}: expected one of {known}")
    raw, raw_type = METADATA_COLUMNS[column.ref]
    if normalise_type(column.type) == raw_type:
        return quote_ident(raw)
    return f"CAST({quote_ident(raw)} AS {column.type})"


def decode(
    columns: list[StreamColumn],
    value_format: str,
    key_format: str,
    format_options: dict[str, str],
) -> Decoding:
    """How a raw Kafka record becomes the stream's declared columns.

    A record is *malformed* (``error_expr``) when its value is not valid in its format, when a
    declared field, the key or a typed header cannot be converted to its declared type: the whole
    record fails, as in ksqlDB. A missing field is NULL, not an error. A record whose value is NULL
    (a tombstone) or the JSON text ``null`` is not an event of a stream and never malformed: what
    happens to it is ``on_tombstone``'s policy (``error_filter``), skipped by default, as ksqlDB
    ignores it.

    Raises ValueError for what cannot be decoded (an unknown format, two value columns for
    ``text``, a hidden column name, ...): the planner reports it at the statement.
    """
    fmt = formats.value_format(value_format)
    formats.key_format(key_format)
    for c in columns:
        if c.name.lower().startswith(HIDDEN_PREFIX):
            raise ValueError(f"column names starting with {HIDDEN_PREFIX} are reserved: {c.name}")

    value_columns = [c for c in columns if c.role == "value"]
    decoded = Part()
    decoded.add(_decode_value(value_columns, value_format, format_options))
    decoded.add(_decode_key([c for c in columns if c.role == "key"], key_format, format_options))
    for index, c in enumerate(c for c in columns if c.role == "header"):
        decoded.add(_decode_header(c, index))
    for c in columns:
        if c.role == "headers":
            decoded.outputs[c.name] = "`headers`"
        elif c.role == "metadata":
            decoded.outputs[c.name] = _metadata(c)

    tombstone = "`value` IS NULL"
    if fmt.null_text_is_tombstone:
        tombstone += " OR CAST(`value` AS STRING) = 'null'"
    parse_exprs = ["*", *decoded.parse_exprs, f"({tombstone}) AS {quote_ident(TOMBSTONE_COLUMN)}"]
    conditions = [cond for cond, _ in decoded.errors]
    error_expr = (
        f"NOT {quote_ident(TOMBSTONE_COLUMN)} AND ({any_of(conditions)})" if conditions else "false"
    )
    reason_expr = case(decoded.errors, sql_string(f"record cannot be decoded as {value_format}"))
    output_exprs = [f"{decoded.outputs[c.name]} AS {quote_ident(c.name)}" for c in columns]
    return Decoding(
        parse_exprs=parse_exprs,
        error_expr=error_expr,
        reason_expr=reason_expr,
        output_exprs=output_exprs,
        functions=decoded.functions,
    )


def error_filter(
    decoding: Decoding, on_error: str, source_name: str, on_tombstone: str = ON_TOMBSTONE[0]
) -> str | None:
    """The ``where`` condition applied after ``parse_exprs``: keeps the good records.

    ``fail`` raises (``raise_error``) on the first malformed record or tombstone, naming the
    stream, the record's ``topic/partition@offset`` and the reason; ``skip`` and ``dlq`` drop it
    (the DLQ query selects it with ``dlq_filter``). ``on_error`` applies to malformed records,
    ``on_tombstone`` to tombstones.
    """
    policies = (("on_error", on_error, ON_ERROR), ("on_tombstone", on_tombstone, ON_TOMBSTONE))
    for option, value, choices in policies:
        if value not in choices:
            raise ValueError(f"unknown {option} {value!r}: expected one of {', '.join(choices)}")
    tombstone = quote_ident(TOMBSTONE_COLUMN)
    conditions = [_keep(tombstone, TOMBSTONE_REASON, None, on_tombstone, source_name)]
    if decoding.error_expr != "false":
        conditions.append(
            _keep(
                decoding.error_expr, "malformed record", decoding.reason_expr, on_error, source_name
            )
        )
    return " AND ".join(conditions)


def _keep(bad: str, what: str, reason: str | None, policy: str, source_name: str) -> str:
    """The condition keeping a record that is not ``bad``: a bad one is dropped, or raises
    ``<what> in stream <source> at <topic>/<partition>@<offset>[: <reason>]``."""
    if policy != "fail":
        return f"NOT {bad}" if re.fullmatch(r"`[^`]*`", bad) else f"NOT ({bad})"
    because = f", ': ', {reason}" if reason is not None else ""
    message = (
        f"concat({sql_string(f'{what} in stream {source_name} at ')}, "
        f"`topic`, '/', CAST(`partition` AS STRING), '@', CAST(`offset` AS STRING){because})"
    )
    return f"CASE WHEN {bad} THEN raise_error({message}) ELSE true END"


def dlq_filter(
    decoding: Decoding, on_error: str, on_tombstone: str = ON_TOMBSTONE[0]
) -> str | None:
    """The ``where`` of a source's dead-letter query: its malformed records with ``on_error =
    'dlq'``, its tombstones with ``on_tombstone = 'dlq'``; None when it has no DLQ."""
    selected = []
    if on_error == "dlq":
        selected.append(decoding.error_expr)
    if on_tombstone == "dlq":
        selected.append(quote_ident(TOMBSTONE_COLUMN))
    return any_of(selected) if selected else None


METRIC_COUNTS = "counts"
"""The suffix of a source's observed metrics: ``<source>.counts``."""
COUNT_DLQ, COUNT_SKIPPED, COUNT_TOMBSTONES = "dlq", "skipped", "tombstones"
"""The observed counts' names; ``spark.progress`` sums them by name over a query's sources."""


def count_exprs(decoding: Decoding, on_error: str) -> list[tuple[str, str]]:
    """(aggregate, name) pairs for ``DataFrame.observe`` over ``parse_exprs``' output: the
    malformed records (named ``dlq`` or ``skipped`` after where ``on_error`` sends them) and the
    tombstones (whatever ``on_tombstone`` does with them). ``observe`` works on streaming
    DataFrames; the counts are in each progress' ``observedMetrics``. Every source is observed,
    ``fail`` included: see ``spark.steps``."""
    malformed = COUNT_DLQ if on_error == "dlq" else COUNT_SKIPPED
    return [
        (f"count_if({decoding.error_expr})", malformed),
        (f"count_if({quote_ident(TOMBSTONE_COLUMN)})", COUNT_TOMBSTONES),
    ]


DLQ_HEADER_REASON = "sqlstream.error.reason"
DLQ_HEADER_TOPIC = "sqlstream.error.topic"
DLQ_HEADER_PARTITION = "sqlstream.error.partition"
DLQ_HEADER_OFFSET = "sqlstream.error.offset"
DLQ_HEADER_QUERY = "sqlstream.error.query"


def dlq_exprs(
    decoding: Decoding, source_name: str, query_name: str, on_tombstone: str = ON_TOMBSTONE[0]
) -> list[str]:
    """``selectExpr`` over ``parse_exprs``' output (of ``dlq_filter``'s records) giving the DLQ
    record for Spark's Kafka sink: the original key and value bytes (a tombstone's value stays
    NULL), the original headers (in order) followed by the five ``sqlstream.error.*`` headers
    (values UTF-8). ``source_name`` is not written: the error headers name the source topic and
    the query, as DESIGN 2.1 lists them."""
    del source_name
    reason = decoding.reason_expr
    if on_tombstone == "dlq":
        reason = case([(quote_ident(TOMBSTONE_COLUMN), sql_string(TOMBSTONE_REASON))], reason)
    error_headers = [
        (DLQ_HEADER_REASON, reason),
        (DLQ_HEADER_TOPIC, "`topic`"),
        (DLQ_HEADER_PARTITION, "CAST(`partition` AS STRING)"),
        (DLQ_HEADER_OFFSET, "CAST(`offset` AS STRING)"),
        (DLQ_HEADER_QUERY, sql_string(query_name)),
    ]
    added = headers_array([(k, f"encode({v}, 'UTF-8')") for k, v in error_headers])
    # concat of a NULL array is NULL: a record without headers gets only the error headers.
    original = f"coalesce(`headers`, CAST(array() AS {KAFKA_HEADERS_TYPE}))"
    return ["`key` AS `key`", "`value` AS `value`", f"concat({original}, {added}) AS `headers`"]


# --------------------------------------------------------------------------------------------
# Encoding a Kafka sink
# --------------------------------------------------------------------------------------------


def headers_array(pairs: list[tuple[str, str]]) -> str:
    """``array(named_struct('key', 'k', 'value', <BINARY>), ...)`` for the Kafka sink's headers.
    Each value SQL must already be BINARY (or NULL)."""
    items = [f"named_struct('key', {sql_string(k)}, 'value', {v})" for k, v in pairs]
    return "array(" + ", ".join(items) + ")"


def _encode_value(fields: list[Field], value_format: str, format_options: dict[str, str]) -> str:
    if not fields:
        raise ValueError("a sink needs at least one output column")
    fmt = formats.value_format(value_format)
    if not fmt.many and len(fields) != 1:
        raise ValueError(
            f"format '{value_format}' writes exactly one column, not {len(fields)} "
            f"({', '.join(f.name for f in fields)})"
        )
    return fmt.encode(fields, format_options)


def encode(
    fields: list[Field],
    value_format: str,
    *,
    key_sql: str | None = None,
    key_columns: list[str] | None = None,
    partition_sql: str | None = None,
    header_pairs: list[tuple[str, str]] | None = None,
    headers_sql: str | None = None,
    topic_sql: str | None = None,
    value_sql: str | None = None,
    format_options: dict[str, str] | None = None,
) -> list[str]:
    """``selectExpr`` over the SELECT's output giving the columns Spark's Kafka sink reads:
    ``key``, ``value`` and, only when given, ``topic``, ``partition`` and ``headers``.

    ``key_sql``, ``partition_sql``, ``headers_sql``, ``topic_sql``, ``value_sql`` and the values of
    ``header_pairs`` are Spark SQL over the output columns; ``key_columns`` are their names.
    """
    if key_sql is not None and key_columns:
        raise ValueError("KEY is either an expression or a column list, not both")
    if header_pairs and headers_sql is not None:
        raise ValueError("HEADERS is either a list of pairs or an array expression, not both")

    if key_columns:
        key = json_of(list(key_columns))
    elif key_sql is not None:
        key = as_text_or_bytes(key_sql)
    else:
        key = "CAST(NULL AS BINARY)"
    exprs = [f"{key} AS `key`"]

    if value_sql is not None:
        value = as_text_or_bytes(value_sql)
    else:
        value = _encode_value(fields, value_format, format_options or {})
    exprs.append(f"{value} AS `value`")

    if topic_sql is not None:
        exprs.append(f"CAST({topic_sql} AS STRING) AS `topic`")
    if partition_sql is not None:
        exprs.append(f"CAST({partition_sql} AS INT) AS `partition`")
    if header_pairs:
        pairs = [(k, as_utf8_bytes(v)) for k, v in header_pairs]
        exprs.append(f"{headers_array(pairs)} AS `headers`")
    elif headers_sql is not None:
        exprs.append(f"({headers_sql}) AS `headers`")
    return exprs


# --------------------------------------------------------------------------------------------
# Watermarks
# --------------------------------------------------------------------------------------------

# Units withWatermark's interval string takes; months and years have no fixed length.
_DELAY_UNITS = {
    "week": "week",
    "day": "day",
    "hour": "hour",
    "minute": "minute",
    "second": "second",
    "millisecond": "millisecond",
    "microsecond": "microsecond",
}
_NUMBER = r"\d+(?:\.\d+)?"
_UNIT = r"[A-Za-z]+"
_PAIR = re.compile(rf"\s*(?:'\s*({_NUMBER})\s*'|({_NUMBER}))\s*({_UNIT})\s*")
_QUOTED_PAIRS = re.compile(rf"\s*({_NUMBER})\s+({_UNIT})\s*")


def _delay_unit(word: str, interval_sql: str) -> str:
    unit = word.lower()
    if unit.endswith("s") and unit[:-1] in _DELAY_UNITS:
        unit = unit[:-1]
    if unit not in _DELAY_UNITS:
        raise ValueError(
            f"a watermark delay is in weeks, days, hours, minutes, seconds, milliseconds or "
            f"microseconds; {word!r} in {interval_sql!r} is not one of them"
        )
    return _DELAY_UNITS[unit]


def _delay_part(number: str, unit: str) -> str:
    return f"{number} {unit}" + ("" if number == "1" else "s")


def watermark_delay(interval_sql: str) -> str:
    """The delay string ``withWatermark`` takes (``10 minutes``) from the Spark SQL text of the
    WATERMARK's interval: ``INTERVAL '10' MINUTES``, ``INTERVAL 10 MINUTES``,
    ``INTERVAL '30 seconds'``, ``INTERVAL 1 HOUR 30 MINUTES``. Raises ValueError otherwise
    (negative, year/month units, ``HOUR TO MINUTE`` forms, expressions)."""
    text = interval_sql.strip()
    match = re.fullmatch(r"(?is)interval\s+(.*)", text)
    if not match:
        raise ValueError(f"a watermark delay is an INTERVAL literal, not {interval_sql!r}")
    body = match.group(1).strip()
    if "-" in body:
        raise ValueError(f"a watermark delay cannot be negative: {interval_sql!r}")
    if re.search(r"(?i)\bto\b", body):
        raise ValueError(
            "write the watermark delay as one unit or a sum of units "
            f"(INTERVAL 1 HOUR 30 MINUTES), not {interval_sql!r}"
        )
    parts: list[str] = []
    whole_string = re.fullmatch(r"'([^']*)'", body)
    if whole_string:  # INTERVAL '1 hour 30 minutes'
        inner = whole_string.group(1)
        pos = 0
        while pos < len(inner):
            m = _QUOTED_PAIRS.match(inner, pos)
            if not m or m.end() == pos:
                raise ValueError(f"cannot read the watermark delay {interval_sql!r}")
            parts.append(_delay_part(m.group(1), _delay_unit(m.group(2), interval_sql)))
            pos = m.end()
    else:  # INTERVAL '10' MINUTES, INTERVAL 10 MINUTES, INTERVAL 1 HOUR 30 MINUTES
        pos = 0
        while pos < len(body):
            m = _PAIR.match(body, pos)
            if not m or m.end() == pos:
                raise ValueError(f"cannot read the watermark delay {interval_sql!r}")
            number = m.group(1) or m.group(2)
            parts.append(_delay_part(number, _delay_unit(m.group(3), interval_sql)))
            pos = m.end()
    if not parts:
        raise ValueError(f"cannot read the watermark delay {interval_sql!r}")
    return " ".join(parts)
