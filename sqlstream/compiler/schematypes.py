"""Spark SQL types and the registry's schema languages, both ways: Avro and JSON Schema.

``compiler.schemas`` asks this module two questions per registry format: what Spark type a
field of a registered schema reads as (the columns of a stream declared without any), and what
schema a sink's output columns are written with. Nested types go both ways (records/objects,
arrays, maps); what a format cannot say is a ``SchemaProblem`` naming the field, with a hint.
Spark type text is parsed with sqlglot's public ``DataType.build`` (Spark dialect), so a type
reads the same here as in the rest of the compiler.
"""

from __future__ import annotations

import re
import typing as t

from sqlglot import exp

from sqlstream.compiler import codecs


class SchemaProblem(Exception):
    """What is wrong with a subject's schemas (shown at the statement), with a hint."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def record_name(text: str) -> str:
    """An Avro name from a subject, topic or field (``orders-value`` -> ``orders_value``)."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", text)
    return name if re.match(r"[A-Za-z_]", name) else "_" + name


def _tree(spark_type: str) -> exp.DataType:
    return exp.DataType.build(spark_type, dialect="spark")


def _leaf(dt: exp.DataType) -> str:
    """A type without children as ``normalise_type`` writes it (``BIGINT``, ``DECIMAL(10,2)``)."""
    return codecs.normalise_type(dt.sql("spark"))


def _struct_fields(dt: exp.DataType) -> list[tuple[str, exp.DataType]]:
    return [(c.name, t.cast(exp.DataType, c.args["kind"])) for c in dt.expressions]


def _decimal(dt: exp.DataType) -> tuple[int, int]:
    """Precision and scale of a DECIMAL; Spark's DECIMAL alone is DECIMAL(10, 0)."""
    precision, scale = [*(int(p.sql()) for p in dt.expressions), 10, 0][:2]
    return (precision, 0) if len(dt.expressions) == 1 else (precision, scale)


def spark_name(name: str) -> str:
    """A struct field name as Spark type text writes it: plain, or backquoted."""
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) else codecs.quote_ident(name)


def _struct_text(fields: t.Iterable[tuple[str, str]]) -> str:
    return "STRUCT<" + ", ".join(f"{spark_name(n)}: {ty}" for n, ty in fields) + ">"


# --- Avro -------------------------------------------------------------------------------------

_AVRO_PLAIN: dict[str, t.Any] = {
    "STRING": "string",
    "VARCHAR": "string",
    "CHAR": "string",
    "BOOLEAN": "boolean",
    "TINYINT": "int",
    "SMALLINT": "int",
    "INT": "int",
    "BIGINT": "long",
    "FLOAT": "float",
    "DOUBLE": "double",
    "BINARY": "bytes",
    "DATE": {"type": "int", "logicalType": "date"},
    "TIMESTAMP": {"type": "long", "logicalType": "timestamp-micros"},
    "TIMESTAMP_NTZ": {"type": "long", "logicalType": "local-timestamp-micros"},
}
"""Spark SQL type -> Avro type, as Spark's own ``to_avro`` converts them."""
AVRO_MAPPED = "STRING, BOOLEAN, INT, BIGINT, FLOAT, DOUBLE, BINARY, DATE, TIMESTAMP, DECIMAL, "
AVRO_MAPPED += "STRUCT, ARRAY, MAP<STRING, _>"


class AvroNames:
    """The record names of one schema: Avro wants each named type once, so a nested record is
    named by its path (``out_value_window``), with a number when two paths read the same."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def take(self, wanted: str) -> str:
        name, n = record_name(wanted), 2
        while name in self.used:
            name, n = f"{record_name(wanted)}_{n}", n + 1
        self.used.add(name)
        return name


def avro_record(
    name: str, fields: t.Iterable[tuple[str, str]], names: AvroNames | None = None
) -> dict[str, t.Any]:
    """A record of these (name, Spark type) fields, each nullable with default null (a union
    ``["null", T]``): as a reader schema, a field a writer lacks reads as NULL; as a writer
    schema, it is what Spark's ``to_avro`` writes for a nullable column."""
    names = names or AvroNames()
    record_name_ = names.take(name)
    return {
        "type": "record",
        "name": record_name_,
        "fields": [
            {
                "name": f,
                "type": ["null", _avro(_tree(ty), f, f"{record_name_}_{f}", names)],
                "default": None,
            }
            for f, ty in fields
        ],
    }


