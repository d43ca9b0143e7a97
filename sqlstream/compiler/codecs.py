"""How each format decodes and encodes, as Spark SQL text: the codecs the rows of ``formats`` hold.

A decoder turns one part of a Kafka record (the value or the key, a ``Side``) into the declared
columns, with the conditions that make the record malformed and their reasons; an encoder turns
the SELECT's output into the value. ``lower`` assembles them into a whole record's decoding and
encoding. Pure string building, like ``lower``, and below every stage: it knows columns only as
objects with a ``name`` and a ``type``.
"""

from __future__ import annotations

import json
import re
import typing as t
from dataclasses import dataclass, field

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
# The same bytes whatever the machine's time zone: timestamps in records are read and written in
# UTC unless the text carries its own offset (written ones always do: ``...T10:00:00.000Z``).
_TEXT_FORMAT_OPTIONS = {"timeZone": "UTC"}

_REASON_VALUE_MAX_CHARS = 100
"""How much of an offending field's text a reason quotes."""

_COMPLEX_TYPE = re.compile(r"^\s*(ARRAY|MAP|STRUCT)\s*<", re.IGNORECASE)
_TYPE_SYNONYMS = {"INTEGER": "INT", "LONG": "BIGINT", "SHORT": "SMALLINT", "BYTE": "TINYINT"}


class Column(t.Protocol):
    """A declared column or an output field as a codec sees it (``StreamColumn``, ``Field``)."""

    @property
    def name(self) -> str: ...

    @property
    def type(self) -> str: ...


@dataclass(frozen=True)
class Side:
    """The part of a Kafka record a format decodes: the value or the key."""

    raw: str
    """The raw Kafka column, quoted: ```value``` or ```key```."""
    struct: str
    """The hidden column a many-column format parses into."""
    what: str
    """How reasons name it: ``value``, ``key``."""
    option: str
    """The option that chose the format: ``format``, ``key_format``."""


VALUE = Side("`value`", VALUE_COLUMN, "value", "format")
KEY = Side("`key`", KEY_COLUMN, "key", "key_format")


class Decoder(t.Protocol):
    """Decodes one side into its declared columns (exactly one for a one-column format)."""

    def __call__(
        self, side: Side, columns: t.Sequence[Column], options: t.Mapping[str, str]
    ) -> Part: ...


class Encoder(t.Protocol):
    """The SQL of the value written from the SELECT's output fields (exactly one for a one-column
    format)."""

    def __call__(self, fields: t.Sequence[Column], options: t.Mapping[str, str]) -> str: ...


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


def is_string(type_: str) -> bool:
    return normalise_type(type_) == "STRING"


def is_binary(type_: str) -> bool:
    return normalise_type(type_) == "BINARY"


def any_of(conditions: list[str]) -> str:
    if not conditions:
        return "false"
    if len(conditions) == 1:
        return conditions[0]
    return " OR ".join(f"({c})" for c in conditions)


def case(branches: list[tuple[str, str]], otherwise: str) -> str:
    if not branches:
        return otherwise
    whens = " ".join(f"WHEN {cond} THEN {result}" for cond, result in branches)
    return f"CASE {whens} ELSE {otherwise} END"


def _quoted_excerpt(text_sql: str) -> str:
    """SQL for ``"<first 100 chars of text>"``, to show an offending value in a reason."""
    return f"""concat('"', left({text_sql}, {_REASON_VALUE_MAX_CHARS}), '"')"""


def cannot_convert(what: str, text_sql: str, type_: str) -> str:
    """SQL for the reason ``<what> cannot be converted to <TYPE>: "<text>"``."""
    return (
        f"concat({sql_string(f'{what} cannot be converted to {type_.upper()}: ')}, "
        f"{_quoted_excerpt(text_sql)})"
    )


def as_utf8_bytes(sql: str) -> str:
    """BINARY stays as it is; anything else becomes the UTF-8 bytes of its string form.

    ``concat`` of one BINARY argument returns BINARY, of anything else a STRING (implicitly cast),
    so this needs no knowledge of the expression's type; NULL stays NULL.
    """
    return f"CAST(concat({sql}) AS BINARY)"


def as_text_or_bytes(sql: str) -> str:
    """BINARY stays as it is, anything else its string form (Kafka's sink takes both)."""
    return f"concat({sql})"


