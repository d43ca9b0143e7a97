"""Bounded runs, for backfills: ``sqlstream run PATH --from X --until Y``.

A bounded run reads a range of each source once, as a *batch* job (Spark's batch Kafka source,
``spark.read.format("kafka")`` with ``startingOffsets`` / ``startingTimestamp`` and
``endingOffsets`` / ``endingTimestamp``), writes through the very sinks a streaming run writes
through (``df.write.format("kafka")``: the same KEY, PARTITION, HEADERS, TOPIC, FORMAT and DLQ),
prints what each query read and wrote, and exits. It has no checkpoint: it neither reads nor
writes a streaming query's offsets or state, so the state-shape check does not run for it.

It is a variant of the streaming description (``steps.steps``), not a second code path: each
step is rewritten by the tables below (``read`` for ``readStream``, the range options for the
streaming-only ones, ``write ... save()`` for ``writeStream ... start()``, an ``Observation``
for each count), and both the runtime here and ``script`` read the result, so what compile
shows is what a bounded run does. In batch Spark ignores the watermark: a window gets every
record of the range, late ones included (docs/language.md, "Backfills").

pyspark is imported inside the functions: importing this module needs no JVM.
"""

from __future__ import annotations

import json
import re
import typing as t
from dataclasses import dataclass, replace

from sqlstream.compiler import lower, triggers
from sqlstream.compiler.options import parse_timestamp_ms
from sqlstream.compiler.plan import Plan, SourcePlan, Trigger
from sqlstream.errors import RunFailure, UserError
from sqlstream.project.connection import Connection
from sqlstream.spark import executors
from sqlstream.spark import steps as st
from sqlstream.spark.reason import reason

if t.TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

BoundKind = t.Literal["earliest", "latest", "timestamp", "offsets"]
Side = t.Literal["from", "until"]

BOUND_HINT = (
    "give earliest, latest, an ISO timestamp (2024-05-01T10:00:00Z; UTC when no zone) or "
    'per-partition offsets as JSON, e.g. \'{"orders": {"0": 100, "1": 250}}\''
)


# --------------------------------------------------------------------------------------------
# The range: --from and --until
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bound:
    """One end of a range, as the user gave it (``text``) and as Spark takes it."""

    kind: BoundKind
    text: str
    ms: int | None = None
    offsets: dict[str, dict[str, int]] | None = None


@dataclass(frozen=True)
class Range:
    start: Bound
    end: Bound

    def describe(self) -> str:
        return f"from {self.start.text} until {self.end.text}"


EARLIEST = Bound("earliest", "earliest")
LATEST = Bound("latest", "latest")

_REFUSED: dict[tuple[Side, str], tuple[str, str]] = {
    ("from", "latest"): (
        "--from latest reads nothing: a bounded run starts at earliest, a timestamp or offsets",
        "give --from earliest, an ISO timestamp or per-partition offsets; for what arrives "
        "from now on, a streaming run (no --from or --until) of a new query starts at its "
        "starting_offsets, latest by default",
    ),
    ("until", "earliest"): (
        "--until earliest reads nothing: a bounded run ends at latest, a timestamp or offsets",
        "give --until latest, an ISO timestamp or per-partition offsets",
    ),
}
_SPECIAL_OFFSETS: dict[Side, dict[int, str]] = {
    "from": {-2: "earliest"},
    "until": {-1: "latest"},
}
"""The negative offsets Spark's batch source takes on each side (-2 earliest, -1 latest)."""


def _mistake(message: str, hint: str = BOUND_HINT) -> UserError:
    return UserError(message, None, hint)


def parse_bound(text: str, side: Side) -> Bound:
    """``--from`` / ``--until`` as a ``Bound``; a ``UserError`` (one line and a hint) if not one."""
    value = text.strip()
    word = value.lower()
    if (side, word) in _REFUSED:
        raise _mistake(*_REFUSED[(side, word)])
    if word in ("earliest", "latest"):
        return EARLIEST if word == "earliest" else LATEST
    if value.startswith("{"):
        return Bound("offsets", value, offsets=_offsets(value, side))
    if value.lstrip("-").isdigit():
        raise _mistake(
            f"--{side} {value}: a bare number is not a position in every partition",
            'give per-partition offsets as JSON, e.g. \'{"orders": {"0": ' + value + "}}', or an "
            "ISO timestamp",
        )
    try:
        return Bound("timestamp", value, ms=parse_timestamp_ms(value))
    except ValueError as e:
        raise _mistake(f"--{side} {value}: {e}") from None


