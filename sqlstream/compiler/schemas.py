"""The schemas of the ``*-confluent`` formats, as the compiler knows them: from a lock file.

A record in Confluent's wire format names its writer schema by an id the registry gave. To
decode, the compiled plan holds every writer schema of the subject known at compile time, by id;
to encode, the id of the sink's schema. The compiler never talks to a registry (it runs
offline, and below the layers allowed to): it asks a ``Schemas``. The default one reads
``schemas.lock.json`` in the project; ``sqlstream run`` passes one that asks the registry and
writes what it found to that file (``sqlstream.kafka.registry``), so that ``validate`` and
``compile`` then work offline and show what the run did.

The lock file (``schemaType`` only when it is not ``AVRO``, so older locks stay valid)::

    {"lock_version": 1,
     "subjects": {"orders-value": [{"version": 1, "id": 7, "schema": "{...}"}, ...],
                  "clicks-value": [{"version": 1, "id": 8, "schema": "{...}",
                                    "schemaType": "JSON"}]}}

What differs between the formats (how a schema's fields read as columns, how a sink's schema is
derived, what a source needs beside the writers) is one ``Kind`` per schema type, in ``KINDS``;
the type mapping itself is ``compiler.schematypes``.
"""

from __future__ import annotations

import json
import typing as t
from dataclasses import dataclass
from pathlib import Path

from sqlstream.compiler import codecs, formats, protobuf
from sqlstream.compiler import schematypes as st
from sqlstream.compiler.parse import Statement
from sqlstream.compiler.plan import StreamColumn
from sqlstream.compiler.schematypes import SchemaProblem, record_name
from sqlstream.compiler.syntax import nodes as n
from sqlstream.errors import Diagnostics, RunFailure

__all__ = ["SchemaProblem"]  # raised by the kinds below, caught as schemas.SchemaProblem

LOCK_FILE = "schemas.lock.json"
LOCK_VERSION = 1
DEFAULT_SCHEMA_TYPE = "AVRO"
"""What a registry means by a schema without ``schemaType``."""


@dataclass(frozen=True)
class Version:
    """One registered schema of a subject."""

    version: int
    id: int
    schema: str
    """The schema as the registry gave it (Avro or JSON Schema text; ``.proto`` text or the base64
    descriptor confluent-kafka registers)."""
    schema_type: str = DEFAULT_SCHEMA_TYPE
    """The registry's ``schemaType``: ``AVRO``, ``JSON``, ``PROTOBUF``."""


class Schemas(t.Protocol):
    """Where the compiler finds the schemas of a subject."""

    failure: RunFailure | None
    """Why the registry could not be reached, once it could not: each stream that needs it then
    has a ``SchemaProblem`` (an error at its place, a warning outside the selection), and the
    compile raises this when the selection needs it (``facade``)."""

    def versions(self, subject: str) -> list[Version]:
        """Every version of ``subject``, oldest first; ``SchemaProblem`` when it has none."""
        ...

    def writer_id(
        self,
        subject: str,
        schema: str,
        auto_register: bool | None,
        schema_type: str = DEFAULT_SCHEMA_TYPE,
    ) -> int:
        """The id of ``schema`` under ``subject`` (registered first, as ``schema_type``, when
        ``auto_register``; None: as the target's ``schema_registry`` says); ``SchemaProblem``
        saying which fields differ when it is not there."""
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
            Version(
                int(v["version"]),
                int(v["id"]),
                str(v["schema"]),
                str(v.get("schemaType", DEFAULT_SCHEMA_TYPE)),
            )
            for v in versions
        ]
        for subject, versions in data.get("subjects", {}).items()
    }


def _locked(v: Version) -> dict[str, t.Any]:
    entry: dict[str, t.Any] = {"version": v.version, "id": v.id, "schema": v.schema}
    if v.schema_type != DEFAULT_SCHEMA_TYPE:
        entry["schemaType"] = v.schema_type
    return entry


