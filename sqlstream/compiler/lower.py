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

import json
import re
import typing as t
from dataclasses import dataclass, field

from sqlstream.compiler import formats
from sqlstream.compiler.plan import Decoding, Field, StreamColumn

HIDDEN_PREFIX = "__sqlstream_"
"""Every helper column starts with this, so it cannot clash with a user column."""
VALUE_COLUMN = HIDDEN_PREFIX + "value"
"""The parsed value (a struct) for json, csv and avro."""
KEY_COLUMN = HIDDEN_PREFIX + "key"
"""The parsed key (a struct) for ``key_format = 'json'``."""
CORRUPT_FIELD = HIDDEN_PREFIX + "corrupt"
"""Spark's ``columnNameOfCorruptRecord``: the record's text when it failed to parse."""
AVRO_OK_FIELD = HIDDEN_PREFIX + "ok"
"""A reader-schema field with default true: NULL exactly when Avro decoding failed."""
TOMBSTONE_COLUMN = HIDDEN_PREFIX + "is_tombstone"
"""True for a record that is not an event of the stream (a null value): never one of its rows."""

ON_ERROR = formats.ON_ERROR
ON_TOMBSTONE = formats.ON_TOMBSTONE
TOMBSTONE_REASON = "tombstone (null value)"
KAFKA_HEADERS_TYPE = formats.HEADERS_TYPE
METADATA_COLUMNS = formats.METADATA_FIELDS

# The same bytes whatever the machine's time zone: timestamps in records are read and written in
# UTC unless the text carries its own offset (written ones always do: ``...T10:00:00.000Z``).
_TEXT_FORMAT_OPTIONS = {"timeZone": "UTC"}

_REASON_VALUE_MAX_CHARS = 100
"""How much of an offending field's text a reason quotes."""

_COMPLEX_TYPE = re.compile(r"^\s*(ARRAY|MAP|STRUCT)\s*<", re.IGNORECASE)
_TYPE_SYNONYMS = {"INTEGER": "INT", "LONG": "BIGINT", "SHORT": "SMALLINT", "BYTE": "TINYINT"}


# --------------------------------------------------------------------------------------------
# Small SQL text helpers
# --------------------------------------------------------------------------------------------


def quote_ident(name: str) -> str:
    """A Spark SQL identifier for any name: ``my col`` -> ```my col```."""
    return "`" + name.replace("`", "``") + "`"