def _offsets(text: str, side: Side) -> dict[str, dict[str, int]]:
    try:
        parsed = json.loads(text)
    except ValueError as e:
        raise _mistake(f"--{side}: not valid JSON ({e})") from None
    shape_ok = isinstance(parsed, dict) and all(
        isinstance(parts, dict)
        and all(
            k.isdigit() and isinstance(v, int) and not isinstance(v, bool) for k, v in parts.items()
        )
        for parts in parsed.values()
    )
    if not shape_ok:
        raise _mistake(f'--{side}: offsets are a JSON object {{"topic": {{"0": offset, ...}}}}')
    specials = _SPECIAL_OFFSETS[side]
    for topic, parts in parsed.items():
        for part, offset in parts.items():
            if offset < 0 and offset not in specials:
                allowed = ", ".join(f"{k} for {v}" for k, v in specials.items())
                raise _mistake(
                    f"--{side}: offset {offset} of {topic} partition {part} is not an offset",
                    f"offsets are 0 or more ({allowed})",
                )
    return t.cast("dict[str, dict[str, int]]", parsed)


def parse_range(start: str | None, end: str | None) -> Range:
    """``--from`` (default earliest) and ``--until`` (default latest), checked against each
    other: an end before the start is refused, per partition for offsets."""
    rng = Range(
        parse_bound(start, "from") if start else EARLIEST,
        parse_bound(end, "until") if end else LATEST,
    )
    s, e = rng.start, rng.end
    if s.ms is not None and e.ms is not None and e.ms <= s.ms:
        raise _mistake(
            f"--until {e.text} is not after --from {s.text}",
            "the range starts at --from (included) and ends at --until (excluded)",
        )
    for topic, parts in (e.offsets or {}).items():
        for part, until in parts.items():
            since = (s.offsets or {}).get(topic, {}).get(part)
            if since is not None and since >= 0 and 0 <= until < since:
                raise _mistake(
                    f"--until offset {until} of {topic} partition {part} is before --from "
                    f"offset {since}",
                    "the range starts at --from (included) and ends at --until (excluded)",
                )
    return rng


def topics_of(src: SourcePlan) -> tuple[list[str], str | None]:
    """(the topics a source names, its topic pattern)."""
    names = src.read_options.get("subscribe")
    return ([n for n in names.split(",") if n] if names else []), src.read_options.get(
        "subscribePattern"
    )


def _reads(src: SourcePlan, topic: str) -> bool:
    names, pattern = topics_of(src)
    return topic in names or (pattern is not None and re.fullmatch(pattern, topic) is not None)


def check_range(rng: Range, plan: Plan, query: str | None = None) -> None:
    """Offsets that name a topic no selected query reads are a mistake (a typo, or the wrong
    query selected), said in one line with the topics the run reads."""
    sources = _sources(plan, query)
    for side, bound in (("from", rng.start), ("until", rng.end)):
        for topic in bound.offsets or {}:
            if not any(_reads(src, topic) for src in sources):
                read = sorted(
                    {n for s in sources for n in topics_of(s)[0]}
                    | {f"/{p}/" for s in sources if (p := topics_of(s)[1])}
                )
                raise _mistake(
                    f"--{side} names topic '{topic}', which no selected query reads",
                    f"the selected queries read: {', '.join(read) or 'nothing'}",
                )
        if bound.offsets:
            for src in sources:
                names, _ = topics_of(src)
                named = [n for n in names if n in bound.offsets]
                if named and len(named) < len(names):
                    missing = ", ".join(n for n in names if n not in bound.offsets)
                    raise _mistake(
                        f"--{side} gives offsets of {', '.join(named)} but not of {missing}, "
                        f"which stream {src.name} also reads",
                        "give offsets of every topic of the stream (-2 is earliest, -1 latest)",
                    )


def offset_topics(rng: Range) -> list[str]:
    """The topics ``--from`` and ``--until`` give offsets of."""
    return sorted({n for b in (rng.start, rng.end) for n in b.offsets or {}})