def _avro(dt: exp.DataType, field: str, path: str, names: AvroNames) -> t.Any:
    """The Avro type of a Spark type: nested values are nullable too (Spark's arrays and maps
    may hold nulls, its struct fields are nullable)."""
    if dt.this == exp.DataType.Type.STRUCT:
        return avro_record(path, [(n, ty.sql("spark")) for n, ty in _struct_fields(dt)], names)
    if dt.this == exp.DataType.Type.ARRAY:
        (item,) = dt.expressions
        return {"type": "array", "items": ["null", _avro(item, field, f"{path}_item", names)]}
    if dt.this == exp.DataType.Type.MAP:
        key, value = dt.expressions
        if _leaf(key) != "STRING":
            raise _unmapped("avro-confluent", field, dt, "an Avro map's keys are strings")
        return {"type": "map", "values": ["null", _avro(value, field, f"{path}_value", names)]}
    if dt.this == exp.DataType.Type.DECIMAL:
        precision, scale = _decimal(dt)
        return {"type": "bytes", "logicalType": "decimal", "precision": precision, "scale": scale}
    found = _AVRO_PLAIN.get(_leaf(dt))
    if found is None:
        raise _unmapped("avro-confluent", field, dt, f"it maps {AVRO_MAPPED}")
    return found


def _unmapped(fmt: str, field: str, dt: exp.DataType, why: str) -> SchemaProblem:
    return SchemaProblem(
        f"{fmt} cannot write column '{field}' of type {dt.sql('spark')}: {why}",
        "cast the column to a type it maps, or select its fields one by one",
    )


_AVRO_READS: dict[str, str] = {
    "string": "STRING",
    "boolean": "BOOLEAN",
    "int": "INT",
    "long": "BIGINT",
    "float": "FLOAT",
    "double": "DOUBLE",
    "bytes": "BINARY",
    "enum": "STRING",
    "fixed": "BINARY",
}
"""Avro type -> the Spark type ``from_avro`` reads it as (Spark 4.2's SchemaConverters)."""
_AVRO_LOGICAL = {
    "date": "DATE",
    "timestamp-millis": "TIMESTAMP",
    "timestamp-micros": "TIMESTAMP",
    "local-timestamp-millis": "TIMESTAMP_NTZ",
    "local-timestamp-micros": "TIMESTAMP_NTZ",
}


class AvroUnmapped(SchemaProblem):
    """A registered Avro type a column cannot be: which field, and what it is."""


def spark_of_avro(avro: t.Any, field: str, named: dict[str, t.Any] | None = None) -> str:
    """The Spark type ``from_avro`` reads an Avro type as (a union of null and one type: that
    type, nullable); ``AvroUnmapped`` for a wider union or an unknown name. ``named``: the named
    types (records, enums, fixed) defined so far, which later fields may name."""
    named = {} if named is None else named
    if isinstance(avro, list):
        others = [a for a in avro if a != "null"]
        if len(others) != 1:
            raise AvroUnmapped(
                f"field '{field}' is the union {avro_text(avro)}, which avro-confluent reads "
                "only as null and one type",
                "declare the stream's columns, leaving this field out",
            )
        return spark_of_avro(others[0], field, named)
    if isinstance(avro, str):
        if avro in _AVRO_READS:
            return _AVRO_READS[avro]
        if avro in named:
            return spark_of_avro(named[avro], field, named)
        raise AvroUnmapped(
            f"field '{field}' is {avro}, which avro-confluent does not map to a column",
            "declare the stream's columns, leaving this field out",
        )
    return _spark_of_avro_complex(avro, field, named)