def sql_string(text: str) -> str:
    """A Spark SQL string literal. Spark processes backslash escapes in literals by default."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def sql_map(options: t.Mapping[str, str]) -> str:
    """``map('k', 'v', ...)``: the options argument of from_json, to_csv, from_avro..."""
    return "map(" + ", ".join(f"{sql_string(k)}, {sql_string(v)}" for k, v in options.items()) + ")"


def ddl_schema(columns: t.Iterable[tuple[str, str]]) -> str:
    """A DDL schema string (``\\`a\\` STRING, \\`b\\` DOUBLE``) for from_json / from_csv."""
    return ", ".join(f"{quote_ident(name)} {type_}" for name, type_ in columns)


def normalise_type(type_: str) -> str:
    """``integer`` -> ``INT``, ``array< string >`` -> ``ARRAY<STRING>``: for comparing types."""
    compact = re.sub(r"\s+", "", type_.upper())
    return _TYPE_SYNONYMS.get(compact, compact)


def _is_string(type_: str) -> bool:
    return normalise_type(type_) == "STRING"


def _is_binary(type_: str) -> bool:
    return normalise_type(type_) == "BINARY"


def _any(conditions: list[str]) -> str:
    if not conditions:
        return "false"
    if len(conditions) == 1:
        return conditions[0]
    return " OR ".join(f"({c})" for c in conditions)


def _case(branches: list[tuple[str, str]], otherwise: str) -> str:
    if not branches:
        return otherwise
    whens = " ".join(f"WHEN {cond} THEN {result}" for cond, result in branches)
    return f"CASE {whens} ELSE {otherwise} END"


def _quoted_excerpt(text_sql: str) -> str:
    """SQL for ``"<first 100 chars of text>"``, to show an offending value in a reason."""
    return f"""concat('"', left({text_sql}, {_REASON_VALUE_MAX_CHARS}), '"')"""


def _cannot_convert(what: str, text_sql: str, type_: str) -> str:
    """SQL for the reason ``<what> cannot be converted to <TYPE>: "<text>"``."""
    return (
        f"concat({sql_string(f'{what} cannot be converted to {type_.upper()}: ')}, "
        f"{_quoted_excerpt(text_sql)})"
    )


def _as_utf8_bytes(sql: str) -> str:
    """BINARY stays as it is; anything else becomes the UTF-8 bytes of its string form.

    ``concat`` of one BINARY argument returns BINARY, of anything else a STRING (implicitly cast),
    so this needs no knowledge of the expression's type; NULL stays NULL.
    """
    return f"CAST(concat({sql}) AS BINARY)"


def _as_text_or_bytes(sql: str) -> str:
    """BINARY stays as it is, anything else its string form (Kafka's sink takes both)."""
    return f"concat({sql})"


# --------------------------------------------------------------------------------------------
# Decoding a Kafka source
# --------------------------------------------------------------------------------------------


@dataclass
class _Part:
    """What decoding one part of the record (value, key, a header) contributes."""

    parse_exprs: list[str] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    """Declared column name -> SQL over parse_exprs' output."""
    errors: list[tuple[str, str]] = field(default_factory=list)
    """(condition true when this part is malformed, SQL of the reason), in priority order."""

    def add(self, other: _Part) -> None:
        self.parse_exprs += other.parse_exprs
        self.outputs.update(other.outputs)
        self.errors += other.errors


def _text_to_type(text_sql: str, raw_sql: str, type_: str, what: str) -> _Part:
    """One text (UTF-8 decoded bytes) cast to a declared type; malformed when that fails.

    ``try_cast`` rather than ``CAST``: with ANSI mode (Spark 4's default) a failed CAST raises.
    """
    part = _Part()
    if _is_string(type_):
        part.outputs[""] = text_sql
        return part
    if _is_binary(type_):
        part.outputs[""] = raw_sql
        return part
    converted = f"try_cast({text_sql} AS {type_})"
    part.outputs[""] = converted
    part.errors.append(
        (f"{raw_sql} IS NOT NULL AND {converted} IS NULL", _cannot_convert(what, text_sql, type_))
    )
    return part


def _single(part: _Part, name: str) -> _Part:
    """Name the one anonymous output of ``_text_to_type``."""
    part.outputs = {name: part.outputs[""]}
    return part


def _json_struct(struct_col: str, raw_col: str, columns: list[StreamColumn], what: str) -> _Part:
    """``from_json`` of a raw column into a hidden struct (used for the value and the key).

    PERMISSIVE mode with a corrupt-record field: Spark 4.2 fills that field with the record's text
    both for invalid JSON (and JSON that is not an object) and for a field it cannot convert to its
    declared type; the other fields keep their values. An empty or blank text gives a NULL struct.
    A missing field is simply NULL, not an error. Why a record is malformed: ``_json_reasons``.
    """
    text = f"CAST({raw_col} AS STRING)"
    schema = ddl_schema([(c.name, c.type) for c in columns] + [(CORRUPT_FIELD, "STRING")])
    options = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT_FIELD}
    options.update(_TEXT_FORMAT_OPTIONS)
    struct = quote_ident(struct_col)
    part = _Part(
        parse_exprs=[f"from_json({text}, {sql_string(schema)}, {sql_map(options)}) AS {struct}"],
        outputs={c.name: f"{struct}.{quote_ident(c.name)}" for c in columns},
    )
    part.errors.append(
        (
            (
                f"{raw_col} IS NOT NULL AND ({struct} IS NULL OR "
                f"{struct}.{quote_ident(CORRUPT_FIELD)} IS NOT NULL)"
            ),
            _case(_json_reasons(text, struct, columns, what), _json_reason(what, "not valid JSON")),
        )
    )
    return part


def _json_reason(what: str, reason: str) -> str:
    """A reason as SQL: the value's reasons as they are, the key's prefixed (``key: ...``)."""
    return sql_string(reason if what == "value" else f"{what}: {reason}")