def write_lock(path: Path, subjects: t.Mapping[str, list[Version]]) -> None:
    """Write the lock file (sorted, so that its diff in a review shows what changed)."""
    data = {
        "lock_version": LOCK_VERSION,
        "subjects": {s: [_locked(v) for v in versions] for s, versions in sorted(subjects.items())},
    }
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


class LockedSchemas:
    """The schemas of the lock file only: what ``compile`` and ``validate`` use."""

    def __init__(self, path: Path, auto_register: bool = False) -> None:
        self.path = path
        self.failure: RunFailure | None = None  # a file is always there to read
        self.auto_register = auto_register
        """The target's ``schema_registry`` ``auto_register``: a sink's own option wins."""
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
        self,
        subject: str,
        schema: str,
        auto_register: bool | None,
        schema_type: str = DEFAULT_SCHEMA_TYPE,
    ) -> int:
        versions = self._all().get(subject, [])
        found = matching_id(versions, schema, schema_type)
        if found is not None:
            return found
        if auto_register or (auto_register is None and self.auto_register):
            raise SchemaProblem(
                f"the sink's schema is not yet registered under subject '{subject}'",
                "`sqlstream run` (or `sqlstream registry lock`) registers it, "
                "auto_register being true",
            )
        raise not_registered(subject, schema, versions, schema_type)


_TOPIC_NAMING = "TopicNameStrategy: <topic>-value, <topic>-key, or the subject option"


def matching_id(
    versions: t.Sequence[Version], schema: str, schema_type: str = DEFAULT_SCHEMA_TYPE
) -> int | None:
    """The id of the version equal to ``schema`` (same type, same parsed JSON; for Protobuf, the
    same messages), newest first."""
    wanted = _parsed(schema)
    return next(
        (
            v.id
            for v in reversed(versions)
            if v.schema_type == schema_type
            and (_parsed(v.schema) == wanted or KINDS[schema_type].same(v.schema, schema))
        ),
        None,
    )


def not_registered(
    subject: str,
    schema: str,
    versions: t.Sequence[Version],
    schema_type: str = DEFAULT_SCHEMA_TYPE,
) -> SchemaProblem:
    """The error of a sink whose schema the subject lacks: which fields differ from its latest."""
    if not versions:
        return SchemaProblem(
            f"subject '{subject}' has no schema, and auto_register is not set",
            "register the schema, or set auto_register = true on the sink (or in the target's "
            "schema_registry); `sqlstream registry lock` then registers it and records it",
        )
    latest = versions[-1]
    if latest.schema_type != schema_type:
        return wrong_type(subject, latest, schema_type)
    differ = field_differences(_parsed(latest.schema), _parsed(schema), schema_type)
    return SchemaProblem(
        f"the sink's schema is not registered under subject '{subject}'; against its latest "
        f"(version {latest.version}, id {latest.id}): {differ or 'same fields, other details'}",
        "change the SELECT to match it, or set auto_register = true to register the new one",
    )


def wrong_type(subject: str, found: Version, schema_type: str) -> SchemaProblem:
    """A subject of another schema type than the format's."""
    named = [f.name for f in formats.FORMATS.values() if f.schema_type == found.schema_type]
    return SchemaProblem(
        f"subject '{subject}' holds {found.schema_type} schemas (version {found.version}, id "
        f"{found.id}), not {schema_type}",
        f"read it with format {' or '.join(named) or 'of its type'}, or name another subject",
    )


def field_differences(old: t.Any, new: t.Any, schema_type: str = DEFAULT_SCHEMA_TYPE) -> str:
    """``+a long, -b, c: string -> long`` between two record (or object) schemas."""
    kind = KINDS.get(schema_type, KINDS[DEFAULT_SCHEMA_TYPE])
    if kind.differences is not None:
        return kind.differences(old, new)
    before, after, text = kind.fields(old), kind.fields(new), kind.type_text
    parts = [f"+{n} {text(after[n])}" for n in after if n not in before]
    parts += [f"-{n}" for n in before if n not in after]
    parts += [
        f"{n}: {text(before[n])} -> {text(after[n])}"
        for n in after
        if n in before and before[n] != after[n]
    ]
    return ", ".join(parts)