# --------------------------------------------------------------------------------------------
# Decoding a Kafka source
# --------------------------------------------------------------------------------------------


@dataclass
class Part:
    """What decoding one part of the record (value, key, a header) contributes."""

    parse_exprs: list[str] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    """Declared column name -> SQL over parse_exprs' output."""
    errors: list[tuple[str, str]] = field(default_factory=list)
    """(condition true when this part is malformed, SQL of the reason), in priority order."""
    functions: list[tuple[str, str, str]] = field(default_factory=list)
    """JVM functions the SQL calls: (name, Java class, return type), registered before the read."""

    def add(self, other: Part) -> None:
        self.parse_exprs += other.parse_exprs
        self.outputs.update(other.outputs)
        self.errors += other.errors
        self.functions += other.functions


def text_to_type(text_sql: str, raw_sql: str, type_: str, what: str) -> Part:
    """One text (UTF-8 decoded bytes) cast to a declared type; malformed when that fails.

    ``try_cast`` rather than ``CAST``: with ANSI mode (Spark 4's default) a failed CAST raises.
    """
    part = Part()
    if is_string(type_):
        part.outputs[""] = text_sql
        return part
    if is_binary(type_):
        part.outputs[""] = raw_sql
        return part
    converted = f"try_cast({text_sql} AS {type_})"
    part.outputs[""] = converted
    part.errors.append(
        (f"{raw_sql} IS NOT NULL AND {converted} IS NULL", cannot_convert(what, text_sql, type_))
    )
    return part


def single(part: Part, name: str) -> Part:
    """Name the one anonymous output of ``text_to_type``."""
    part.outputs = {name: part.outputs[""]}
    return part


def _json_struct(struct_col: str, raw_col: str, columns: t.Sequence[Column], what: str) -> Part:
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
    part = Part(
        parse_exprs=[f"from_json({text}, {sql_string(schema)}, {sql_map(options)}) AS {struct}"],
        outputs={c.name: f"{struct}.{quote_ident(c.name)}" for c in columns},
    )
    part.errors.append(
        (
            (
                f"{raw_col} IS NOT NULL AND ({struct} IS NULL OR "
                f"{struct}.{quote_ident(CORRUPT_FIELD)} IS NOT NULL)"
            ),
            case(_json_reasons(text, struct, columns, what), _json_reason(what, "not valid JSON")),
        )
    )
    return part


def _json_reason(what: str, reason: str) -> str:
    """A reason as SQL: the value's reasons as they are, the key's prefixed (``key: ...``)."""
    return sql_string(reason if what == "value" else f"{what}: {reason}")


