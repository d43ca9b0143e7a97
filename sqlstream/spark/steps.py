"""The steps of a run, as DataFrame-API calls written down as data.

One function, ``steps``, turns a ``Plan`` into a short list of steps: the Spark confs, each Kafka
source (read, decode, count malformed records and tombstones and drop them or fail, declared
columns, watermark,
temporary view), each derived stream (a temporary view) and each streaming query (the sinks,
and the dead-letter queries of ``on_error = 'dlq'`` sources). A step holds *chains*: a start
(``spark`` or a frame named by an earlier chain) and the calls made on it, in order
(``readStream``, ``format("kafka")``, ``option(k, v)``, ``load()``, ``selectExpr(...)``, ...).

``runtime`` applies the calls with ``getattr`` on the real objects and ``script`` prints them as
Python: both read this one description, so what ``compile`` shows is what ``run`` does by
construction (``tests/compiler/test_codegen.py`` runs both against one recording stand-in).

The few arguments the target supplies are not literals: ``FromTarget`` stands for the bootstrap
servers, a checkpoint location or a secret option, which the runtime takes from the connection
and a script reads from the environment, so that no secret is ever written into a script.
This module imports no pyspark.
"""

from __future__ import annotations

import keyword
import re
import typing as t
from dataclasses import dataclass

from sqlstream.compiler import formats, lower, tables, triggers
from sqlstream.compiler.plan import Plan, SinkPlan, SourcePlan, TablePlan, Trigger
from sqlstream.project.connection import Connection
from sqlstream.spark import exactly_once, progress

# --------------------------------------------------------------------------------------------
# The vocabulary of a description: calls, chains, and the arguments the target supplies
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FromTarget:
    """An argument the target supplies: ``bootstrap`` (the servers), ``checkpoint`` (``value``
    is a location relative to the checkpoint root) or ``secret`` (``value`` is the option name)."""

    kind: t.Literal["bootstrap", "checkpoint", "secret"]
    value: str = ""


@dataclass(frozen=True)
class Column:
    """``F.expr(sql).alias(alias)``: a column argument (``observe`` takes columns, not text)."""

    sql: str
    alias: str


@dataclass(frozen=True)
class Observed:
    """``Observation(name)``: the metrics of a batch write, read after it (``spark.bounded``).

    ``observe`` with a plain name reports to a streaming query's progress only; in batch the
    runtime needs the ``Observation`` object to read what was counted."""

    name: str


@dataclass(frozen=True)
class ExactlyOnce:
    """``TransactionalWriter(...)`` (``spark/exactly_once.py``): the ``foreachBatch`` function of
    a sink with ``delivery = 'exactly_once'``, which writes each batch in one Kafka transaction.

    ``client`` are the target's Kafka options (secret ones as ``FromTarget``), ``producer_only``
    the sink's own ``kafka.*`` options."""

    topic: str
    transactional_id: str
    client: tuple[tuple[str, t.Union[str, FromTarget]], ...]
    producer_only: tuple[tuple[str, str], ...] = ()


Arg = t.Union[str, bool, int, FromTarget, Column, Observed, ExactlyOnce]


@dataclass(frozen=True)
class Call:
    """One call of the DataFrame API, or an attribute read (``readStream``) when ``attr``."""

    name: str
    args: tuple[Arg, ...] = ()
    kwargs: tuple[tuple[str, Arg], ...] = ()
    attr: bool = False


@dataclass(frozen=True)
class Chain:
    """``target = start.call().call()...``; ``target`` None: a statement for its effect."""

    start: str
    calls: tuple[Call, ...]
    target: str | None = None


def attr(name: str) -> Call:
    return Call(name, attr=True)


def call(name: str, *args: Arg, **kwargs: Arg) -> Call:
    return Call(name, args, tuple(kwargs.items()))


SESSION = "spark"
"""The start of chains on the session."""