def _json_reasons(
    text: str, struct: str, columns: list[StreamColumn], what: str
) -> list[tuple[str, str]]:
    """Why a JSON text that ``from_json`` flagged is malformed, first match wins.

    Only evaluated for a record already known to be malformed. ``get_json_object(text, '$')``
    reads with the parser ``from_json`` uses (Jackson, with Spark's options) and is NULL exactly
    when the text is no JSON at all; ``json_object_keys`` is NULL for JSON that is not an object
    (checked on Spark 4.2 in tests/e2e/test_lower_spark.py).
    """
    prefix = "" if what == "value" else f"{what} "
    reasons = [
        (f"trim({text}) = ''", sql_string(f"empty {what}")),
        (
            f"json_object_keys({text}) IS NULL AND get_json_object({text}, '$') IS NULL",
            _json_reason(what, "not valid JSON"),
        ),
        (f"json_object_keys({text}) IS NULL", _json_reason(what, "JSON, but not an object")),
    ]
    for c in columns:
        if _is_string(c.type):
            continue  # Spark reads any JSON value into a STRING field (an object as its text)
        found = f"get_json_object({text}, {sql_string(_json_path(c.name))})"
        reasons.append(
            (
                f"{found} IS NOT NULL AND {struct}.{quote_ident(c.name)} IS NULL",
                _cannot_convert(f"{prefix}field {c.name}", found, c.type),
            )
        )
    return reasons


def _json_path(name: str) -> str:
    """A ``get_json_object`` path for a top-level field of any name."""
    return "$['" + name.replace("\\", "\\\\").replace("'", "\\'") + "']"


def _csv_options(format_options: t.Mapping[str, str]) -> dict[str, str]:
    """Options of from_csv / to_csv: ``csv_delimiter`` is Spark's ``sep`` (default ``,``)."""
    options = dict(_TEXT_FORMAT_OPTIONS)
    if "csv_delimiter" in format_options:
        options["sep"] = format_options["csv_delimiter"]
    return options


def _csv_value(columns: list[StreamColumn], format_options: t.Mapping[str, str]) -> _Part:
    """``from_csv`` in PERMISSIVE mode: too few or too many fields, or a field that cannot be
    converted, fill the corrupt-record field (Spark 4.2). An empty value parses as all NULLs
    without being flagged, so it is checked explicitly."""
    for c in columns:
        if _COMPLEX_TYPE.match(c.type):
            raise ValueError(f"csv values hold plain columns only; {c.name} is {c.type}")
    text = "CAST(`value` AS STRING)"
    options = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT_FIELD}
    options.update(_csv_options(format_options))
    schema = ddl_schema([(c.name, c.type) for c in columns] + [(CORRUPT_FIELD, "STRING")])
    struct = quote_ident(VALUE_COLUMN)
    part = _Part(
        parse_exprs=[f"from_csv({text}, {sql_string(schema)}, {sql_map(options)}) AS {struct}"],
        outputs={c.name: f"{struct}.{quote_ident(c.name)}" for c in columns},
    )
    # The tokens as text, to tell a wrong field count from a field that does not convert.
    text_schema = ddl_schema([(c.name, "STRING") for c in columns] + [(CORRUPT_FIELD, "STRING")])
    tokens = f"from_csv({text}, {sql_string(text_schema)}, {sql_map(options)})"
    reasons = [
        (
            f"{tokens}.{quote_ident(CORRUPT_FIELD)} IS NOT NULL",
            sql_string(f"value does not have exactly {len(columns)} csv fields"),
        )
    ]
    for c in columns:
        token = f"{tokens}.{quote_ident(c.name)}"
        reasons.append(
            (
                f"{token} IS NOT NULL AND {struct}.{quote_ident(c.name)} IS NULL",
                _cannot_convert(f"field {c.name}", token, c.type),
            )
        )
    part.errors.append(("length(`value`) = 0", sql_string("empty value")))
    part.errors.append(
        (
            f"{struct}.{quote_ident(CORRUPT_FIELD)} IS NOT NULL",
            _case(reasons, sql_string("value is not valid csv")),
        )
    )
    return part


