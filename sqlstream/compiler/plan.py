"""The plan: what a run will do, as plain data.

The planner fills it from the analysed statements; ``spark.steps`` turns it into the calls that
``spark.script`` prints and ``spark.runtime`` executes, so what ``compile`` shows is what ``run``
does. Every expression in here is Spark SQL text, already lowered (see ``lower``); nothing here
imports pyspark.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field

import orjson

from sqlstream.compiler.triggers import TriggerName

ColumnRole = t.Literal["value", "key", "header", "headers", "metadata"]


@dataclass(frozen=True)
class StreamColumn:
    """A declared column of a Kafka source and where its value comes from."""

    name: str
    type: str
    """Spark SQL type, e.g. ``STRING`` or ``ARRAY<STRUCT<key: STRING, value: BINARY>>``."""
    role: ColumnRole = "value"
    ref: str | None = None
    """The header key for ``HEADER('k')``; the metadata field for ``METADATA FROM '...'``."""


@dataclass(frozen=True)
class Field:
    """A column of a derived stream's or a sink's output."""

    name: str
    type: str


@dataclass
class Decoding:
    """How a raw Kafka record becomes the stream's columns, and how a bad one is recognised."""

    parse_exprs: list[str]
    """``selectExpr`` over the raw Kafka DataFrame; keeps the raw columns, adds parsed ones."""
    error_expr: str
    """Boolean SQL over ``parse_exprs``' output: true when the record is malformed."""
    reason_expr: str
    """String SQL over ``parse_exprs``' output: why the record is malformed."""
    output_exprs: list[str]
    """``selectExpr`` over ``parse_exprs``' output giving the declared columns, in order."""
    functions: list[tuple[str, str, str]] = field(default_factory=list)
    """JVM functions the decoding calls: (name, Java class, return type) (``protobuf``)."""


@dataclass
class TopicSpec:
    """What a sink declares of its topic (``WITH (partitions = 6, 'topic.cleanup.policy' = ...)``):
    before any query starts, `run` creates the topic with it when it is missing."""

    partitions: int | None = None
    replication_factor: int | None = None
    """None: the broker's default."""
    configs: dict[str, str] = field(default_factory=dict)
    """Kafka topic configs (``cleanup.policy``: ``compact``), without the ``topic.`` prefix."""


@dataclass
class SourcePlan:
    """One CREATE STREAM ... FROM KAFKA: how its topic is read and decoded."""

    name: str
    file: str
    columns: list[StreamColumn]
    value_format: str
    key_format: str
    read_options: dict[str, str]
    """Spark Kafka source options (subscribe, startingOffsets, ...), without the connection."""
    decoding: Decoding
    on_error: str = "fail"
    """fail | skip | dlq: what a malformed record does."""
    error_filter: str | None = None
    """``where`` condition applied after decoding: raises (fail) or drops (skip, dlq)."""
    dlq_topic: str | None = None
    dlq_partitions: int | None = None
    """``dlq_partitions``: `run` creates a missing DLQ topic with this many partitions."""
    dlq_exprs: list[str] = field(default_factory=list)
    """``selectExpr`` over ``parse_exprs``' output giving the DLQ record (key, value, headers)."""
    on_tombstone: str = "skip"
    """skip | dlq | fail: what a tombstone (a null value) does."""
    dlq_filter: str | None = None
    """``where`` over ``parse_exprs``' output selecting what goes to the DLQ; None: no DLQ."""
    watermark_column: str | None = None
    watermark_delay: str | None = None
    """e.g. ``10 minutes``: the form ``withWatermark`` takes."""


@dataclass
class ViewPlan:
    """A derived stream: a temporary view over a Spark SQL query."""

    name: str
    file: str
    sql: str
    fields: list[Field]
    line: int = 0
    """Where the statement starts in ``file``: run-time errors in its SQL are located from it."""