def check_partitions(rng: Range, partitions: t.Mapping[str, t.Sequence[int] | None]) -> None:
    """Offsets must name every partition of their topic, and no other (Spark's batch source
    refuses the range otherwise, after the JVM has started); ``partitions``: each topic's ids
    on the cluster (None: no such topic), a topic not in it is not checked."""
    sides: tuple[tuple[Side, Bound], ...] = (("from", rng.start), ("until", rng.end))
    for side, bound in sides:
        for topic, parts in (bound.offsets or {}).items():
            if topic not in partitions:
                continue
            have = partitions[topic]
            if have is None:
                raise _mistake(
                    f"--{side} gives offsets of topic '{topic}', which does not exist",
                    "`sqlstream topics list` shows the topics; check the name",
                )
            given = sorted(int(p) for p in parts)
            if given != list(have):
                every = ", ".join(str(p) for p in have)
                raise _mistake(
                    f"--{side} gives offsets of {topic} partition(s)"
                    f" {', '.join(map(str, given))}, but the topic has partition(s) {every}",
                    f"give every partition: {every} ({_SPECIAL[side]})",
                )


_SPECIAL: dict[Side, str] = {
    side: ", ".join(f"{k} is {v}" for k, v in specials.items())
    for side, specials in _SPECIAL_OFFSETS.items()
}
"""What each side's negative offsets mean, for a hint ("-1 is latest")."""


def _sources(plan: Plan, query: str | None) -> list[SourcePlan]:
    names = {n for s in st.selected_sinks(plan, query) for n in s.sources}
    return [s for s in plan.sources if s.name in names]


# --------------------------------------------------------------------------------------------
# The description: streaming steps rewritten for batch
# --------------------------------------------------------------------------------------------

STREAM_ONLY_READ_OPTIONS = frozenset(
    {
        "startingOffsets",
        "startingTimestamp",
        "startingOffsetsByTimestamp",
        "startingOffsetsByTimestampStrategy",
        "maxOffsetsPerTrigger",
        "minOffsetsPerTrigger",
        "maxTriggerDelay",
    }
)
"""Where a stream starts and how fast it reads: replaced by the range in a bounded run."""

_DEFAULT: dict[Side, dict[str, str]] = {
    "from": {"startingOffsets": "earliest"},
    "until": {"endingOffsets": "latest"},
}

_RANGE_OPTIONS: dict[tuple[Side, BoundKind], t.Callable[[Bound, SourcePlan], dict[str, str]]] = {
    ("from", "earliest"): lambda b, s: _DEFAULT["from"],
    ("until", "latest"): lambda b, s: _DEFAULT["until"],
    # A partition with no record at or after the timestamp is read from its end (nothing),
    # not a failure (Spark's default strategy, "error").
    ("from", "timestamp"): lambda b, s: {
        "startingTimestamp": str(b.ms),
        "startingOffsetsByTimestampStrategy": "latest",
    },
    # A partition with no record at or after the end timestamp is read to its end (Spark).
    ("until", "timestamp"): lambda b, s: {"endingTimestamp": str(b.ms)},
    ("from", "offsets"): lambda b, s: _offsets_option(b, s, "from", "startingOffsets"),
    ("until", "offsets"): lambda b, s: _offsets_option(b, s, "until", "endingOffsets"),
}
"""The Spark batch source's options for each kind of bound (Spark 4.2's Kafka integration guide:
``startingTimestamp`` and ``endingTimestamp`` take precedence over the offsets options)."""


def _offsets_option(bound: Bound, src: SourcePlan, side: Side, key: str) -> dict[str, str]:
    """The offsets of the topics ``src`` reads; a source none of whose topics are named reads
    from earliest or to latest."""
    mine = {topic: parts for topic, parts in (bound.offsets or {}).items() if _reads(src, topic)}
    return {key: json.dumps(mine, separators=(",", ":"))} if mine else _DEFAULT[side]


def range_options(rng: Range, src: SourcePlan) -> dict[str, str]:
    return {
        **_RANGE_OPTIONS[("from", rng.start.kind)](rng.start, src),
        **_RANGE_OPTIONS[("until", rng.end.kind)](rng.end, src),
    }