def _avro_value(columns: list[StreamColumn], avro_schema: str | None) -> _Part:
    """``from_avro`` (a SQL function since Spark 4.0, usable only with the spark-avro package).

    In PERMISSIVE mode Spark 4.2 turns an undecodable record into a struct of NULLs, which looks
    exactly like a valid record whose fields are all null. So the record is read with a reader
    schema (``avroSchema`` option) that adds a boolean field defaulting to true: it is NULL exactly
    when decoding failed. Avro types are then cast to the declared types with ``try_cast``.
    """
    if not avro_schema:
        raise ValueError("format 'avro' needs the option avro_schema (the Avro schema as JSON)")
    try:
        writer = json.loads(avro_schema)
    except json.JSONDecodeError as e:
        raise ValueError(f"avro_schema is not valid JSON: {e}") from None
    if not isinstance(writer, dict) or writer.get("type") != "record":
        raise ValueError("avro_schema must be an Avro record schema")
    avro_fields = {f.get("name") for f in writer.get("fields", []) if isinstance(f, dict)}
    for c in columns:
        if c.name not in avro_fields:
            raise ValueError(f"column {c.name} is not a field of the avro_schema record")
    reader = dict(writer)
    reader["fields"] = list(writer.get("fields", [])) + [
        {"name": AVRO_OK_FIELD, "type": "boolean", "default": True}
    ]
    options = {"mode": "PERMISSIVE", "avroSchema": json.dumps(reader, separators=(",", ":"))}
    struct = quote_ident(VALUE_COLUMN)
    compact_writer = json.dumps(writer, separators=(",", ":"))
    part = _Part(
        parse_exprs=[
            f"from_avro(`value`, {sql_string(compact_writer)}, {sql_map(options)}) AS {struct}"
        ]
    )
    part.errors.append(
        (
            f"{struct}.{quote_ident(AVRO_OK_FIELD)} IS NULL",
            sql_string("value is not valid avro for the avro_schema"),
        )
    )
    for c in columns:
        avro_field = f"{struct}.{quote_ident(c.name)}"
        converted = f"try_cast({avro_field} AS {c.type})"
        part.outputs[c.name] = converted
        part.errors.append(
            (
                f"{avro_field} IS NOT NULL AND {converted} IS NULL",
                _cannot_convert(f"field {c.name}", f"CAST({avro_field} AS STRING)", c.type),
            )
        )
    return part


def _decode_value(
    columns: list[StreamColumn], value_format: str, format_options: dict[str, str]
) -> _Part:
    if not columns:
        return _Part()  # nothing to read from the value: it is not decoded at all
    fmt = formats.value_format(value_format)
    if value_format == "json":
        return _json_struct(VALUE_COLUMN, "`value`", columns, "value")
    if value_format == "csv":
        return _csv_value(columns, format_options)
    if value_format == "avro":
        return _avro_value(columns, format_options.get("avro_schema"))
    if len(columns) != 1:
        names = ", ".join(c.name for c in columns)
        raise ValueError(
            f"format '{value_format}' holds exactly one value column, not {len(columns)} ({names})"
        )
    (column,) = columns
    if fmt.binary:
        if not _is_binary(column.type):
            raise ValueError(f"format '{value_format}' gives BINARY: declare {column.name} BINARY")
        return _Part(outputs={column.name: "`value`"})
    # text: the whole value, UTF-8 decoded (invalid bytes become U+FFFD, as with Kafka's
    # StringDeserializer), cast to the column's type if it is not STRING
    return _single(
        _text_to_type(utf8_text("`value`"), "`value`", column.type, "value"), column.name
    )


def _decode_key(columns: list[StreamColumn], key_format: str) -> _Part:
    if not columns:
        return _Part()
    fmt = formats.key_format(key_format)
    if key_format == "json":
        return _json_struct(KEY_COLUMN, "`key`", columns, "key")
    if len(columns) != 1:
        names = ", ".join(c.name for c in columns)
        raise ValueError(
            f"key_format '{key_format}' holds exactly one KEY column, not {len(columns)} "
            f"({names}); use key_format = 'json' for several"
        )
    (column,) = columns
    if fmt.binary:
        if not _is_binary(column.type):
            raise ValueError(
                f"key_format '{key_format}' gives BINARY: declare {column.name} BINARY"
            )
        return _Part(outputs={column.name: "`key`"})
    return _single(_text_to_type(utf8_text("`key`"), "`key`", column.type, "key"), column.name)


def utf8_text(binary_sql: str) -> str:
    """Bytes as text the way Kafka's StringDeserializer reads them: invalid UTF-8 becomes U+FFFD.
    A plain ``CAST(... AS STRING)`` keeps invalid bytes as they are, and later string functions
    then disagree about them."""
    return f"make_valid_utf8(CAST({binary_sql} AS STRING))"


