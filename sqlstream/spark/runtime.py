"""Run a plan on Spark Structured Streaming, exactly as the generated script would.

The runtime applies ``steps.steps(plan)``: the very calls ``script`` prints, with ``getattr`` on
the real session and frames, so the confs, Kafka options, expressions and their order cannot
drift apart. It adds what a hand-written script lacks: every query is checked with Spark's own
unsupported-operation checker before any starts, progress is printed per batch, Ctrl-C /
SIGTERM stop every query cleanly, and a failing query stops the others and is reported with
Spark's reason, not a Java stack.

pyspark is imported inside the functions: importing this module needs no JVM.
"""

from __future__ import annotations

import contextlib
import re
import sys
import typing as t
from dataclasses import dataclass

from sqlstream.compiler import lower, triggers
from sqlstream.compiler.plan import Plan, Trigger
from sqlstream.errors import RunFailure
from sqlstream.interrupts import StopFlag
from sqlstream.project.connection import Connection
from sqlstream.spark import exactly_once, state
from sqlstream.spark import executors as executors_mod
from sqlstream.spark import progress as progress_mod
from sqlstream.spark import steps as st
from sqlstream.spark import summary as summary_mod
from sqlstream.spark.exactly_once import TransactionalWriter
from sqlstream.spark.reason import explained, failure, reason
from sqlstream.spark.session import session

if t.TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.streaming import StreamingQuery

__all__ = ["Pending", "build", "check", "explain", "reason", "run", "session", "start"]

POLL_SECONDS = 0.5


# --------------------------------------------------------------------------------------------
# Building and starting the queries
# --------------------------------------------------------------------------------------------


@dataclass
class Pending:
    """A query whose DataFrame is built, checked, and not started yet."""

    step: st.StartQuery
    df: DataFrame


def resolver(connection: Connection, bootstrap_override: str | None = None) -> st.Resolve:
    """How the runtime reads the arguments of a description: literals as they are, the target's
    settings from ``connection`` (which holds the secrets a script reads from its environment),
    columns with ``pyspark.sql.functions`` (which switch to Spark Connect on their own)."""

    def resolve(arg: st.Arg) -> t.Any:
        if isinstance(arg, st.FromTarget):
            if arg.kind == "bootstrap":
                return bootstrap_override or connection.bootstrap_servers
            if arg.kind == "checkpoint":
                return connection.checkpoint_root.rstrip("/") + "/" + arg.value
            return connection.secret_setting(arg.value)
        if isinstance(arg, st.Column):
            from pyspark.sql import functions as F

            return F.expr(arg.sql).alias(arg.alias)
        if isinstance(arg, st.ExactlyOnce):
            return TransactionalWriter(
                arg.topic,
                arg.transactional_id,
                resolve(st.FromTarget("bootstrap")),
                tuple((k, resolve(v)) for k, v in arg.client),
                arg.producer_only,
            )
        return arg

    return resolve


def build(
    plan: Plan,
    spark: SparkSession,
    connection: Connection,
    *,
    trigger_override: Trigger | None = None,
    bootstrap_override: str | None = None,
    query: str | None = None,
) -> list[Pending]:
    """Apply every step up to the queries: confs, sources, views; return the queries' frames."""
    resolve = resolver(connection, bootstrap_override)
    frames: dict[str, t.Any] = {st.SESSION: spark}
    pending: list[Pending] = []
    for step in st.steps(plan, query, connection=connection, trigger_override=trigger_override):
        try:
            st.run_chains(step.chains, frames, resolve)
        except st.CallFailed as failed:
            if isinstance(failed.error, RunFailure):
                raise failed.error from None
            raise _failure(plan, step, failed, connection) from None
        if isinstance(step, st.StartQuery):
            pending.append(Pending(step, frames[step.var]))
    return pending


