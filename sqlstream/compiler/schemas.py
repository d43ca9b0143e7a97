"""The schemas of the ``*-confluent`` formats, as the compiler knows them: from a lock file.

A record in Confluent's wire format names its writer schema by an id the registry gave. To
decode, the compiled plan holds every writer schema of the subject known at compile time, by id;
to encode, the id of the sink's schema. The compiler never talks to a registry (it runs
offline, and below the layers allowed to): it asks a ``Schemas``. The default one reads
``schemas.lock.json`` in the project; ``sqlstream run`` passes one that asks the registry and
writes what it found to that file (``sqlstream.kafka.registry``), so that ``validate`` and
``compile`` then work offline and show what the run did.

The lock file::

    {"lock_version": 1,
     "subjects": {"orders-value": [{"version": 1, "id": 7, "schema": "{...}"}, ...]}}

A version whose schema is not Avro says so: ``"schemaType": "PROTOBUF"`` (written only then).
"""

from __future__ import annotations

import json
import re
import typing as t
from dataclasses import dataclass
from pathlib import Path

from sqlstream.compiler import codecs, formats, protobuf
from sqlstream.compiler.parse import Statement
from sqlstream.compiler.plan import StreamColumn
from sqlstream.compiler.syntax import nodes as n
from sqlstream.errors import Diagnostics

LOCK_FILE = "schemas.lock.json"
LOCK_VERSION = 1


@dataclass(frozen=True)
class Version:
    """One registered schema of a subject."""

    version: int
    id: int
    schema: str
    """The schema as the registry gave it (Avro JSON text, ``.proto`` text or base64)."""
    schema_type: str = "AVRO"
    """As the registry names it: ``AVRO``, ``PROTOBUF``, ``JSON``."""


class SchemaProblem(Exception):
    """What is wrong with a subject's schemas (shown at the statement), with a hint."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class Schemas(t.Protocol):
    """Where the compiler finds the schemas of a subject."""

    def versions(self, subject: str) -> list[Version]:
        """Every version of ``subject``, oldest first; ``SchemaProblem`` when it has none."""
        ...

    def writer_id(
        self, subject: str, schema: str, auto_register: bool | None, schema_type: str = "AVRO"
    ) -> int:
        """The id of ``schema`` under ``subject`` (registered first when ``auto_register``;
        None: as the target's ``schema_registry`` says); ``SchemaProblem`` saying which fields
        differ when it is not there."""
        ...


# --- the lock file ----------------------------------------------------------------------------


def read_lock(path: Path) -> dict[str, list[Version]]:
    """The subjects of a lock file; empty when there is none."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise SchemaProblem(
            f"cannot read {path.name}: {e}", f"remove {path} and run again"
        ) from None
    return {
        subject: [
            Version(int(v["version"]), int(v["id"]), str(v["schema"]), v.get("schemaType", "AVRO"))
            for v in versions
        ]
        for subject, versions in data.get("subjects", {}).items()
    }


def write_lock(path: Path, subjects: t.Mapping[str, list[Version]]) -> None:
    """Write the lock file (sorted, so that its diff in a review shows what changed)."""
    data = {
        "lock_version": LOCK_VERSION,
        "subjects": {
            s: [_locked_version(v) for v in versions] for s, versions in sorted(subjects.items())
        },
    }
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def _locked_version(v: Version) -> dict[str, t.Any]:
    out: dict[str, t.Any] = {"version": v.version, "id": v.id, "schema": v.schema}
    if v.schema_type != "AVRO":
        out["schemaType"] = v.schema_type
    return out