def _json_reasons(
    text: str, struct: str, columns: t.Sequence[Column], what: str
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
        if is_string(c.type):
            continue  # Spark reads any JSON value into a STRING field (an object as its text)
        found = f"get_json_object({text}, {sql_string(_json_path(c.name))})"
        reasons.append(
            (
                f"{found} IS NOT NULL AND {struct}.{quote_ident(c.name)} IS NULL",
                cannot_convert(f"{prefix}field {c.name}", found, c.type),
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


def _csv_value(columns: t.Sequence[Column], format_options: t.Mapping[str, str]) -> Part:
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
    part = Part(
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
                cannot_convert(f"field {c.name}", token, c.type),
            )
        )
    part.errors.append(("length(`value`) = 0", sql_string("empty value")))
    part.errors.append(
        (
            f"{struct}.{quote_ident(CORRUPT_FIELD)} IS NOT NULL",
            case(reasons, sql_string("value is not valid csv")),
        )
    )
    return part


def _avro_value(columns: t.Sequence[Column], avro_schema: str | None) -> Part:
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
    part = Part(
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
                cannot_convert(f"field {c.name}", f"CAST({avro_field} AS STRING)", c.type),
            )
        )
    return part


def utf8_text(binary_sql: str) -> str:
    """Bytes as text the way Kafka's StringDeserializer reads them: invalid UTF-8 becomes U+FFFD.
    A plain ``CAST(... AS STRING)`` keeps invalid bytes as they are, and later string functions
    then disagree about them."""
    return f"make_valid_utf8(CAST({binary_sql} AS STRING))"


def named_struct(names: list[str]) -> str:
    return "named_struct(" + ", ".join(f"{sql_string(n)}, {quote_ident(n)}" for n in names) + ")"


def json_of(names: list[str]) -> str:
    """A JSON object of these columns, nulls written as ``null``, binary as base64 (Spark's
    to_json does this for BINARY), timestamps as ISO-8601 in UTC."""
    options = {"ignoreNullFields": "false", **_TEXT_FORMAT_OPTIONS}
    return f"to_json({named_struct(names)}, {sql_map(options)})"


# --------------------------------------------------------------------------------------------
# The codecs, one pair per format (``formats.FORMATS`` holds them)
# --------------------------------------------------------------------------------------------


def decode_json(side: Side, columns: t.Sequence[Column], options: t.Mapping[str, str]) -> Part:
    return _json_struct(side.struct, side.raw, columns, side.what)


def decode_csv(side: Side, columns: t.Sequence[Column], options: t.Mapping[str, str]) -> Part:
    return _csv_value(columns, options)


def decode_avro(side: Side, columns: t.Sequence[Column], options: t.Mapping[str, str]) -> Part:
    return _avro_value(columns, options.get("avro_schema"))


def decode_text(side: Side, columns: t.Sequence[Column], options: t.Mapping[str, str]) -> Part:
    """The whole value, UTF-8 decoded (invalid bytes become U+FFFD, as with Kafka's
    StringDeserializer), cast to the column's type if it is not STRING."""
    (column,) = columns
    return single(text_to_type(utf8_text(side.raw), side.raw, column.type, side.what), column.name)


def decode_raw(side: Side, columns: t.Sequence[Column], options: t.Mapping[str, str]) -> Part:
    (column,) = columns
    if not is_binary(column.type):
        raise ValueError(f"{side.option} 'raw' gives BINARY: declare {column.name} BINARY")
    return Part(outputs={column.name: side.raw})


def encode_json(fields: t.Sequence[Column], options: t.Mapping[str, str]) -> str:
    return json_of([f.name for f in fields])


def encode_csv(fields: t.Sequence[Column], options: t.Mapping[str, str]) -> str:
    for f in fields:
        if _COMPLEX_TYPE.match(f.type):
            raise ValueError(
                f"csv values hold plain columns only; {f.name} is {f.type} "
                "(select its fields, e.g. window.end AS window_end)"
            )
    return f"to_csv({named_struct([f.name for f in fields])}, {sql_map(_csv_options(options))})"


def encode_avro(fields: t.Sequence[Column], options: t.Mapping[str, str]) -> str:
    struct = named_struct([f.name for f in fields])
    schema = options.get("avro_schema")
    if schema:
        return f"to_avro({struct}, {sql_string(schema)})"
    return f"to_avro({struct})"


def encode_text(fields: t.Sequence[Column], options: t.Mapping[str, str]) -> str:
    (only,) = fields
    return f"CAST({quote_ident(only.name)} AS STRING)"


def encode_raw(fields: t.Sequence[Column], options: t.Mapping[str, str]) -> str:
    (only,) = fields
    if not is_binary(only.type):
        raise ValueError(f"format 'raw' writes a BINARY column; {only.name} is {only.type}")
    return quote_ident(only.name)


# --- Confluent's wire format: a magic byte 0, the schema id (4 bytes, big-endian), the payload ---

CONFLUENT_WRITERS = "confluent.{what}.writers"
"""The format option (set by the planner from the schemas it was given, never by users) with a
side's writer schemas: a JSON list of ``[id, schema]``."""
CONFLUENT_READER = "confluent.{what}.reader"
"""A side's reader schema (JSON): the declared columns, named as the latest writer."""
CONFLUENT_ID = "confluent.id"
"""The registry's id of a sink's value schema."""
CONFLUENT_SCHEMA = "confluent.schema"
"""A sink's value schema (JSON), exactly as registered."""


def confluent_prefix(schema_id: int) -> str:
    """The five bytes before the payload, as a BINARY literal: ``X'0000000007'``."""
    return f"X'00{schema_id:08X}'"


def confluent_prefix_errors(
    side: Side, known_ids: t.Sequence[int], shortest: int = 5
) -> list[tuple[str, str]]:
    """A record is malformed, first match: no magic byte 0 and 4 bytes of id (``shortest``: the
    fewest bytes a record of the format has); an id the lock does not know (a schema registered
    after the start: run again)."""
    raw, prefix = side.raw, f"substring({side.raw}, 1, 5)"
    known = ", ".join(confluent_prefix(i) for i in known_ids)
    return [
        (
            f"{raw} IS NOT NULL AND (length({raw}) < {shortest}"
            f" OR substring({raw}, 1, 1) <> X'00')",
            sql_string(f"{side.what} is not in the Confluent wire format (no magic byte 0)"),
        ),
        (
            f"{raw} IS NOT NULL AND {prefix} NOT IN ({known})",
            f"concat({sql_string(f'{side.what} has an unknown schema id ')}, {schema_id_sql(raw)})",
        ),
    ]


def schema_id_sql(raw: str) -> str:
    """The schema id of a wire-format record, as text (for a reason)."""
    return f"CAST(conv(hex(substring({raw}, 2, 4)), 16, 10) AS STRING)"


def _writers(side: Side, options: t.Mapping[str, str]) -> list[tuple[int, str]]:
    return [(int(i), w) for i, w in json.loads(options[CONFLUENT_WRITERS.format(what=side.what)])]


def decode_avro_confluent(
    side: Side, columns: t.Sequence[Column], options: t.Mapping[str, str]
) -> Part:
    """Each record decoded with its own writer schema, chosen by the id after the magic byte,
    and resolved to the reader schema of the declared columns (Avro schema resolution, done by
    Spark's ``from_avro``: ``jsonFormatSchema`` is the writer's, the ``avroSchema`` option the
    reader's). The reader gets the ``AVRO_OK_FIELD`` as plain ``avro`` does, so a payload that
    does not decode is told from a record of nulls."""
    writers = _writers(side, options)
    reader = json.loads(options[CONFLUENT_READER.format(what=side.what)])
    reader["fields"] = [
        *reader["fields"],
        {"name": AVRO_OK_FIELD, "type": "boolean", "default": True},
    ]
    read = {"mode": "PERMISSIVE", "avroSchema": json.dumps(reader, separators=(",", ":"))}
    raw, struct = side.raw, quote_ident(side.struct)
    prefix, payload = f"substring({raw}, 1, 5)", f"substring({raw}, 6)"
    branches = [
        (
            f"{prefix} = {confluent_prefix(schema_id)}",
            f"from_avro({payload}, {sql_string(writer)}, {sql_map(read)})",
        )
        for schema_id, writer in writers
    ]
    part = Part(
        parse_exprs=[f"{case(branches, 'NULL')} AS {struct}"],
        outputs={c.name: f"{struct}.{quote_ident(c.name)}" for c in columns},
    )
    part.errors += confluent_prefix_errors(side, [i for i, _ in writers])
    part.errors.append(
        (
            f"{raw} IS NOT NULL AND {struct}.{quote_ident(AVRO_OK_FIELD)} IS NULL",
            f"concat({sql_string(f'{side.what} does not decode with schema id ')}, "
            f"{schema_id_sql(raw)})",
        )
    )
    return part


def encode_avro_confluent(fields: t.Sequence[Column], options: t.Mapping[str, str]) -> str:
    """The prefix of the registered schema's id, then ``to_avro`` with exactly that schema."""
    struct = named_struct([f.name for f in fields])
    schema = sql_string(options[CONFLUENT_SCHEMA])
    return f"concat({confluent_prefix(int(options[CONFLUENT_ID]))}, to_avro({struct}, {schema}))"


def decode_json_confluent(
    side: Side, columns: t.Sequence[Column], options: t.Mapping[str, str]
) -> Part:
    """The prefix checks of ``avro-confluent``, then the json decoder on the payload
    (``substring(raw, 6)``): JSON Schema is a contract about the text, not a binary encoding, so
    the writer schema is not needed to read it; the declared columns are. The reasons after the
    prefix are json's (``not valid JSON``, ``field amount cannot be converted to DOUBLE``)."""
    part = Part(errors=confluent_prefix_errors(side, [i for i, _ in _writers(side, options)]))
    part.add(_json_struct(side.struct, f"substring({side.raw}, 6)", columns, side.what))
    return part


def encode_json_confluent(fields: t.Sequence[Column], options: t.Mapping[str, str]) -> str:
    """The prefix of the registered JSON Schema's id, then the json encoder's text as bytes."""
    prefix = confluent_prefix(int(options[CONFLUENT_ID]))
    return f"concat({prefix}, CAST({json_of([f.name for f in fields])} AS BINARY))"