def _spark_of_avro_complex(avro: t.Any, field: str, named: dict[str, t.Any]) -> str:
    kind = avro.get("type") if isinstance(avro, dict) else None
    if kind in ("record", "enum", "fixed") and avro.get("name"):
        named[avro["name"]] = avro
        if avro.get("namespace"):
            named[f"{avro['namespace']}.{avro['name']}"] = avro
    logical = avro.get("logicalType") if isinstance(avro, dict) else None
    if logical == "decimal" and kind in ("bytes", "fixed"):
        return f"DECIMAL({int(avro['precision'])},{int(avro.get('scale', 0))})"
    if logical in _AVRO_LOGICAL:
        return _AVRO_LOGICAL[logical]
    if kind == "record":
        return _struct_text(
            (f["name"], spark_of_avro(f["type"], f"{field}.{f['name']}", named))
            for f in avro.get("fields", [])
        )
    if kind == "array":
        return f"ARRAY<{spark_of_avro(avro.get('items'), f'{field}[]', named)}>"
    if kind == "map":
        return f"MAP<STRING, {spark_of_avro(avro.get('values'), f'{field}{{}}', named)}>"
    if isinstance(kind, str):
        return spark_of_avro(kind, field, named)
    raise AvroUnmapped(
        f"field '{field}' has no Avro type avro-confluent knows",
        "declare the stream's columns, leaving this field out",
    )


def avro_reads_as(avro: t.Any, named: dict[str, t.Any] | None = None) -> str | None:
    """``spark_of_avro`` normalised for comparing, or None for a type it does not map."""
    try:
        return codecs.normalise_type(spark_of_avro(avro, "", named))
    except (AvroUnmapped, KeyError, TypeError, ValueError):
        return None


def avro_text(avro: t.Any) -> str:
    """A short text of an Avro type for messages: ``null|long``, ``timestamp-millis``."""
    if isinstance(avro, list):
        return "|".join(avro_text(a) for a in avro)
    if isinstance(avro, dict):
        return str(avro.get("logicalType") or avro.get("type"))
    return str(avro)


# --- JSON Schema ------------------------------------------------------------------------------

JSON_SCHEMA_DRAFT = "http://json-schema.org/draft-07/schema#"
_JSON_PLAIN: dict[str, dict[str, t.Any]] = {
    "STRING": {"type": "string"},
    "VARCHAR": {"type": "string"},
    "CHAR": {"type": "string"},
    "BOOLEAN": {"type": "boolean"},
    "TINYINT": {"type": "integer"},
    "SMALLINT": {"type": "integer"},
    "INT": {"type": "integer"},
    "BIGINT": {"type": "integer"},
    "FLOAT": {"type": "number"},
    "DOUBLE": {"type": "number"},
    # Spark's to_json writes binary as base64 and from_json reads it back from base64.
    "BINARY": {"type": "string", "contentEncoding": "base64"},
    "DATE": {"type": "string", "format": "date"},
    "TIMESTAMP": {"type": "string", "format": "date-time"},
    # to_json writes no zone for it: not an RFC 3339 date-time, so no format is claimed.
    "TIMESTAMP_NTZ": {"type": "string"},
}
"""Spark SQL type -> the JSON Schema of what ``to_json`` writes for it."""
JSON_MAPPED = "STRING, BOOLEAN, INT, BIGINT, FLOAT, DOUBLE, DECIMAL, BINARY, DATE, TIMESTAMP, "
JSON_MAPPED += "STRUCT, ARRAY, MAP<STRING, _>"


def json_object(title: str, fields: t.Iterable[tuple[str, str]]) -> dict[str, t.Any]:
    """The JSON Schema of a sink's value: an object whose properties are the output columns,
    each nullable (``["T", "null"]``: a null column is written as ``null``). The content model
    stays open (no ``additionalProperties: false``), so adding a column later stays compatible
    under the registry's usual BACKWARD rule."""
    return {
        "$schema": JSON_SCHEMA_DRAFT,
        "title": title,
        "type": "object",
        "properties": {f: _json(_tree(ty), f) for f, ty in fields},
    }


def _json(dt: exp.DataType, field: str) -> dict[str, t.Any]:
    if dt.this == exp.DataType.Type.STRUCT:
        props = {n: _json(ty, f"{field}.{n}") for n, ty in _struct_fields(dt)}
        return {"type": ["object", "null"], "properties": props}
    if dt.this == exp.DataType.Type.ARRAY:
        (item,) = dt.expressions
        return {"type": ["array", "null"], "items": _json(item, f"{field}[]")}
    if dt.this == exp.DataType.Type.MAP:
        key, value = dt.expressions
        if _leaf(key) != "STRING":
            raise _unmapped("json-confluent", field, dt, "a JSON object's keys are strings")
        return {"type": ["object", "null"], "additionalProperties": _json(value, field)}
    if dt.this == exp.DataType.Type.DECIMAL:
        return {"type": ["number", "null"]}
    found = _JSON_PLAIN.get(_leaf(dt))
    if found is None:
        raise _unmapped("json-confluent", field, dt, f"it maps {JSON_MAPPED}")
    return {**found, "type": [found["type"], "null"]}


