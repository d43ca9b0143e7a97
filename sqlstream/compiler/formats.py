"""The value and key formats, one row each, and the Kafka record's own vocabulary.

The option checks, the planner's column rules, the lowering and the steps (which packages a run
needs) read these rows, so that a format's name, arity and binary rule are written once; each row
also holds the format's decoder and encoder (``codecs``), so adding a format is adding a row.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlstream.compiler import codecs, protobuf


@dataclass(frozen=True)
class Format:
    """One value or key format: where it may be used, and how it is decoded and encoded."""

    name: str
    value: bool
    """Usable for a value (``format = ...``, ``FORMAT ...``)."""
    key: bool
    """Usable for a key (``key_format = ...``)."""
    many: bool
    """Holds several columns (an object, a record); else exactly one."""
    decode: codecs.Decoder
    """Its columns from the raw value or key (``codecs.Side``)."""
    encode: codecs.Encoder
    """The value written from a sink's output fields."""
    binary: bool = False
    """Its one column is BINARY: the bytes as they are."""
    schema_option: str | None = None
    """The option that must give its schema (``avro_schema``)."""
    options: tuple[str, ...] = ()
    """The format options it reads."""
    spark_package: str | None = None
    """The Spark package a run with it needs, beside the Kafka connector."""
    null_text_is_tombstone: bool = False
    """The text ``null`` is no event (as a null value is)."""
    schema_type: str | None = None
    """In Confluent's wire format, its schemas in a Schema Registry (``compiler.schemas``) of
    this ``schemaType`` (``AVRO``, ``JSON``, ``PROTOBUF``)."""
    functions: tuple[tuple[str, str, str], ...] = ()
    """JVM functions its encoder calls: (name, Java class, return type) (``protobuf``)."""

    @property
    def registry(self) -> bool:
        return self.schema_type is not None


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format(
            "json",
            value=True,
            key=True,
            many=True,
            decode=codecs.decode_json,
            encode=codecs.encode_json,
            null_text_is_tombstone=True,
        ),
        Format(
            "avro",
            value=True,
            key=False,
            many=True,
            decode=codecs.decode_avro,
            encode=codecs.encode_avro,
            schema_option="avro_schema",
            options=("avro_schema",),
            spark_package="spark-avro",
        ),
        Format(
            "csv",
            value=True,
            key=False,
            many=True,
            decode=codecs.decode_csv,
            encode=codecs.encode_csv,
            options=("csv_delimiter",),
        ),
        Format(
            "text",
            value=True,
            key=True,
            many=False,
            decode=codecs.decode_text,
            encode=codecs.encode_text,
        ),
        Format(
            "raw",
            value=True,
            key=True,
            many=False,
            decode=codecs.decode_raw,
            encode=codecs.encode_raw,
            binary=True,
        ),
        Format(
            "avro-confluent",
            value=True,
            key=True,
            many=True,
            decode=codecs.decode_avro_confluent,
            encode=codecs.encode_avro_confluent,
            spark_package="spark-avro",
            schema_type="AVRO",
        ),
        Format(
            "json-confluent",
            value=True,
            key=True,
            many=True,
            decode=codecs.decode_json_confluent,
            encode=codecs.encode_json_confluent,
            schema_type="JSON",
        ),
        Format(
            "protobuf-confluent",
            value=True,
            key=True,
            many=True,
            decode=protobuf.decode_protobuf_confluent,
            encode=protobuf.encode_protobuf_confluent,
            options=(protobuf.MESSAGE_OPTION,),
            spark_package="sqlstream-protobuf",
            schema_type="PROTOBUF",
            functions=((protobuf.ENCODE_FUNCTION, protobuf.ENCODE_CLASS, "BINARY"),),
        ),
    )
}
DEFAULT_VALUE_FORMAT = "json"
DEFAULT_KEY_FORMAT = "text"


def _default_first(names: list[str], default: str) -> tuple[str, ...]:
    return tuple(sorted(names, key=lambda n: n != default))


VALUE_FORMATS = _default_first([f.name for f in FORMATS.values() if f.value], DEFAULT_VALUE_FORMAT)
KEY_FORMATS = _default_first([f.name for f in FORMATS.values() if f.key], DEFAULT_KEY_FORMAT)
FORMAT_OPTIONS = tuple(dict.fromkeys(o for f in FORMATS.values() for o in f.options))
"""Every format option (``avro_schema``, ``csv_delimiter``), as a source and a sink accept them."""


def value_format(name: str) -> Format:
    """The row of a value format; ValueError for an unknown one."""
    if name not in VALUE_FORMATS:
        raise ValueError(f"unknown format {name!r}: expected one of {', '.join(VALUE_FORMATS)}")
    return FORMATS[name]


def key_format(name: str) -> Format:
    """The row of a key format; ValueError for an unknown one."""
    if name not in KEY_FORMATS:
        raise ValueError(f"unknown key_format {name!r}: expected one of {', '.join(KEY_FORMATS)}")
    return FORMATS[name]


# --- the Kafka record -------------------------------------------------------------------------

HEADERS_TYPE = "ARRAY<STRUCT<key: STRING, value: BINARY>>"
"""The type of Kafka's headers in Spark (``includeHeaders``), and of a HEADERS column."""
HEADERS_DECLARED = "ARRAY<STRUCT<key STRING, value BINARY>>"
"""The same type as a user declares it."""

METADATA_FIELDS: dict[str, tuple[str, str]] = {
    "topic": ("topic", "STRING"),
    "partition": ("partition", "INT"),
    "offset": ("offset", "BIGINT"),
    "timestamp": ("timestamp", "TIMESTAMP"),
    "timestamp_type": ("timestampType", "INT"),
}
"""``METADATA FROM '<name>'`` -> (the raw Kafka column, its Spark type)."""


def is_headers_type(type_: str) -> bool:
    return _compact(type_) == _compact(HEADERS_TYPE)


def _compact(type_: str) -> str:
    return type_.replace(" ", "").replace(":", "").upper()


#: What happens to a record that does not decode (``on_error``); the first is the default.
ON_ERROR = ("fail", "skip", "dlq")
#: What happens to a record with a null value, a tombstone (``on_tombstone``); the first is the
#: default.
ON_TOMBSTONE = ("skip", "dlq", "fail")