def _avro_fields(schema: t.Any) -> dict[str, t.Any]:
    if not isinstance(schema, dict):
        return {}
    return {f["name"]: f.get("type") for f in schema.get("fields", []) if isinstance(f, dict)}


def _parsed(schema: str) -> t.Any:
    try:
        return json.loads(schema)
    except ValueError:
        return schema


def compact(schema: t.Any) -> str:
    return json.dumps(schema, separators=(",", ":"))


def writers_option(versions: t.Sequence[Version]) -> str:
    return json.dumps([[v.id, v.schema] for v in versions], separators=(",", ":"))


# --- one kind per schema type -------------------------------------------------------------------


def _avro_columns(latest: t.Any, values: t.Mapping[str, str]) -> list[tuple[str, str]]:
    named: dict[str, t.Any] = {}
    return [(f, st.spark_of_avro(a, f, named)) for f, a in _avro_fields(latest).items()]


def _json_columns(latest: t.Any, values: t.Mapping[str, str]) -> list[tuple[str, str]]:
    return [(f, st.spark_of_json(p, f)) for f, p in st.json_properties(latest).items()]


def _avro_writer(
    subject: str, fields: t.Sequence[codecs.Column], values: t.Mapping[str, str]
) -> str:
    return compact(st.avro_record(subject, [(f.name, f.type) for f in fields]))


def _json_writer(
    subject: str, fields: t.Sequence[codecs.Column], values: t.Mapping[str, str]
) -> str:
    return compact(st.json_object(record_name(subject), [(f.name, f.type) for f in fields]))


def _proto_columns(schema: t.Any, values: t.Mapping[str, str]) -> list[tuple[str, str]]:
    """The fields of the stream's message (``protobuf_message``, else the file's first)."""
    try:
        model, _ = protobuf.parse_schema(str(schema))
        _, message = protobuf.find_message(model, values.get(protobuf.MESSAGE_OPTION))
        return protobuf.columns(model, message)
    except protobuf.ProtoProblem as e:
        raise SchemaProblem(
            f"the latest schema cannot give the stream's columns: {e}",
            "declare the stream's columns, leaving such fields out",
        ) from None


def _proto_writer(
    subject: str, fields: t.Sequence[codecs.Column], values: t.Mapping[str, str]
) -> str:
    """The ``.proto`` a sink registers: its message named by ``protobuf_message`` (a value's
    option) or after the subject."""
    try:
        return protobuf.registered_schema(subject, fields, values)
    except protobuf.ProtoProblem as e:
        raise SchemaProblem(str(e), e.hint) from None


def _proto_differences(old: t.Any, new: t.Any) -> str:
    return protobuf.field_differences(str(old), str(new))


def _same_text(a: str, b: str) -> bool:
    return False  # JSON schemas are compared parsed, by matching_id itself


def avro_reader(
    subject: str, columns: t.Sequence[codecs.Column], latest: t.Any
) -> dict[str, t.Any]:
    """The reader schema of the declared columns: each nullable with default null, named as the
    latest writer (``_adopt``)."""
    reader = st.avro_record(subject, [(c.name, c.type) for c in columns])
    if not (isinstance(latest, dict) and latest.get("type") == "record"):
        return reader
    adopted = _adopt(reader, latest, _named_types(latest), set(), top=True)
    return t.cast(dict[str, t.Any], adopted)