def _failure(plan: Plan, step: st.Step, failed: st.CallFailed, connection: Connection) -> Exception:
    """Located at the user's statement when Spark names a position in its SQL (``reason``)."""
    sql = failed.call.args[0] if failed.call.name == "sql" and failed.call.args else None
    line = step.line if isinstance(step, st.StartQuery) else 0
    if isinstance(step, st.CreateView):
        line = plan.view(step.name).line
    file = getattr(step, "file", "")
    return failure(
        _where(step),
        failed.error,
        redact=connection.redact,
        file=file,
        line=line,
        sql=sql if isinstance(sql, str) else None,
    )


def _where(step: st.Step) -> str:
    if isinstance(step, st.StartQuery):
        return f"{step.place}: query {step.name}"
    if isinstance(step, (st.ReadSource, st.CreateView)):
        return f"{step.file}: stream {step.name}"
    return step.title


def check(pending: t.Sequence[Pending], connection: Connection) -> None:
    """Spark's own unsupported-operation check of every query, in append mode, before any starts.

    It is what ``DataStreamWriter.start`` runs (``UnsupportedOperationChecker``); running it first
    means one invalid query stops the run before any other query has written anything. On Spark
    Connect the JVM is not reachable from here, and Spark checks at start instead.
    """
    errors: list[str] = []
    for p in pending:
        jdf = getattr(p.df, "_jdf", None)
        if jdf is None:
            continue
        try:
            _check_one(p, jdf)
        except Exception as exc:  # noqa: BLE001 - a Py4JJavaError wrapping AnalysisException
            errors.append(f"{p.step.place}: query {p.step.name}: {reason(exc)}")
    if errors:
        message = "\n".join(errors)
        raise RunFailure(connection.redact(message + _failure_hint(message)))


def _check_one(p: Pending, jdf: t.Any) -> None:
    jvm: t.Any = p.df.sparkSession._jvm  # type: ignore[attr-defined]
    checker = jvm.org.apache.spark.sql.catalyst.analysis.UnsupportedOperationChecker
    append = jvm.org.apache.spark.sql.streaming.OutputMode.Append()
    analysed = jdf.queryExecution().analyzed()
    kind = triggers.kind(p.step.trigger.kind if p.step.trigger else None)
    if kind.checker == "continuous":
        checker.checkForContinuous(analysed, append)
        return
    if ("outputMode", "update") in ((c.name, *c.args) for c in p.step.write):
        # A CHANGELOG sink: its query runs in update mode, and is checked in it.
        append = jvm.org.apache.spark.sql.streaming.OutputMode.Update()
    checker.checkForStreaming(analysed, append)
    if kind.output_mode == "update":
        # Real-time mode only has update mode: fine for a stateless query, whose updates are
        # its appends; a stateful one would emit non-final records.
        stateful = _STATEFUL.search(str(analysed.toString()))
        if stateful:
            raise RunFailure(
                f"real-time mode cannot run a stateful query ({stateful.group(1)}):"
                " its records would not be final; use a processing-time trigger"
            )
        update = jvm.org.apache.spark.sql.streaming.OutputMode.Update()
        checker.checkAdditionalRealTimeModeConstraints(analysed, update)


# A line of an analysed plan: tree marks, then "~" on a streaming node ("+- ~Aggregate [...]").
_STATEFUL = re.compile(
    r"^[\s:|+\-'~]*(Aggregate|Deduplicate\w*|FlatMapGroupsWithState|TransformWithState\w*)\b",
    re.MULTILINE,
)


def start(
    plan: Plan,
    spark: SparkSession,
    connection: Connection,
    *,
    trigger_override: Trigger | None = None,
    bootstrap_override: str | None = None,
    query: str | None = None,
) -> list[StreamingQuery]:
    """Register sources and views, check every query, then start them all (DLQs first)."""
    exactly_once.refuse_on_connect(plan, connection, query)
    pending = build(
        plan,
        spark,
        connection,
        trigger_override=trigger_override,
        bootstrap_override=bootstrap_override,
        query=query,
    )
    check(pending, connection)
    state.check_and_record(plan, connection, query)  # a changed stateful query starts nothing
    resolve = resolver(connection, bootstrap_override)
    started: list[StreamingQuery] = []
    try:
        for p in pending:
            started.append(_start_one(p, resolve, connection))
    except BaseException:
        for q in started:
            _stop(q)
        raise
    return started