class LockedSchemas:
    """The schemas of the lock file only: what ``compile`` and ``validate`` use."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._subjects: dict[str, list[Version]] | None = None

    def _all(self) -> dict[str, list[Version]]:
        if self._subjects is None:
            self._subjects = read_lock(self.path)
        return self._subjects

    def versions(self, subject: str) -> list[Version]:
        found = self._all().get(subject)
        if not found:
            raise SchemaProblem(
                f"subject '{subject}' is not in {LOCK_FILE}",
                "`sqlstream run` looks it up in the target's schema_registry and records it "
                f"there; or `sqlstream registry lock` (the subject must exist: {_TOPIC_NAMING})",
            )
        return found

    def writer_id(
        self, subject: str, schema: str, auto_register: bool | None, schema_type: str = "AVRO"
    ) -> int:
        versions = self._all().get(subject, [])
        found = matching_id(versions, schema)
        if found is not None:
            return found
        if auto_register:
            raise SchemaProblem(
                f"the sink's schema is not yet registered under subject '{subject}'",
                "`sqlstream run` (or `sqlstream registry lock`) registers it, "
                "auto_register being true",
            )
        raise not_registered(subject, schema, versions)


_TOPIC_NAMING = "TopicNameStrategy: <topic>-value, <topic>-key, or the subject option"


def matching_id(versions: t.Sequence[Version], schema: str) -> int | None:
    """The id of the version equal to ``schema`` (same parsed JSON; for Protobuf, the same
    messages), the newest first."""
    wanted = _parsed(schema)
    return next(
        (
            v.id
            for v in reversed(versions)
            if _parsed(v.schema) == wanted
            or (v.schema_type == "PROTOBUF" and protobuf.same_schema(v.schema, schema))
        ),
        None,
    )


def not_registered(subject: str, schema: str, versions: t.Sequence[Version]) -> SchemaProblem:
    """The error of a sink whose schema the subject lacks: which fields differ from its latest."""
    if not versions:
        return SchemaProblem(
            f"subject '{subject}' has no schema, and auto_register is not set",
            "register the schema, or set auto_register = true on the sink "
            "(or in the target's schema_registry)",
        )
    latest = versions[-1]
    if latest.schema_type == "PROTOBUF":
        differ = protobuf.field_differences(latest.schema, schema)
    else:
        differ = field_differences(_parsed(latest.schema), _parsed(schema))
    return SchemaProblem(
        f"the sink's schema is not registered under subject '{subject}'; against its latest "
        f"(version {latest.version}, id {latest.id}): {differ or 'same fields, other details'}",
        "change the SELECT to match it, or set auto_register = true to register the new one",
    )


def field_differences(old: t.Any, new: t.Any) -> str:
    """``+a long, -b, c: string -> long`` between two record schemas."""
    before, after = _fields(old), _fields(new)
    parts = [f"+{n} {_type_text(after[n])}" for n in after if n not in before]
    parts += [f"-{n}" for n in before if n not in after]
    parts += [
        f"{n}: {_type_text(before[n])} -> {_type_text(after[n])}"
        for n in after
        if n in before and before[n] != after[n]
    ]
    return ", ".join(parts)


def _fields(schema: t.Any) -> dict[str, t.Any]:
    if not isinstance(schema, dict):
        return {}
    return {f["name"]: f.get("type") for f in schema.get("fields", []) if isinstance(f, dict)}


def _type_text(avro_type: t.Any) -> str:
    if isinstance(avro_type, list):
        return "|".join(_type_text(a) for a in avro_type)
    if isinstance(avro_type, dict):
        return str(avro_type.get("logicalType") or avro_type.get("type"))
    return str(avro_type)


def _parsed(schema: str) -> t.Any:
    try:
        return json.loads(schema)
    except ValueError:
        return schema


# --- Avro schemas from columns ----------------------------------------------------------------

# Spark SQL type -> Avro type (as Spark's own to_avro/from_avro convert them).
_AVRO_TYPES: dict[str, t.Any] = {
    "STRING": "string",
    "BOOLEAN": "boolean",
    "INT": "int",
    "BIGINT": "long",
    "FLOAT": "float",
    "DOUBLE": "double",
    "BINARY": "bytes",
    "DATE": {"type": "int", "logicalType": "date"},
    "TIMESTAMP": {"type": "long", "logicalType": "timestamp-micros"},
}


def avro_type(spark_type: str) -> t.Any:
    """The Avro type of a plain Spark SQL type; ``SchemaProblem`` for one it cannot map."""
    found = _AVRO_TYPES.get(codecs.normalise_type(spark_type))
    if found is None:
        raise SchemaProblem(
            f"avro-confluent maps {', '.join(_AVRO_TYPES)} columns; not {spark_type}",
            "cast the column, or select its fields one by one (nested Avro types are not "
            "mapped yet)",
        )
    return found


def record_schema(name: str, columns: t.Iterable[codecs.Column]) -> dict[str, t.Any]:
    """A record of these columns, each nullable with default null (a union ``["null", T]``):
    as a reader schema, a field a writer lacks reads as NULL; as a writer schema, it is what
    Spark's ``to_avro`` writes for a nullable column."""
    return {
        "type": "record",
        "name": record_name(name),
        "fields": [
            {"name": c.name, "type": ["null", avro_type(c.type)], "default": None} for c in columns
        ],
    }