def _adopt(
    mine: t.Any, written: t.Any, named: dict[str, t.Any], seen: set[str], top: bool = False
) -> t.Any:
    """A reader type (not null) made to resolve against the writer's: the writer's own Avro type
    where both read as the same Spark type (a ``timestamp-millis`` stays millis: the declared
    TIMESTAMP alone would say micros, and Spark would read the values 1000 times too late; an
    enum stays an enum), else a record takes the writer record's name (Avro resolves a record
    in a union by its name) and its fields, arrays and maps their items, the same way. The top
    record keeps its own nullable fields, so a field an old writer lacks reads as NULL. ``seen``:
    the named types the reader defines so far (a second use is by name, as Avro wants)."""
    w = _non_null(written)
    w = named.get(w, w) if isinstance(w, str) else w
    if w is None:
        return mine
    if not top and st.avro_reads_as(w, dict(named)) == st.avro_reads_as(mine):
        return _defined_once(w, seen)
    kind = mine.get("type") if isinstance(mine, dict) else None
    if kind == "record" and isinstance(w, dict) and w.get("type") == "record":
        theirs = _avro_fields(w)
        adopted = {
            **mine,
            "name": w["name"],
            **({"namespace": w["namespace"]} if w.get("namespace") else {}),
        }
        adopted["fields"] = [
            {**f, "type": ["null", _adopt(f["type"][1], theirs.get(f["name"]), named, seen)]}
            for f in mine["fields"]
        ]
        return adopted
    for part in ("items", "values"):
        if (
            kind in ("array", "map")
            and isinstance(w, dict)
            and w.get("type") == kind
            and part in mine
        ):
            return {**mine, part: ["null", _adopt(mine[part][1], w.get(part), named, seen)]}
    return mine


def _defined_once(avro: t.Any, seen: set[str]) -> t.Any:
    """A writer's type as the reader uses it: a named type already defined, by its name."""
    if not (isinstance(avro, dict) and avro.get("name")):
        return avro
    full = f"{avro['namespace']}.{avro['name']}" if avro.get("namespace") else avro["name"]
    if full in seen:
        return full
    seen.update(_named_types(avro))
    seen.add(full)
    return avro


def _named_types(schema: t.Any) -> dict[str, t.Any]:
    """Every named type of a schema, by name and full name (later fields may name them)."""
    named: dict[str, t.Any] = {}
    st.avro_reads_as(schema, named)
    return named


def _non_null(avro: t.Any) -> t.Any:
    """The one non-null type of a type or of a union with null; None for a wider union."""
    if not isinstance(avro, list):
        return avro
    others = [a for a in avro if a != "null"]
    return others[0] if len(others) == 1 else None


@dataclass(frozen=True)
class Kind:
    """What a schema type means to the compiler."""

    columns: t.Callable[[t.Any, t.Mapping[str, str]], list[tuple[str, str]]]
    """The (name, Spark type) columns of a parsed schema's fields (the stream's options: which
    message); ``SchemaProblem`` for one it cannot map."""
    fields: t.Callable[[t.Any], dict[str, t.Any]]
    """Field name -> its type in the schema (for ``field_differences``)."""
    type_text: t.Callable[[t.Any], str]
    writer: t.Callable[[str, t.Sequence[codecs.Column], t.Mapping[str, str]], str]
    """The schema text of a sink's fields under a subject (the sink's options)."""
    reader: t.Callable[[str, t.Sequence[codecs.Column], t.Any], dict[str, t.Any]] | None = None
    """A source's reader schema (declared columns, latest writer), when its decoder needs one."""
    differences: t.Callable[[t.Any, t.Any], str] | None = None
    """``field_differences`` of two schemas, when the kind compares them itself."""
    same: t.Callable[[str, str], bool] = _same_text
    """Whether two schema texts that differ as JSON describe the same schema."""


KINDS: dict[str, Kind] = {
    "AVRO": Kind(_avro_columns, _avro_fields, st.avro_text, _avro_writer, avro_reader),
    "JSON": Kind(_json_columns, st.json_properties, st.json_text, _json_writer),
    "PROTOBUF": Kind(
        _proto_columns,
        lambda schema: {},
        str,
        _proto_writer,
        differences=_proto_differences,
        same=protobuf.same_schema,
    ),
}


# --- what the planner asks ----------------------------------------------------------------------


def _registry_format(format_name: str) -> formats.Format | None:
    row = formats.FORMATS.get(format_name)
    return row if row is not None and row.schema_type is not None else None