@dataclass(frozen=True)
class SaveQuery:
    """A query of a bounded run: its frame (counted by an ``Observation``), then one batch write.

    ``chains``: the frame, then the write on it; the runtime builds every frame before it writes
    any, as a streaming run checks every query before it starts one.
    """

    name: str
    kind: t.Literal["sink", "dlq"]
    file: str
    line: int
    source: str | None
    chains: tuple[st.Chain, st.Chain]
    sources: tuple[str, ...]
    """The sources whose read and malformed counts this query's summary shows."""

    @property
    def var(self) -> str:
        return self.chains[0].target or self.name

    @property
    def place(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file

    @property
    def title(self) -> str:
        if self.kind == "dlq":
            return f"Dead-letter write {self.name}: malformed records of {self.source}, unchanged"
        return f"Query {self.name} ({self.place}), once over the range"


BatchStep = t.Union[
    st.SetConf, st.RegisterFunction, st.ReadSource, st.ReadTable, st.CreateView, SaveQuery
]


def _kafka_batch_sink(c: st.Call) -> tuple[st.Call, ...]:
    """An exactly-once sink's ``foreachBatch`` in a bounded run: Spark's Kafka batch write with
    the writer's options and the batched producer of any Kafka sink. A bounded run has no
    checkpoint and nothing to replay: running it again writes again, whatever the delivery
    (docs/lowering.md)."""
    w = c.args[0]
    assert isinstance(w, st.ExactlyOnce)
    opts = [("kafka.bootstrap.servers", st.FromTarget("bootstrap")), *w.client, *w.producer_only]
    given = {k for k, _ in opts}
    opts += [(k, v) for k, v in triggers.BATCHED_PRODUCER if k not in given]
    return (
        st.call("format", "kafka"),
        *(st.call("option", k, v) for k, v in opts),
        st.call("option", "topic", w.topic),
    )


_WRITE: dict[str, t.Callable[[st.Call], tuple[st.Call, ...]]] = {
    "writeStream": lambda c: (st.attr("write"),),
    "foreachBatch": _kafka_batch_sink,
    "outputMode": lambda c: (),
    "trigger": lambda c: (),
    "queryName": lambda c: (),
    "option": lambda c: () if c.args[:1] == ("checkpointLocation",) else (c,),
    # Spark's Kafka sink takes append and error-if-exists (its default) only; append says it.
    "start": lambda c: (st.call("mode", "append"), st.call("save")),
}
"""``writeStream ... start()`` -> ``write ... save()``: no checkpoint, no trigger, no name."""

V1_SOURCES = "spark.sql.sources.useV1SourceList"
V1_SOURCES_WITHOUT_KAFKA = "avro,csv,json,orc,parquet,text"
"""Spark 4.2's default list without ``kafka``: the v1 Kafka batch write (``createRelation``)
runs as a command whose query the ``Observation`` listener never sees, so ``get`` would block
forever; the v2 write (``KafkaTable``, as a streaming write uses) reports them. Measured with
pyspark 4.2 on a real broker: v1 left both observations empty, v2 filled them."""

WRITTEN = "written"
READ = "read"


def written_metric(query: str) -> str:
    return f"{query}.{WRITTEN}"


def steps(
    plan: Plan, query: str | None = None, *, connection: Connection, rng: Range
) -> list[BatchStep]:
    """The streaming description of ``plan`` (under ``available_now``, which counts malformed
    records and keeps the watermark, as a micro-batch does) rewritten for one batch over ``rng``."""
    streaming = st.steps(
        plan, query, connection=connection, trigger_override=Trigger("available_now")
    )
    sinks = {s.name: s for s in plan.sinks}
    out: list[BatchStep] = []
    confs = [s for s in streaming if isinstance(s, st.SetConf)]
    if V1_SOURCES not in plan.settings:
        streaming.insert(len(confs), st.SetConf(V1_SOURCES, V1_SOURCES_WITHOUT_KAFKA))
    for step in streaming:
        if isinstance(step, st.ReadSource):
            out.append(_batch_read(step, plan.source(step.name), rng))
        elif isinstance(step, st.StartQuery):
            sources = tuple(sinks[step.name].sources) if step.kind == "sink" else ()
            out.append(_batch_write(step, sources))
        else:
            out.append(step)
    return out


def _batch_read(step: st.ReadSource, src: SourcePlan, rng: Range) -> st.ReadSource:
    read, select, view = step.chains
    calls: list[st.Call] = []
    for c in read.calls:
        if c.name == "readStream":
            calls.append(st.attr("read"))
        elif c.name == "option" and c.args[:1] and c.args[0] in STREAM_ONLY_READ_OPTIONS:
            continue
        elif c.name == "load":
            calls += [st.call("option", k, v) for k, v in range_options(rng, src).items()]
            calls.append(c)
        else:
            calls.append(c)
    counted = tuple(_observed(c) for c in select.calls)
    if not any(c.name == "observe" for c in counted):
        counted = (_count(step.name, READ), *counted)
    return replace(
        step, chains=(replace(read, calls=tuple(calls)), replace(select, calls=counted), view)
    )


def _observed(c: st.Call) -> st.Call:
    """A streaming ``observe(name, ...)`` as
    ``observe(Observation(name), count(1) AS read, ...)``."""
    if c.name != "observe" or not c.args or not isinstance(c.args[0], str):
        return c
    read = st.Column("count(1)", READ)
    return st.Call(c.name, (st.Observed(c.args[0]), read, *c.args[1:]), c.kwargs)


def _count(name: str, alias: str) -> st.Call:
    return st.call("observe", st.Observed(name), st.Column("count(1)", alias))


def _batch_write(step: st.StartQuery, sources: tuple[str, ...]) -> SaveQuery:
    frame = replace(
        step.frame, calls=(*step.frame.calls, _count(written_metric(step.name), WRITTEN))
    )
    write = tuple(new for c in step.write for new in _WRITE.get(c.name, lambda c: (c,))(c))
    chains = (frame, st.Chain(step.var, write))
    return SaveQuery(step.name, step.kind, step.file, step.line, step.source, chains, sources)


# --------------------------------------------------------------------------------------------
# Running one
# --------------------------------------------------------------------------------------------

Metrics = t.Dict[str, t.Dict[str, t.Any]]


def execute(
    plan: Plan,
    spark: SparkSession,
    connection: Connection,
    rng: Range,
    *,
    query: str | None = None,
    bootstrap_override: str | None = None,
) -> dict[str, t.Any]:
    """Build every frame, then write each query once (DLQs first); the ``Observation`` objects,
    by name, whose ``get`` holds the counts once the writes are done."""
    from sqlstream.spark.runtime import resolver

    observations: dict[str, t.Any] = {}
    base = resolver(connection, bootstrap_override)

    def resolve(arg: st.Arg) -> t.Any:
        if isinstance(arg, st.Observed):
            from pyspark.sql import Observation

            return observations.setdefault(arg.name, Observation(arg.name))
        return base(arg)

    frames: dict[str, t.Any] = {st.SESSION: spark}
    writes: list[SaveQuery] = []
    for step in steps(plan, query, connection=connection, rng=rng):
        chains = step.chains[:1] if isinstance(step, SaveQuery) else step.chains
        _apply(step, chains, frames, resolve, connection)
        if isinstance(step, SaveQuery):
            writes.append(step)
    for w in writes:
        _apply(w, w.chains[1:], frames, resolve, connection)
    return observations


def _apply(
    step: BatchStep,
    chains: t.Sequence[st.Chain],
    frames: dict[str, t.Any],
    resolve: st.Resolve,
    connection: Connection,
) -> None:
    try:
        st.run_chains(chains, frames, resolve)
    except st.CallFailed as failed:
        if isinstance(failed.error, RunFailure):
            raise failed.error from None
        raise RunFailure(connection.redact(f"{_where(step)}: {reason(failed.error)}")) from None


def _where(step: BatchStep) -> str:
    if isinstance(step, SaveQuery):
        return f"{step.place}: query {step.name}"
    if isinstance(step, (st.ReadSource, st.CreateView)):
        return f"{step.file}: stream {step.name}"
    return step.title


def summary(
    plan: Plan, metrics: Metrics, rng: Range, connection: Connection, query: str | None = None
) -> list[str]:
    """What each query read and wrote, one line each (``metrics``: each observation's row)."""
    lines = []
    all_steps = steps(plan, query, connection=connection, rng=rng)
    counted = {
        step.name: a.name
        for step in all_steps
        if isinstance(step, st.ReadSource)
        for c in step.chains[1].calls
        for a in c.args[:1]
        if c.name == "observe" and isinstance(a, st.Observed)
    }
    for step in all_steps:
        if not isinstance(step, SaveQuery):
            continue
        wrote = metrics.get(written_metric(step.name), {}).get(WRITTEN, 0)
        if step.kind == "dlq":
            lines.append(
                f"dead-letter query {step.name}: wrote {wrote} malformed records of {step.source}"
            )
            continue
        rows = [metrics.get(counted.get(s, ""), {}) for s in step.sources]
        read = ", ".join(f"{r.get(READ, 0)} from {s}" for s, r in zip(step.sources, rows))
        malformed = sum(
            int(r.get(lower.COUNT_DLQ) or 0) + int(r.get(lower.COUNT_SKIPPED) or 0) for r in rows
        )
        tombstones = sum(int(r.get(lower.COUNT_TOMBSTONES) or 0) for r in rows)
        extra = f", {malformed} malformed" if malformed else ""
        extra += f", {tombstones} tombstones" if tombstones else ""
        lines.append(f"query {step.name} ({step.place}): read {read}{extra}; wrote {wrote}")
    return lines


def run(
    plan: Plan,
    connection: Connection,
    rng: Range,
    *,
    bootstrap_override: str | None = None,
    out: t.Callable[[str], t.Any] = print,
    spark: SparkSession | None = None,
    query: str | None = None,
) -> int:
    """Check the range, read it once, write it, print what each query read and wrote; 0."""
    from sqlstream.spark.session import session

    check_range(rng, plan, query)
    if spark is None:
        spark = session(
            connection,
            f"sqlstream-{plan.project}",
            avro=st.avro_needed(plan, query),
            packages=st.packages_needed(plan, query),
        )
    writes = [
        s for s in steps(plan, query, connection=connection, rng=rng) if isinstance(s, SaveQuery)
    ]
    out(f"bounded run {rng.describe()}: {len(writes)} quer{'y' if len(writes) == 1 else 'ies'}")
    before = spark.conf.get(V1_SOURCES, None)
    lost = executors.reported(spark, lambda line: out(connection.redact(line)))
    try:
        with lost:  # on a cluster: a lost executor is a line, as in a streaming run
            observations = execute(
                plan, spark, connection, rng, query=query, bootstrap_override=bootstrap_override
            )
    finally:  # the session may be the caller's (sqlstream's own tests, a notebook)
        if before is None:
            spark.conf.unset(V1_SOURCES)
        else:
            spark.conf.set(V1_SOURCES, before)
    metrics = {name: _get(o) for name, o in observations.items()}
    for line in summary(plan, metrics, rng, connection, query):
        out(connection.redact(line))
    return 0


def script(plan: Plan, rng: Range, query: str | None = None, *, connection: Connection) -> str:
    """A standalone PySpark script doing what the bounded run does (``script``'s printer)."""
    from sqlstream.spark import script as printer

    all_steps = steps(plan, query, connection=connection, rng=rng)
    args = [
        a
        for s in all_steps
        for chain in s.chains
        for c in chain.calls
        for a in (*c.args, *(v for _, v in c.kwargs))
    ]
    sink = next((s for s in plan.sinks if s.name == query), None)
    lines = printer._header(plan, sink, connection, args)  # noqa: SLF001 - one printer, two runs
    lines[0] += f" A bounded run {rng.describe()}."
    lines += printer._session_lines(plan, connection)  # noqa: SLF001
    for step in all_steps:
        lines += printer.step_lines(step)  # type: ignore[arg-type]
    return "\n".join([*lines, ""])


OBSERVATION_TIMEOUT = 30.0


def _get(observation: t.Any) -> dict[str, t.Any]:
    """An observation's row, or {} when Spark has not filled it in ``OBSERVATION_TIMEOUT``
    seconds after the writes ended (``Observation.get`` blocks until it is): a summary that
    shows 0 beats a run that never exits."""
    import threading

    row: dict[str, t.Any] = {}
    reader = threading.Thread(target=lambda: row.update(observation.get or {}), daemon=True)
    reader.start()
    reader.join(OBSERVATION_TIMEOUT)
    return row