def _start_one(p: Pending, resolve: st.Resolve, connection: Connection) -> StreamingQuery:
    try:
        return st.apply(p.df, p.step.write, resolve)
    except st.CallFailed as failed:
        if failed.call.name == "trigger" and isinstance(failed.error, TypeError):
            kind = p.step.trigger.kind if p.step.trigger else ""
            raise RunFailure(
                f"query {p.step.name}: trigger {kind} is not supported by this Spark"
                " (it has no real-time mode)"
            ) from None
        raise failure(_where(p.step), failed.error, redact=connection.redact) from None


# --------------------------------------------------------------------------------------------
# Running: progress, signals, failures
# --------------------------------------------------------------------------------------------


def run(
    plan: Plan,
    connection: Connection,
    *,
    trigger_override: Trigger | None = None,
    bootstrap_override: str | None = None,
    out: t.Callable[[str], t.Any] = print,
    spark: SparkSession | None = None,
    query: str | None = None,
    poll_seconds: float = POLL_SECONDS,
) -> int:
    """Start every query and print progress until they end or the user stops them.

    Returns 0 when every query ended (finite triggers) or Ctrl-C / SIGTERM stopped them. A query
    that fails stops the others and raises ``RunFailure`` with Spark's reason (exit code 1).
    """
    state.check(plan, connection, query)  # before Spark starts: a changed stateful query
    exactly_once.refuse_on_connect(plan, connection, query)  # before a session is made
    if spark is None:
        spark = session(
            connection,
            f"sqlstream-{plan.project}",
            avro=st.avro_needed(plan, query),
            packages=st.packages_needed(plan, query),
        )
    queries = start(
        plan,
        spark,
        connection,
        trigger_override=trigger_override,
        bootstrap_override=bootstrap_override,
        query=query,
    )
    names = ", ".join(q.name for q in queries)
    out(
        connection.redact(
            f"started {len(queries)} quer{'y' if len(queries) == 1 else 'ies'}: {names}"
        )
    )
    stop = StopFlag()
    printed: dict[str, str] = {}
    tally = _tally(plan, queries)
    lost = executors_mod.Watch(spark)  # on a cluster: a lost executor is a line of progress
    with stop.installed(), _summary(queries, printed, tally, out, connection):
        try:
            while True:
                active = [q.isActive for q in queries]
                for q in queries:
                    _print_progress(q, printed, out, connection, tally)
                for text in lost.news():
                    out(connection.redact(text))
                if stop.requested:
                    out(f"stopping ({stop.requested})")
                    with exactly_once.stopping():  # a writer waiting for Kafka gives up
                        for q in queries:
                            _stop(q)
                    return 0
                _raise_failures(queries, active, tally, connection)
                if not any(active):
                    return 0
                stop.wait(poll_seconds)
        except KeyboardInterrupt:
            with exactly_once.stopping():
                for q in queries:
                    _stop(q)
            return 0


def _raise_failures(
    queries: t.Sequence[StreamingQuery],
    active: list[bool],
    tally: summary_mod.Tally,
    connection: Connection,
) -> None:
    """A query that stopped with an error stops the others, and the run, with its reason."""
    failed = [(q, q.exception()) for q, a in zip(queries, active) if not a]
    failed = [(q, e) for q, e in failed if e is not None]
    if not failed:
        return
    for q in queries:
        _stop(q)
    for q, e in failed:
        tally.failed(str(q.name))
        print(connection.redact(f"query {q.name} failed:\n{e}"), file=sys.stderr)  # the log
    message = "\n".join(f"query {q.name} failed: {explained(reason(e), e)}" for q, e in failed)
    raise RunFailure(connection.redact(message + _failure_hint(message)))


def _failure_hint(message: str) -> str:
    """What to do about the failures users meet most."""
    m = re.search(rf"({'|'.join(map(re.escape, _FAIL_OPTIONS))}) in stream (\S+) at", message)
    if m:
        option, what = _FAIL_OPTIONS[m.group(1)]
        return (
            f"\nhint: fix the record, or set {option} = 'skip' or 'dlq' (with dlq_topic) on "
            f"stream {m.group(2)} to keep running past {what}"
        )
    if "does not support EventTimeWatermark" in message:
        return (
            "\nhint: a continuous query cannot read a stream with a WATERMARK that other "
            "queries of the run need; run it on its own with --select"
        )
    return ""