@dataclass
class TablePlan:
    """A reference table: a batch read that every micro-batch of a query joining it runs again,
    so each stream record meets the table as it is then (``compiler.tables``)."""

    name: str
    file: str
    connector: str
    """kafka | files | jdbc."""
    columns: list[StreamColumn]
    key: list[str]
    read_format: str
    """``spark.read.format(...)``: kafka, csv, json, parquet, jdbc."""
    read_options: dict[str, str]
    """Spark reader options, without the connection's."""
    packages: list[str] = field(default_factory=list)
    """Maven coordinates the read needs on Spark's classpath (a JDBC driver)."""
    path: str | None = None
    """``load(path)`` of a files table."""
    schema: str | None = None
    """The DDL schema a files table is read with."""
    decode_exprs: list[str] = field(default_factory=list)
    """Kafka: ``selectExpr`` over the raw records (``Decoding.parse_exprs``)."""
    keep_filter: str | None = None
    """Kafka: the ``where`` that drops or fails on malformed records (tombstones kept)."""
    row_exprs: list[str] = field(default_factory=list)
    """``selectExpr`` giving the declared columns (Kafka: and the record's order and tombstone)."""
    latest: str | None = None
    """Kafka: the ``agg`` per key (``groupBy(key)``) of its latest record, tombstone or not."""
    output_exprs: list[str] = field(default_factory=list)
    """Kafka: ``selectExpr`` of the declared columns from the latest live record per key."""


@dataclass
class Trigger:
    """A sink's trigger: its kind and, for the timed ones, the interval."""

    kind: TriggerName
    interval: str | None = None
    """``10 seconds`` for processing_time and continuous (and real_time's batch duration)."""


@dataclass
class SinkPlan:
    """One INSERT INTO KAFKA: a streaming query."""

    name: str
    """Stable query name: ``<file stem>_<n>`` or ``WITH (name = ...)``."""
    file: str
    line: int
    sql: str
    """The SELECT, as Spark SQL."""
    fields: list[Field]
    write_exprs: list[str]
    """``selectExpr`` over the SELECT's output giving key, value and, when used, topic,
    partition and headers: the columns Spark's Kafka sink reads."""
    value_format: str
    topic: str | None
    """The one topic, when the topic is a literal; ``None`` when a ``topic`` column routes."""
    write_options: dict[str, str]
    """Spark Kafka sink options (``kafka.*`` pass-through), without the connection."""
    trigger: Trigger | None
    checkpoint: str
    """Relative to ``<checkpoint root>``: ``<project>/<query name>``."""
    sources: list[str]
    """The Kafka sources this query reads, directly or through views."""
    views: list[str]
    """The derived streams it reads, in dependency order."""
    topic_spec: TopicSpec | None = None
    """What the sink declares of its (literal) topic; None when it declares nothing."""
    partition_sql: str | None = None
    """The PARTITION clause as the user wrote it (for messages), when there is one."""
    partitions_needed: int | None = None
    """The fewest partitions the topic needs for the PARTITION clause, when that is known from
    the SQL (a literal ``n`` needs n + 1; ``pmod(x, n)`` and ``x % n`` need n); `run` checks it."""
    delivery: str = "at_least_once"
    """``WITH (delivery = ...)``: ``exactly_once`` writes each micro-batch in one transaction."""
    tables: list[str] = field(default_factory=list)
    """The tables this query joins, directly or through views."""
    changelog: bool = False
    """``CHANGELOG``: Spark's ``update`` output mode, each change of a group a record."""
    key_format: str | None = None
    """``key_format`` of a sink that encodes its KEY in a registry format (None: text or JSON)."""


@dataclass
class Plan:
    """The checked project: every source, view, table and sink, in dependency order."""

    project: str
    sources: list[SourcePlan] = field(default_factory=list)
    views: list[ViewPlan] = field(default_factory=list)
    """In dependency order: each view reads only sources and earlier views."""
    sinks: list[SinkPlan] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)
    """``SET`` statements: Spark confs for the run."""
    tables: list[TablePlan] = field(default_factory=list)
    """Reference tables the sinks join."""

    def to_json(self) -> str:
        """What ``compile`` writes to target/plan.json: the bytes ``json.dumps(indent=2)``
        gives, but for text outside ASCII, written as it is (UTF-8), not as ``\\u`` escapes.
        orjson, as the json module indents only in its pure-Python encoder (27 ms against 3 ms
        for a 250-file project)."""
        return orjson.dumps(self, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode()

    def to_dict(self) -> dict[str, t.Any]:
        return t.cast(dict[str, t.Any], orjson.loads(self.to_json()))

    def source(self, name: str) -> SourcePlan:
        return next(s for s in self.sources if s.name == name)

    def view(self, name: str) -> ViewPlan:
        return next(v for v in self.views if v.name == name)
