"""The options a Kafka source (``FROM KAFKA (...)``) and a sink (``WITH (...)``) accept.

Option names are snake_case; each maps to the Spark Kafka option of the same meaning. Quoted
``'kafka.*'`` keys pass through to the Kafka client, except the ones Spark itself refuses (it
manages (de)serialisation, offsets and commits on its own): those are compile-time errors here
rather than a failure minutes into a run.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import typing as t
from dataclasses import dataclass

from sqlstream.compiler import formats, triggers
from sqlstream.compiler.analyse import did_you_mean
from sqlstream.compiler.triggers import parse_duration, parse_trigger

ON_ERROR = formats.ON_ERROR
ON_TOMBSTONE = formats.ON_TOMBSTONE

__all__ = ["parse_duration", "parse_trigger"]  # their home is triggers; kept here for callers

VALUE_FORMATS = formats.VALUE_FORMATS
KEY_FORMATS = formats.KEY_FORMATS
TOPIC_SELECTORS = ("topic", "topics", "topic_pattern")
DELIVERY = ("at_least_once", "exactly_once")
"""A sink's guarantee: Spark's Kafka sink (at least once), or one Kafka transaction per
micro-batch (``spark/exactly_once.py``; docs/lowering.md, "Exactly once into Kafka")."""


@dataclass(frozen=True)
class OptionSpec:
    """One option of a WITH (...) list: its type, its documentation and its Spark name."""

    name: str
    kind: t.Literal["string", "int", "bool", "enum"]
    doc: str
    choices: tuple[str, ...] = ()
    spark: str | None = None
    """The Spark Kafka option it becomes, when it maps one to one."""


SOURCE_OPTIONS: dict[str, OptionSpec] = {
    o.name: o
    for o in (
        OptionSpec("topic", "string", "the one topic to read", spark="subscribe"),
        OptionSpec("topics", "string", "a comma-separated list of topics", spark="subscribe"),
        OptionSpec(
            "topic_pattern", "string", "a Java regex of topic names", spark="subscribePattern"
        ),
        OptionSpec("format", "enum", "the value format", VALUE_FORMATS),
        OptionSpec("key_format", "enum", "the key format", KEY_FORMATS),
        OptionSpec(
            "starting_offsets",
            "string",
            "earliest | latest | per-partition JSON",
            spark="startingOffsets",
        ),
        OptionSpec(
            "starting_timestamp",
            "string",
            "where a new query starts: an ISO timestamp or milliseconds since the epoch",
            spark="startingTimestamp",
        ),
        OptionSpec(
            "max_offsets_per_trigger",
            "int",
            "rate limit per micro-batch",
            spark="maxOffsetsPerTrigger",
        ),
        OptionSpec(
            "min_offsets_per_trigger",
            "int",
            "wait for at least this many records",
            spark="minOffsetsPerTrigger",
        ),
        OptionSpec(
            "fail_on_data_loss", "bool", "fail when offsets were deleted", spark="failOnDataLoss"
        ),
        OptionSpec("on_error", "enum", "what a malformed record does", ON_ERROR),
        OptionSpec("on_tombstone", "enum", "what a tombstone (a null value) does", ON_TOMBSTONE),
        OptionSpec(
            "dlq_topic", "string", "where records go with on_error = 'dlq' or on_tombstone = 'dlq'"
        ),
        OptionSpec(
            "avro_schema", "string", "the Avro schema (JSON) of the value, for format = 'avro'"
        ),
        OptionSpec("csv_delimiter", "string", "the field separator, for format = 'csv'"),
        OptionSpec(
            "protobuf_message",
            "string",
            "the message read, for format = 'protobuf-confluent' (default: the schema's first)",
        ),
        OptionSpec(
            "subject", "string", "the registry subject of the value (default '<topic>-value')"
        ),
        OptionSpec(
            "key_subject", "string", "the registry subject of the key (default '<topic>-key')"
        ),
        OptionSpec(
            "dlq_partitions", "int", "the partitions `run` creates a missing dlq_topic with"
        ),
    )
}

SINK_OPTIONS: dict[str, OptionSpec] = {
    o.name: o
    for o in (
        OptionSpec("trigger", "string", triggers.FORMS),
        OptionSpec(
            "checkpoint", "string", "checkpoint directory, relative to the target's checkpoint root"
        ),
        OptionSpec("name", "string", "the query's stable name (also its default checkpoint)"),
        OptionSpec("avro_schema", "string", "the Avro schema (JSON) of the value, for FORMAT avro"),
        OptionSpec("csv_delimiter", "string", "the field separator, for FORMAT csv"),
        OptionSpec(
            "protobuf_message",
            "string",
            "the message written, for FORMAT protobuf-confluent (default '<subject>' as a name)",
        ),
        OptionSpec(
            "subject", "string", "the registry subject of the value (default '<topic>-value')"
        ),
        OptionSpec(
            "key_format",
            "enum",
            "the key's format: text or a JSON object (default, by KEY), or a registry format",
            tuple(f.name for f in formats.FORMATS.values() if f.key and f.registry),
        ),
        OptionSpec(
            "key_subject", "string", "the registry subject of the key (default '<topic>-key')"
        ),
        OptionSpec(
            "auto_register",
            "bool",
            "register the value's schema when the subject lacks it (else an error before start)",
        ),
        OptionSpec(
            "partitions", "int", "the topic's partitions: `run` creates a missing topic with them"
        ),
        OptionSpec(
            "replication_factor", "int", "the replication factor `run` creates a missing topic with"
        ),
        OptionSpec("delivery", "enum", "at_least_once (the default) | exactly_once", DELIVERY),
    )
}

TOPIC_CONFIG_PREFIX = "topic."
"""``'topic.cleanup.policy' = 'compact'`` on a sink: a Kafka topic config of the topic `run`
creates (``cleanup.policy=compact``); the key after the prefix goes to Kafka as it is."""
TOPIC_OPTIONS = ("partitions", "replication_factor")
"""Sink options that describe the topic rather than the query: they need a literal topic."""

# Spark's KafkaSourceProvider refuses these; the text says what to use instead.
REFUSED_SOURCE_KAFKA_OPTIONS = {
    "kafka.auto.offset.reset": "set starting_offsets = 'earliest' or 'latest' instead",
    "kafka.key.deserializer": "Spark always reads keys as bytes; use key_format instead",
    "kafka.value.deserializer": "Spark always reads values as bytes; use format instead",
    "kafka.enable.auto.commit": "Spark tracks offsets in the checkpoint, not in Kafka commits",
    "kafka.interceptor.classes": (
        "Spark reads keys and values as bytes; interceptors would break it"
    ),
}
REFUSED_SINK_KAFKA_OPTIONS = {
    "kafka.key.serializer": "Spark always writes keys as bytes; use KEY instead",
    "kafka.value.serializer": "Spark always writes values as bytes; use FORMAT or VALUE instead",
    "kafka.interceptor.classes": (
        "Spark writes keys and values as bytes; interceptors would break it"
    ),
}


def check_value(spec: OptionSpec, value: str) -> str | None:
    """None when ``value`` is of the option's kind, else what is wrong (after the option's name).

    One check for a value written in WITH (...) / FROM KAFKA (...) and in sqlstream.yml defaults.
    """
    if spec.kind == "int":
        try:
            if int(value) <= 0:
                return "must be a positive whole number"
        except ValueError:
            return f"must be a whole number, not '{value}'"
    elif spec.kind == "bool":
        if value.lower() not in ("true", "false"):
            return f"must be true or false, not '{value}'"
    elif spec.kind == "enum":
        if value.lower() not in spec.choices:
            hint = did_you_mean(value, list(spec.choices))
            return f"is '{value}', not one of {', '.join(spec.choices)}" + (
                f" ({hint})" if hint else ""
            )
    elif spec.kind == "string" and not value.strip():
        return "is empty"
    return None


BOUNDED_RUN_HINT = (
    "a stream has no end; read a range once with `sqlstream run PATH --from earliest "
    '--until \'{"topic": {"0": 100}}\'` (or --until 2024-05-01T00:00:00Z)'
)
BOUNDED_RUN_ONLY = {
    "ending_offsets": "a streaming Kafka source cannot end",
    "ending_timestamp": "a streaming Kafka source cannot end",
    "ending_offsets_by_timestamp": "a streaming Kafka source cannot end",
}
"""Options of Spark's *batch* Kafka source: where a range ends is a property of one bounded run
(``--until``), not of the stream every query reads, so they are refused with that hint."""

RATE_LIMITS = ("max_offsets_per_trigger",)
"""Source options that only a trigger with ``TriggerKind.rate_limit == "respected"`` obeys."""


def parse_timestamp_ms(text: str) -> int:
    """An ISO 8601 timestamp (one without a zone is UTC) or milliseconds since the epoch -> ms.

    Raises ``ValueError`` with what is wrong. Kafka timestamps are milliseconds since the epoch,
    and Spark's ``startingTimestamp`` / ``endingTimestamp`` take exactly that.
    """
    value = text.strip()
    if value.isdigit():
        return int(value)
    # Python 3.10's fromisoformat does not read a trailing Z.
    try:
        when = dt.datetime.fromisoformat(re.sub(r"[zZ]$", "+00:00", value))
    except ValueError:
        raise ValueError(f"'{text}' is not an ISO timestamp") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return (when - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)) // dt.timedelta(milliseconds=1)


def check_starting_offsets(value: str) -> str | None:
    """None when valid, else what is wrong."""
    if value.lower() in ("earliest", "latest"):
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        return "it is neither 'earliest', 'latest' nor per-partition JSON"
    if not isinstance(parsed, dict) or not all(
        isinstance(parts, dict)
        and all(k.isdigit() and isinstance(v, int) for k, v in parts.items())
        for parts in parsed.values()
    ):
        return (
            'per-partition offsets are a JSON object {"topic": {"0": offset, ...}}, '
            "with -2 for earliest and -1 for latest"
        )
    return None


def check_topic_pattern(value: str) -> str | None:
    try:
        re.compile(value)
    except re.error as e:
        return f"not a valid regular expression: {e}"
    return None