def record_name(text: str) -> str:
    """An Avro name from a subject or topic (``orders-value`` -> ``orders_value``)."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", text)
    return name if re.match(r"[A-Za-z_]", name) else "_" + name


def compact(schema: t.Any) -> str:
    return json.dumps(schema, separators=(",", ":"))


def writers_option(versions: t.Sequence[Version]) -> str:
    return json.dumps([[v.id, v.schema] for v in versions], separators=(",", ":"))


# --- what the planner asks ----------------------------------------------------------------------


def source_options(
    topic: str | None,
    values: t.Mapping[str, str],
    sides: t.Sequence[tuple[str, str, t.Sequence[codecs.Column]]],
    schemas: Schemas,
) -> dict[str, str]:
    """The codec options of a source's registry sides: each side (``value``/``key``, its format,
    its declared columns) whose format is a registry one gets its writers and its reader."""
    found: dict[str, str] = {}
    for what, format_name, columns in sides:
        row = formats.FORMATS.get(format_name, formats.FORMATS["json"])
        if not row.registry or not columns:
            continue
        subject = _subject(topic, values, what)
        versions = schemas.versions(subject)
        if row.schema_type != "AVRO":
            found[codecs.CONFLUENT_WRITERS.format(what=what)] = writers_option(versions)
            continue
        latest = _parsed(versions[-1].schema)
        reader = record_schema(subject, columns)
        if isinstance(latest, dict) and latest.get("type") == "record":
            reader["name"] = latest["name"]
            if latest.get("namespace"):
                reader["namespace"] = latest["namespace"]
            _keep_writer_types(reader, latest)
        found[codecs.CONFLUENT_WRITERS.format(what=what)] = writers_option(versions)
        found[codecs.CONFLUENT_READER.format(what=what)] = compact(reader)
    return found


def sink_options(
    topic: str | None,
    values: t.Mapping[str, str],
    format_name: str,
    fields: t.Sequence[codecs.Column],
    schemas: Schemas,
) -> dict[str, str]:
    """A registry sink's schema, derived from the SELECT's output, and its id under the subject
    (``auto_register``: the sink's option; unset, the target's ``schema_registry`` decides)."""
    row = formats.FORMATS.get(format_name, formats.FORMATS["json"])
    if not row.registry:
        return {}
    subject = _subject(topic, values, "value")
    if row.schema_type == "PROTOBUF":
        try:
            schema = protobuf.registered_schema(subject, fields, values)
        except protobuf.ProtoProblem as e:
            raise SchemaProblem(str(e), e.hint) from None
    else:
        schema = compact(record_schema(subject, fields))
    auto = values.get("auto_register")
    schema_id = schemas.writer_id(
        subject, schema, auto.lower() == "true" if auto is not None else None, row.schema_type
    )
    return {codecs.CONFLUENT_SCHEMA: schema, codecs.CONFLUENT_ID: str(schema_id)}


def sink_key_sql(
    topic: str | None,
    values: t.Mapping[str, str],
    key_fields: t.Sequence[codecs.Column],
    schemas: Schemas,
) -> str:
    """The key of a sink with ``key_format = 'avro-confluent'``: a record of the KEY's output
    columns under ``<topic>-key`` (or ``key_subject``), as the value's (``sink_options``)."""
    subject = _subject(topic, values, "key")
    proto = values.get("key_format") == "protobuf-confluent"
    if proto:
        try:
            schema = protobuf.sink_schema(protobuf.message_name(subject), key_fields)
        except protobuf.ProtoProblem as e:
            raise SchemaProblem(str(e), e.hint) from None
    else:
        schema = compact(record_schema(subject, key_fields))
    auto = values.get("auto_register")
    schema_id = schemas.writer_id(
        subject,
        schema,
        auto.lower() == "true" if auto is not None else None,
        "PROTOBUF" if proto else "AVRO",
    )
    options = {codecs.CONFLUENT_SCHEMA: schema, codecs.CONFLUENT_ID: str(schema_id)}
    if proto:
        return protobuf.encode_protobuf_confluent(key_fields, options)
    return codecs.encode_avro_confluent(key_fields, options)