_JSON_READS = {"integer": "BIGINT", "number": "DOUBLE", "boolean": "BOOLEAN"}
_JSON_STRING_FORMATS = {"date-time": "TIMESTAMP", "date": "DATE"}


class JsonUnmapped(SchemaProblem):
    """A JSON Schema property a column cannot be."""


def _refuse(field: str, what: str) -> JsonUnmapped:
    return JsonUnmapped(
        f"property '{field}' of the latest JSON Schema {what}, which json-confluent does not "
        "map to a column",
        "declare the stream's columns (a STRING column reads any JSON value as its text), "
        "leaving this property out or typing it yourself",
    )


def json_properties(schema: t.Any) -> dict[str, t.Any]:
    """The top-level properties of an object schema (empty for anything else)."""
    props = schema.get("properties") if isinstance(schema, dict) else None
    return props if isinstance(props, dict) else {}


def spark_of_json(prop: t.Any, field: str) -> str:
    """The Spark type a JSON Schema property is read as by ``from_json``: the plain types,
    ``format: date-time`` / ``date``, objects with properties (STRUCT), objects with only
    ``additionalProperties`` (MAP<STRING, _>), arrays with ``items``; a type list or a
    ``oneOf``/``anyOf`` of ``null`` and one type is that type, nullable."""
    if not isinstance(prop, dict):
        raise _refuse(field, "is not a schema object")
    if "$ref" in prop:
        raise _refuse(field, f"is a reference ({prop['$ref']})")
    kind = _json_kind(prop, field)
    if isinstance(kind, dict):
        return spark_of_json(kind, field)
    if kind == "string":
        if prop.get("contentEncoding") == "base64":
            return "BINARY"
        return _JSON_STRING_FORMATS.get(str(prop.get("format", "")), "STRING")
    if kind in _JSON_READS:
        return _JSON_READS[kind]
    if kind == "array":
        if not isinstance(prop.get("items"), dict):
            raise _refuse(field, "is an array without one `items` schema")
        return f"ARRAY<{spark_of_json(prop['items'], f'{field}[]')}>"
    if kind == "object":
        return _json_object_type(prop, field)
    raise _refuse(field, f"has type {kind}")


def _json_kind(prop: dict[str, t.Any], field: str) -> str | dict[str, t.Any]:
    """The one non-null type of a property: a type name, or the one non-null branch of a
    ``oneOf``/``anyOf``."""
    for union in ("oneOf", "anyOf"):
        if isinstance(prop.get(union), list):
            others = [b for b in prop[union] if not (isinstance(b, dict) and _is_null(b))]
            if len(others) != 1:
                raise _refuse(field, f"is a {union} of {len(others)} non-null schemas")
            return t.cast(dict[str, t.Any], others[0])
    kind = prop.get("type")
    kinds = [k for k in (kind if isinstance(kind, list) else [kind]) if k != "null"]
    if len(kinds) != 1 or not isinstance(kinds[0], str):
        raise _refuse(field, f"has type {kind!r}" if kind else "has no type")
    return kinds[0]


def _is_null(branch: dict[str, t.Any]) -> bool:
    return branch.get("type") == "null"


def _json_object_type(prop: dict[str, t.Any], field: str) -> str:
    props = json_properties(prop)
    if props:
        return _struct_text((n, spark_of_json(p, f"{field}.{n}")) for n, p in props.items())
    extra = prop.get("additionalProperties")
    if isinstance(extra, dict) and extra:
        return f"MAP<STRING, {spark_of_json(extra, f'{field}{{}}')}>"
    raise _refuse(field, "is an object without properties")


def json_text(prop: t.Any) -> str:
    """A short text of a property's type for messages: ``integer|null``, ``date-time``."""
    if not isinstance(prop, dict):
        return str(prop)
    kind = prop.get("type")
    text = "|".join(map(str, kind)) if isinstance(kind, list) else str(kind)
    return f"{text} {prop['format']}" if prop.get("format") else text