# --------------------------------------------------------------------------------------------
# The steps
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SetConf:
    """``SET key = value``: a Spark conf for the run."""

    key: str
    value: str

    @property
    def chains(self) -> tuple[Chain, ...]:
        return (Chain(SESSION, (attr("conf"), call("set", self.key, self.value))),)

    @property
    def title(self) -> str:
        return f"SET {self.key}"


@dataclass(frozen=True)
class RegisterFunction:
    """``spark.udf.registerJavaFunction(name, class, type)``: a JVM function of sqlstream's own
    jar that the SQL calls (``compiler.protobuf``); registered once per session, before the
    sources and queries that call it."""

    name: str
    java_class: str
    return_type: str

    @property
    def chains(self) -> tuple[Chain, ...]:
        return (
            Chain(
                SESSION,
                (
                    attr("udf"),
                    call("registerJavaFunction", self.name, self.java_class, self.return_type),
                ),
            ),
        )

    @property
    def title(self) -> str:
        return f"Function {self.name} ({self.java_class})"


@dataclass(frozen=True)
class ReadSource:
    """A Kafka source: read and decode (``decoded_var``, which a DLQ query reads), then count
    and filter malformed records and tombstones, select the declared columns, watermark
    (``var``), view."""

    name: str
    file: str
    chains: tuple[Chain, ...]
    decoded_var: str
    var: str

    @property
    def title(self) -> str:
        return f"Source {self.name} ({self.file})"


@dataclass(frozen=True)
class CreateView:
    """A derived stream: ``spark.sql(sql)`` as a temporary view."""

    name: str
    file: str
    chains: tuple[Chain, ...]
    var: str

    @property
    def title(self) -> str:
        return f"Stream {self.name} ({self.file})"