def _subject(topic: str | None, values: t.Mapping[str, str], what: str) -> str:
    option = "subject" if what == "value" else f"{what}_subject"
    if values.get(option):
        return values[option]
    if topic is None:
        raise SchemaProblem(
            f"which registry subject holds the {what}'s schema? the topic is not one name",
            f"set {option} = '...' ({_TOPIC_NAMING})",
        )
    return f"{topic}-{what}"


def _keep_writer_types(reader: dict[str, t.Any], latest: dict[str, t.Any]) -> None:
    """A reader field takes the latest writer's Avro type where both read as the same Spark
    type: a ``timestamp-millis`` stays millis (the declared TIMESTAMP alone would say micros,
    and Spark would read the values 1000 times too late), an enum stays an enum."""
    written = _fields(latest)
    for f in reader["fields"]:
        if f["name"] not in written:
            continue
        declared = f["type"][1]
        mine = _non_null(written[f["name"]])
        if mine is not None and _spark_type(mine) == _spark_type(declared):
            f["type"] = ["null", mine]


def _non_null(avro: t.Any) -> t.Any:
    """The one non-null type of a type or of a union with null; None for a wider union."""
    if not isinstance(avro, list):
        return avro
    others = [a for a in avro if a != "null"]
    return others[0] if len(others) == 1 else None


_SPARK_TYPES = {
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
_LOGICAL = {"date": "DATE", "timestamp-millis": "TIMESTAMP", "timestamp-micros": "TIMESTAMP"}


def _spark_type(avro: t.Any) -> str | None:
    """The Spark type ``from_avro`` reads a plain Avro type as; None for one not mapped."""
    if isinstance(avro, dict):
        return _LOGICAL.get(avro.get("logicalType", "")) or _SPARK_TYPES.get(avro.get("type", ""))
    return _SPARK_TYPES.get(avro) if isinstance(avro, str) else None


def columns_from(
    schemas: Schemas,
) -> t.Callable[[Statement, n.CreateKafkaStream, Diagnostics], list[StreamColumn] | None]:
    """``analyse``'s source of the columns of a stream declared without any: the fields of the
    latest schema of its value subject, when its format is a registry one."""

    def columns_of(
        stmt: Statement, node: n.CreateKafkaStream, diags: Diagnostics
    ) -> list[StreamColumn] | None:
        values = {o.name: o.value.text for o in node.options}
        row = formats.FORMATS.get(values.get("format", "json").lower(), _JSON)
        if not row.registry:
            return None
        try:
            latest = schemas.versions(_subject(values.get("topic"), values, "value"))[-1]
            if row.schema_type == "PROTOBUF":
                return _proto_columns(latest.schema, values)
            return [_column(name, avro) for name, avro in _fields(_parsed(latest.schema)).items()]
        except SchemaProblem as e:
            diags.error(e.message, stmt.locate(node.name), e.hint)
            return []

    return columns_of


_JSON = formats.FORMATS["json"]


def _column(name: str, avro: t.Any) -> StreamColumn:
    spark = _spark_type(_non_null(avro))
    if spark is None:
        raise SchemaProblem(
            f"field '{name}' of the latest schema is {_type_text(avro)}, which avro-confluent "
            "does not map to a column yet",
            "declare the stream's columns, leaving this field out",
        )
    return StreamColumn(name, spark)


def _proto_columns(schema: str, values: t.Mapping[str, str]) -> list[StreamColumn]:
    """The fields of the stream's message (``protobuf_message``, else the file's first)."""
    try:
        model, _ = protobuf.parse_schema(schema)
        _, message = protobuf.find_message(model, values.get(protobuf.MESSAGE_OPTION))
        return [StreamColumn(name, type_) for name, type_ in protobuf.columns(model, message)]
    except protobuf.ProtoProblem as e:
        raise SchemaProblem(
            f"the latest schema cannot give the stream's columns: {e}",
            "declare the stream's columns, leaving such fields out",
        ) from None