def _checked_versions(schemas: Schemas, subject: str, schema_type: str) -> list[Version]:
    versions = schemas.versions(subject)
    other = next((v for v in versions if v.schema_type != schema_type), None)
    if other is not None:
        raise wrong_type(subject, other, schema_type)
    return versions


def source_options(
    topic: str | None,
    values: t.Mapping[str, str],
    sides: t.Sequence[tuple[str, str, t.Sequence[codecs.Column]]],
    schemas: Schemas,
) -> dict[str, str]:
    """The codec options of a source's registry sides: each side (``value``/``key``, its format,
    its declared columns) whose format is a registry one gets its writers (and its reader)."""
    found: dict[str, str] = {}
    for what, format_name, columns in sides:
        row = _registry_format(format_name)
        if row is None or row.schema_type is None or not columns:
            continue
        subject = _subject(topic, values, what)
        versions = _checked_versions(schemas, subject, row.schema_type)
        found[codecs.CONFLUENT_WRITERS.format(what=what)] = writers_option(versions)
        kind = KINDS[row.schema_type]
        if kind.reader is not None:
            reader = kind.reader(subject, columns, _parsed(versions[-1].schema))
            found[codecs.CONFLUENT_READER.format(what=what)] = compact(reader)
    return found


def _writer_options(
    subject: str,
    row: formats.Format,
    fields: t.Sequence[codecs.Column],
    values: t.Mapping[str, str],
    schemas: Schemas,
) -> dict[str, str]:
    """The schema of ``fields`` in ``row``'s schema type and its id under ``subject``
    (``auto_register``: the sink's option; unset, the target's ``schema_registry`` decides)."""
    schema_type = t.cast(str, row.schema_type)
    schema = KINDS[schema_type].writer(subject, fields, values)
    auto = values.get("auto_register")
    schema_id = schemas.writer_id(
        subject, schema, auto.lower() == "true" if auto is not None else None, schema_type
    )
    return {codecs.CONFLUENT_SCHEMA: schema, codecs.CONFLUENT_ID: str(schema_id)}


def sink_options(
    topic: str | None,
    values: t.Mapping[str, str],
    format_name: str,
    fields: t.Sequence[codecs.Column],
    schemas: Schemas,
) -> dict[str, str]:
    """A registry sink's schema, derived from the SELECT's output, and its id under the subject."""
    row = _registry_format(format_name)
    if row is None:
        return {}
    return _writer_options(_subject(topic, values, "value"), row, fields, values, schemas)


def sink_key_sql(
    topic: str | None,
    values: t.Mapping[str, str],
    key_fields: t.Sequence[codecs.Column],
    schemas: Schemas,
) -> str:
    """The key of a sink with a registry ``key_format``: a record (an object) of the KEY's
    output columns under ``<topic>-key`` (or ``key_subject``), as the value's (``sink_options``)."""
    row = formats.key_format(values["key_format"])
    key_values = {k: v for k, v in values.items() if k != protobuf.MESSAGE_OPTION}  # the value's
    options = _writer_options(_subject(topic, values, "key"), row, key_fields, key_values, schemas)
    return row.encode(key_fields, options)


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


def columns_from(
    schemas: Schemas,
) -> t.Callable[[Statement, n.CreateKafkaStream, Diagnostics], list[StreamColumn] | None]:
    """``analyse``'s source of the columns of a stream declared without any: the fields of the
    latest schema of its value subject, when its format is a registry one."""

    def columns_of(
        stmt: Statement, node: n.CreateKafkaStream, diags: Diagnostics
    ) -> list[StreamColumn] | None:
        values = {o.name: o.value.text for o in node.options}
        row = _registry_format(values.get("format", "json").lower())
        if row is None or row.schema_type is None:
            return None
        try:
            subject = _subject(values.get("topic"), values, "value")
            latest = _checked_versions(schemas, subject, row.schema_type)[-1]
            found = KINDS[row.schema_type].columns(_parsed(latest.schema), values)
            return [StreamColumn(name, spark) for name, spark in found]
        except SchemaProblem as e:
            diags.error(e.message, stmt.locate(node.name), e.hint)
            return []

    return columns_of