@dataclass(frozen=True)
class StartQuery:
    """A streaming query writing to Kafka: a sink, or a source's dead-letter query.

    ``frame`` builds the query's DataFrame (which the runtime checks before anything starts);
    ``write`` are the calls on it that start it.
    """

    name: str
    kind: t.Literal["sink", "dlq"]
    file: str
    line: int
    source: str | None
    """For a DLQ query: the source whose decoded records it reads."""
    frame: Chain
    write: tuple[Call, ...]
    trigger: Trigger | None
    """Also in ``write``; kept for the runtime's check, which depends on the trigger's kind."""

    @property
    def chains(self) -> tuple[Chain, ...]:
        return (self.frame,)

    @property
    def var(self) -> str:
        return self.frame.target or self.name

    @property
    def place(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file

    @property
    def checkpoint(self) -> str:
        """Where the query checkpoints, relative to the checkpoint root."""
        return next(
            a.value
            for c in self.write
            for a in c.args
            if isinstance(a, FromTarget) and a.kind == "checkpoint"
        )

    @property
    def title(self) -> str:
        if self.kind == "dlq":
            return f"Dead-letter query {self.name}: bad records of {self.source}, unchanged"
        return f"Query {self.name} ({self.place})"


@dataclass(frozen=True)
class ReadTable:
    """A reference table: a batch read as a temporary view. A query joining it is a
    stream-static join, whose every micro-batch runs the read again (``compiler.tables``)."""

    name: str
    file: str
    chains: tuple[Chain, ...]
    var: str

    @property
    def title(self) -> str:
        return f"Table {self.name} ({self.file}), read again by every micro-batch that joins it"


Step = t.Union[SetConf, RegisterFunction, ReadSource, ReadTable, CreateView, StartQuery]


def metric_name(source: str) -> str:
    """The observed-metrics name under which a source's counts are reported (``progress``)."""
    return f"{source}.{lower.METRIC_COUNTS}"


def trigger_kwargs(trigger: Trigger | None) -> dict[str, t.Any]:
    """The keyword arguments of ``DataStreamWriter.trigger`` (empty: Spark's default)."""
    return triggers.spark_kwargs(trigger.kind, trigger.interval) if trigger else {}


def output_mode(trigger: Trigger | None) -> str:
    """Spark's output mode for a query (``TriggerKind.output_mode``)."""
    return triggers.kind(trigger.kind if trigger else None).output_mode


def selected_sinks(plan: Plan, query: SinkPlan | str | None) -> list[SinkPlan]:
    if query is None:
        return list(plan.sinks)
    name = query if isinstance(query, str) else query.name
    return [s for s in plan.sinks if s.name == name]


def packages_needed(plan: Plan, query: SinkPlan | str | None = None) -> list[str]:
    """Maven coordinates the selected queries' tables need (JDBC drivers), in order."""
    names = {n for s in selected_sinks(plan, query) for n in s.tables}
    return list(dict.fromkeys(p for tb in plan.tables if tb.name in names for p in tb.packages))


def avro_needed(plan: Plan, query: SinkPlan | str | None = None) -> bool:
    """Whether the run needs spark-avro (an Avro source or sink among those it runs)."""
    sinks = selected_sinks(plan, query)
    names = {n for s in sinks for n in s.sources}
    used = [f for s in sinks for f in (s.value_format, s.key_format) if f] + [
        f for s in plan.sources if s.name in names for f in (s.value_format, s.key_format)
    ]
    return any(
        formats.FORMATS[f].spark_package == "spark-avro" for f in used if f in formats.FORMATS
    )


def functions_needed(plan: Plan, query: SinkPlan | str | None = None) -> list[tuple[str, str, str]]:
    """The JVM functions the selected queries call: their sources' decoders, and the encoders
    (``Format.functions``) their sinks' key or value SQL calls, each once."""
    sinks = selected_sinks(plan, query)
    names = {n for s in sinks for n in s.sources}
    found = [f for s in plan.sources if s.name in names for f in s.decoding.functions]
    encoders = [f for row in formats.FORMATS.values() for f in row.functions]
    found += [f for s in sinks for f in encoders if any(f"{f[0]}(" in e for e in s.write_exprs)]
    return list(dict.fromkeys(found))


def steps(
    plan: Plan,
    query: SinkPlan | str | None = None,
    *,
    connection: Connection,
    trigger_override: Trigger | None = None,
) -> list[Step]:
    """Everything a run does, in order: confs, sources, views, then the queries to start.

    With ``query``, only what that sink needs (its sources, their DLQ queries, its views).
    Queries are listed last so that nothing starts before every query is defined (and, in the
    runtime, checked); DLQ queries first.
    """
    sinks = selected_sinks(plan, query)
    needed_sources = {n for s in sinks for n in s.sources}
    needed_views = {n for s in sinks for n in s.views}
    namer = _Namer()
    out: list[Step] = [SetConf(k, v) for k, v in plan.settings.items()]
    out += [RegisterFunction(*f) for f in functions_needed(plan, query)]
    dlqs: list[StartQuery] = []
    for src in plan.sources:
        if src.name not in needed_sources:
            continue
        readers = [s for s in sinks if src.name in s.sources]
        kinds = {
            triggers.kind((trigger_override or s.trigger or _NO_TRIGGER).kind) for s in readers
        }
        read = _read_source(src, connection, kinds, namer)
        out.append(read)
        if src.dlq_topic and src.dlq_filter:
            trigger = trigger_override or (readers[0].trigger if readers else None)
            # The DLQ writes of a source read by an exactly-once sink get the same guarantee.
            eos = any(s.delivery == EXACTLY_ONCE for s in readers)
            dlqs.append(_dlq_query(plan, src, read.decoded_var, connection, trigger, namer, eos))
    needed_tables = {n for s in sinks for n in s.tables}
    out.extend(
        _read_table(table, connection, namer)
        for table in plan.tables
        if table.name in needed_tables
    )
    for view in plan.views:
        if view.name in needed_views:
            var = namer.name(view.name)
            chains = (
                Chain(SESSION, (call("sql", view.sql),), var),
                Chain(var, (call("createOrReplaceTempView", view.name),)),
            )
            out.append(CreateView(view.name, view.file, chains, var))
    out.extend(dlqs)
    for sink in sinks:
        out.append(_sink_query(sink, connection, trigger_override or sink.trigger, namer))
    return out


_NO_TRIGGER = Trigger(triggers.DEFAULT.name)


def _read_source(
    src: SourcePlan,
    connection: Connection,
    kinds: t.Collection[triggers.TriggerKind],
    namer: _Namer,
) -> ReadSource:
    # Counting malformed records and tombstones also matters for speed: observe() keeps Spark
    # from pushing the filter below the decoding projection, where it would parse each value
    # again (docs/benchmarks.md). Continuous and real-time modes have no observe().
    metered = all(k.observe for k in kinds)
    # Continuous mode refuses EventTimeWatermark even under a stateless query, and runs no
    # stateful one (the planner refuses those), so a watermark there has nothing to do. When
    # other queries of the run read the source too, they keep it: Spark then refuses the
    # continuous query before anything starts, rather than a windowed query losing its watermark.
    watermarked = not kinds or any(k.watermark for k in kinds)
    decoded, var = namer.name(f"{src.name}_decoded"), namer.name(src.name)
    read = (
        attr("readStream"),
        call("format", "kafka"),
        *_options(_connection_opts(connection, {}) + list(src.read_options.items())),
        call("load"),
        call("selectExpr", *src.decoding.parse_exprs),
    )
    select: list[Call] = []
    if metered:
        counts = [Column(sql, name) for sql, name in lower.count_exprs(src.decoding, src.on_error)]
        select.append(call("observe", metric_name(src.name), *counts))
    if src.error_filter:
        select.append(call("where", src.error_filter))
    select.append(call("selectExpr", *src.decoding.output_exprs))
    if src.watermark_column and src.watermark_delay and watermarked:
        select.append(call("withWatermark", src.watermark_column, src.watermark_delay))
    chains = (
        Chain(SESSION, read, decoded),
        Chain(decoded, tuple(select), var),
        Chain(var, (call("createOrReplaceTempView", src.name),)),
    )
    return ReadSource(src.name, src.file, chains, decoded, var)


def _read_table(table: TablePlan, connection: Connection, namer: _Namer) -> ReadTable:
    """``spark.read`` of the table, its declared columns (Kafka: the latest record per key,
    deleted keys dropped), as a temporary view under the table's name."""
    var = namer.name(f"{table.name}_table")
    opts: list[tuple[str, Arg]] = list(table.read_options.items())
    if table.connector == "kafka":
        opts = [*_connection_opts(connection, table.read_options), *opts]
    if table.connector == "jdbc":  # the credentials are the target's, never in the plan
        opts += [(k, FromTarget("secret", f"jdbc.{k}")) for k in sorted(connection.jdbc_options)]
    read: list[Call] = [attr("read"), call("format", table.read_format)]
    if table.schema is not None:
        read.append(call("schema", table.schema))
    read += [*_options(opts), call("load", table.path) if table.path else call("load")]
    if table.decode_exprs:
        read.append(call("selectExpr", *table.decode_exprs))
    if table.keep_filter:
        read.append(call("where", table.keep_filter))
    read.append(call("selectExpr", *table.row_exprs))
    if table.latest is not None:
        read += [
            call("groupBy", *table.key),
            call("agg", Column(table.latest, tables.LATEST)),
            call("where", tables.LIVE),
            call("selectExpr", *table.output_exprs),
        ]
    chains = (
        Chain(SESSION, tuple(read), var),
        Chain(var, (call("createOrReplaceTempView", table.name),)),
    )
    return ReadTable(table.name, table.file, chains, var)


def _sink_query(
    sink: SinkPlan, connection: Connection, trigger: Trigger | None, namer: _Namer
) -> StartQuery:
    write = dict(sink.write_options)
    batched = {**_producer_defaults(trigger, connection, write), **write}
    opts = [*_connection_opts(connection, batched), *batched.items()]
    if sink.topic is not None:
        opts.append(("topic", sink.topic))
    opts.append(("checkpointLocation", FromTarget("checkpoint", sink.checkpoint)))
    mode = "update" if sink.changelog else None
    calls = _write(opts, sink.name, trigger, mode)
    select: tuple[Call, ...] = (call("sql", sink.sql), call("selectExpr", *sink.write_exprs))
    if sink.delivery == EXACTLY_ONCE and sink.topic is not None:
        calls = _transactional_write(
            sink.topic, sink.checkpoint, connection, write, sink.name, trigger, mode
        )
        select += (_count_written(sink.name),)
    frame = Chain(SESSION, select, namer.name(f"{sink.name}_query"))
    return StartQuery(
        sink.name,
        "sink",
        sink.file,
        sink.line,
        None,
        frame,
        calls,
        trigger,
    )


def _dlq_query(
    plan: Plan,
    src: SourcePlan,
    decoded: str,
    connection: Connection,
    trigger: Trigger | None,
    namer: _Namer,
    exactly: bool = False,
) -> StartQuery:
    """The malformed records and tombstones of ``src`` that its policies send to its DLQ topic
    (read from its ``decoded`` frame), unchanged."""
    assert src.dlq_topic is not None and src.dlq_filter is not None
    name = dlq_query_name(src.name)
    checkpoint = f"{plan.project}/{name}"
    producer = _producer_defaults(trigger, connection, {})
    opts = [
        *_connection_opts(connection, producer),
        *producer.items(),
        ("topic", src.dlq_topic),
        ("checkpointLocation", FromTarget("checkpoint", checkpoint)),
    ]
    calls: tuple[Call, ...] = (call("where", src.dlq_filter), call("selectExpr", *src.dlq_exprs))
    if exactly:
        calls += (_count_written(name),)
    frame = Chain(decoded, calls, namer.name(f"{src.name}_dlq_query"))
    write = (
        _transactional_write(src.dlq_topic, checkpoint, connection, {}, name, trigger)
        if exactly
        else _write(opts, name, trigger)
    )
    return StartQuery(name, "dlq", src.file, 0, src.name, frame, write, trigger)


def _producer_defaults(
    trigger: Trigger | None, connection: Connection, given: t.Mapping[str, str]
) -> dict[str, str]:
    """The trigger's producer options (``triggers.BATCHED_PRODUCER``) that neither the sink
    (``given``) nor the target sets, for Spark's Kafka sink (an exactly-once writer's producer
    is librdkafka's, which batches up to 1 MB by default)."""
    kind = triggers.kind(trigger.kind if trigger else None)
    taken = given.keys() | connection.kafka_options.keys()
    return {k: v for k, v in kind.producer if k not in taken}


def dlq_query_name(source: str) -> str:
    """The name of a source's dead-letter query (and of its checkpoint)."""
    return f"{source}_dlq"


def _write(
    opts: list[tuple[str, Arg]], name: str, trigger: Trigger | None, mode: str | None = None
) -> tuple[Call, ...]:
    """``mode``: the output mode a sink asks for (``update`` for CHANGELOG), else the trigger's."""
    kwargs = trigger_kwargs(trigger)
    return (
        attr("writeStream"),
        call("format", "kafka"),
        *_options(opts),
        call("outputMode", mode or output_mode(trigger)),
        *([call("trigger", **kwargs)] if kwargs else []),
        call("queryName", name),
        call("start"),
    )


EXACTLY_ONCE = "exactly_once"


def _transactional_write(
    topic: str,
    checkpoint: str,
    connection: Connection,
    producer_only: t.Mapping[str, str],
    name: str,
    trigger: Trigger | None,
    mode: str | None = None,
) -> tuple[Call, ...]:
    """``delivery = 'exactly_once'``: ``foreachBatch`` of a transactional writer instead of the
    Kafka sink; the same checkpoint, output mode, trigger and name (docs/lowering.md)."""
    client = tuple(
        (k, v)
        for k, v in _connection_opts(connection, producer_only)
        if k != "kafka.bootstrap.servers" and isinstance(v, (str, FromTarget))
    )
    writer = ExactlyOnce(
        topic, exactly_once.transactional_id(checkpoint), client, tuple(producer_only.items())
    )
    kwargs = trigger_kwargs(trigger)
    return (
        attr("writeStream"),
        call("foreachBatch", writer),
        call("option", "checkpointLocation", FromTarget("checkpoint", checkpoint)),
        call("outputMode", mode or output_mode(trigger)),
        *([call("trigger", **kwargs)] if kwargs else []),
        call("queryName", name),
        call("start"),
    )


def _count_written(name: str) -> Call:
    """What an exactly-once query hands its writer, per batch (``progress.written``)."""
    return call("observe", f"{name}.{progress.TRANSACTIONAL_METRIC}", Column("count(1)", "written"))


def _options(opts: t.Iterable[tuple[str, Arg]]) -> list[Call]:
    return [call("option", key, value) for key, value in opts]


def _connection_opts(
    connection: Connection, overridden: t.Mapping[str, str]
) -> list[tuple[str, Arg]]:
    """The target's Kafka options, secret ones as ``FromTarget``; the query's own win."""
    opts: list[tuple[str, Arg]] = [("kafka.bootstrap.servers", FromTarget("bootstrap"))]
    for key, value in connection.kafka_options.items():
        if key in overridden or key == "kafka.bootstrap.servers":
            continue
        opts.append((key, FromTarget("secret", key) if key in connection.secret_options else value))
    return opts


class _Namer:
    """Unique, valid Python variable names for the script (stable: same plan, same names)."""

    RESERVED: t.ClassVar[frozenset[str]] = frozenset(
        {
            "os",
            "F",
            "SparkSession",
            "spark",
            "builder",
            "queries",
            "query",
            "BOOTSTRAP",
            "CHECKPOINT_ROOT",
            "SPARK_MASTER",
            "SPARK_REMOTE",
            "JARS",
        }
    )

    def __init__(self) -> None:
        self.used: set[str] = set(self.RESERVED)

    def name(self, wanted: str) -> str:
        base = re.sub(r"\W+", "_", wanted).strip("_") or "stream"
        if base[0].isdigit() or keyword.iskeyword(base):
            base = f"s_{base}"
        name, n = base, 1
        while name in self.used:
            n += 1
            name = f"{base}_{n}"
        self.used.add(name)
        return name


# --------------------------------------------------------------------------------------------
# Applying a description
# --------------------------------------------------------------------------------------------

Resolve = t.Callable[[Arg], t.Any]


class CallFailed(Exception):
    """A call of a chain raised: which call, and the exception."""

    def __init__(self, call: Call, error: Exception) -> None:
        super().__init__(f"{call.name}: {error}")
        self.call = call
        self.error = error


def apply(obj: t.Any, calls: t.Iterable[Call], resolve: Resolve) -> t.Any:
    """Make ``calls`` on ``obj`` with ``getattr``, in order; the last result.

    The method is looked up before its arguments are resolved, as Python evaluates
    ``obj.method(args)``, so a recording stand-in sees a run and its script alike.
    """
    for c in calls:
        try:
            member = getattr(obj, c.name)
            if c.attr:
                obj = member
            else:
                args = [resolve(a) for a in c.args]
                obj = member(*args, **{k: resolve(v) for k, v in c.kwargs})
        except Exception as exc:  # noqa: BLE001 - the caller says which step failed and why
            raise CallFailed(c, exc) from exc
    return obj


def run_chains(chains: t.Iterable[Chain], frames: dict[str, t.Any], resolve: Resolve) -> None:
    """Apply each chain to the frame it starts from; bind its result in ``frames``."""
    for chain in chains:
        result = apply(frames[chain.start], chain.calls, resolve)
        if chain.target is not None:
            frames[chain.target] = result