def last_header_sql(header_key: str, headers_sql: str = "`headers`") -> str:
    """The value (BINARY) of the last header with this key, as Kafka's ``lastHeader``; NULL when
    absent or when the record has no headers. ``try_element_at`` because ``element_at`` raises
    on an empty array under ANSI mode."""
    return f"try_element_at(filter({headers_sql}, h -> h.key = {sql_string(header_key)}), -1).value"


def _decode_header(column: StreamColumn, index: int) -> _Part:
    if column.ref is None:
        raise ValueError(f"HEADER column {column.name} needs a header key")
    raw = quote_ident(f"{HIDDEN_PREFIX}header_{index}")
    part = _Part(parse_exprs=[f"{last_header_sql(column.ref)} AS {raw}"])
    part.add(
        _single(
            _text_to_type(utf8_text(raw), raw, column.type, f"header {column.ref}"),
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
    decoded = _Part()
    decoded.add(_decode_value(value_columns, value_format, format_options))
    decoded.add(_decode_key([c for c in columns if c.role == "key"], key_format))
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
        f"NOT {quote_ident(TOMBSTONE_COLUMN)} AND ({_any(conditions)})" if conditions else "false"
    )
    reason_expr = _case(decoded.errors, sql_string(f"record cannot be decoded as {value_format}"))
    output_exprs = [f"{decoded.outputs[c.name]} AS {quote_ident(c.name)}" for c in columns]
    return Decoding(
        parse_exprs=parse_exprs,
        error_expr=error_expr,
        reason_expr=reason_expr,
        output_exprs=output_exprs,
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
    return _any(selected) if selected else None


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
        reason = _case([(quote_ident(TOMBSTONE_COLUMN), sql_string(TOMBSTONE_REASON))], reason)
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


def _named_struct(names: list[str]) -> str:
    return "named_struct(" + ", ".join(f"{sql_string(n)}, {quote_ident(n)}" for n in names) + ")"


def _json_of(names: list[str]) -> str:
    """A JSON object of these columns, nulls written as ``null``, binary as base64 (Spark's
    to_json does this for BINARY), timestamps as ISO-8601 in UTC."""
    options = {"ignoreNullFields": "false", **_TEXT_FORMAT_OPTIONS}
    return f"to_json({_named_struct(names)}, {sql_map(options)})"


def _encode_value(fields: list[Field], value_format: str, format_options: dict[str, str]) -> str:
    names = [f.name for f in fields]
    if not fields:
        raise ValueError("a sink needs at least one output column")
    if value_format == "json":
        return _json_of(names)
    if value_format == "csv":
        for f in fields:
            if _COMPLEX_TYPE.match(f.type):
                raise ValueError(
                    f"csv values hold plain columns only; {f.name} is {f.type} "
                    "(select its fields, e.g. window.end AS window_end)"
                )
        return f"to_csv({_named_struct(names)}, {sql_map(_csv_options(format_options))})"
    if value_format == "avro":
        schema = format_options.get("avro_schema")
        if schema:
            return f"to_avro({_named_struct(names)}, {sql_string(schema)})"
        return f"to_avro({_named_struct(names)})"
    if formats.value_format(value_format).many:
        raise ValueError(f"format {value_format!r} has no encoder")  # pragma: no cover
    if len(fields) != 1:
        raise ValueError(
            f"format '{value_format}' writes exactly one column, not {len(fields)} "
            f"({', '.join(names)})"
        )
    (only,) = fields
    if formats.FORMATS[value_format].binary:
        if not _is_binary(only.type):
            raise ValueError(
                f"format '{value_format}' writes a BINARY column; {only.name} is {only.type}"
            )
        return quote_ident(only.name)
    return f"CAST({quote_ident(only.name)} AS STRING)"


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
        key = _json_of(list(key_columns))
    elif key_sql is not None:
        key = _as_text_or_bytes(key_sql)
    else:
        key = "CAST(NULL AS BINARY)"
    exprs = [f"{key} AS `key`"]

    if value_sql is not None:
        value = _as_text_or_bytes(value_sql)
    else:
        value = _encode_value(fields, value_format, format_options or {})
    exprs.append(f"{value} AS `value`")

    if topic_sql is not None:
        exprs.append(f"CAST({topic_sql} AS STRING) AS `topic`")
    if partition_sql is not None:
        exprs.append(f"CAST({partition_sql} AS INT) AS `partition`")
    if header_pairs:
        pairs = [(k, _as_utf8_bytes(v)) for k, v in header_pairs]
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