_FAIL_OPTIONS = {
    "malformed record": ("on_error", "malformed records"),
    lower.TOMBSTONE_REASON: ("on_tombstone", "tombstones"),
}
"""What a failure message of ``lower.error_filter`` names -> the option and what it is about."""


def _print_progress(
    q: StreamingQuery,
    printed: dict[str, str],
    out: t.Callable[[str], t.Any],
    connection: Connection,
    tally: summary_mod.Tally,
) -> None:
    """The query's progress events not printed yet, a line each: a batch's, or an idle line
    for a trigger that ran no batch (``progress.ran_a_batch``)."""
    last = printed.get(str(q.id), "")
    for p in q.recentProgress:
        d = progress_mod.as_dict(p)
        stamp = str(d.get("timestamp") or "")
        if stamp <= last:
            continue
        printed[str(q.id)] = last = stamp
        tally.add(d)
        dlq_query = tally.queries[str(d.get("name") or d.get("id"))].dlq_of is not None
        ran = progress_mod.ran_a_batch(d)
        text = progress_mod.line(d, dlq_query=dlq_query) if ran else progress_mod.idle_line(d)
        out(connection.redact(text))


def _tally(plan: Plan, queries: t.Sequence[StreamingQuery]) -> summary_mod.Tally:
    """The run's tally, its queries registered in the order they started."""
    dlq_of = {st.dlq_query_name(s.name): s.name for s in plan.sources if s.dlq_topic}
    tally = summary_mod.Tally()
    for q in queries:
        tally.register(str(q.name), dlq_of.get(str(q.name)))
    return tally


@contextlib.contextmanager
def _summary(
    queries: t.Sequence[StreamingQuery],
    printed: dict[str, str],
    tally: summary_mod.Tally,
    out: t.Callable[[str], t.Any],
    connection: Connection,
) -> t.Iterator[None]:
    """However the run ends (finite triggers, Ctrl-C / SIGTERM, a failure): the progress of the
    batches that ended meanwhile, then the summary of every query."""
    try:
        yield
    finally:
        for q in queries:
            with contextlib.suppress(Exception):  # the JVM may be going away
                _print_progress(q, printed, out, connection, tally)
        for text in tally.lines():
            out(connection.redact(text))


def _stop(q: StreamingQuery) -> None:
    try:
        if q.isActive:
            q.stop()
    except Exception:  # noqa: BLE001, S110 - stopping is best effort; the JVM may be going away
        pass


# --------------------------------------------------------------------------------------------
# Explain
# --------------------------------------------------------------------------------------------


def explain(
    plan: Plan,
    connection: Connection,
    *,
    spark: SparkSession | None = None,
    query: str | None = None,
) -> str:
    """Spark's plans (parsed, analysed, optimised, physical) of every query, none started."""
    if spark is None:
        spark = session(
            connection,
            f"sqlstream-{plan.project}",
            avro=st.avro_needed(plan, query),
            packages=st.packages_needed(plan, query),
        )
    pending = build(plan, spark, connection, query=query)
    parts = [
        f"== Query {p.step.name} ({p.step.place}) ==\n{_streaming_explain(p.df).rstrip()}"
        for p in pending
    ]
    return connection.redact("\n\n".join(parts)) + "\n"


def _streaming_explain(df: DataFrame) -> str:
    """The four plans of a streaming DataFrame, as Spark plans it for a micro-batch.

    ``DataFrame.explain`` plans a streaming frame as an incremental execution, the way a started
    query is planned, on a classic session and on Spark Connect alike; the frame's own
    ``queryExecution().toString()`` would print "Queries with streaming sources must be executed
    with writeStream.start()" where the optimised and physical plans should be. ``explain``
    prints, so its text is captured; nothing is started.
    """
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        df.explain(mode="extended")
    return out.getvalue()
