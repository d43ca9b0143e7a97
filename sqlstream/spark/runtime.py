"""Run a plan on Spark Structured Streaming, exactly as the generated script would.

The runtime executes ``codegen.steps(plan)``: the same list of steps ``codegen.script`` prints,
so the confs, Kafka options, expressions and their order cannot drift apart. It adds what a
hand-written script lacks: every query is checked with Spark's own unsupported-operation checker
before any starts, progress is printed per batch, Ctrl-C / SIGTERM stop every query cleanly, and
a failing query stops the others and is reported with Spark's reason, not a Java stack.

pyspark is imported inside the functions: importing this module needs no JVM.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import threading
import typing as t
import warnings
from dataclasses import dataclass
from pathlib import Path

from sqlstream.spark import progress as progress_mod
from sqlstream.spark import state
from sqlstream.spark.steps import (
    Connection,
    CreateView,
    Opt,
    ReadSource,
    SetConf,
    StartQuery,
    Step,
    avro_needed,
    spark_confs,
    steps,
    trigger_kwargs,
)
from sqlstream.errors import RunFailure
from sqlstream.compiler.plan import Plan, Trigger

if t.TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.streaming import StreamingQuery

LOG_LEVEL = "ERROR"
POLL_SECONDS = 0.5


# --------------------------------------------------------------------------------------------
# The session
# --------------------------------------------------------------------------------------------


def session(
    connection: Connection,
    app_name: str = "sqlstream",
    *,
    avro: bool = False,
    ui: bool = False,
    kafka: bool = True,
) -> SparkSession:
    """A Spark session for ``connection``: ``local[*]``, the target's master, or Spark Connect.

    The Kafka connector (and spark-avro when ``avro``) comes from ``jars.spark_jars_conf`` at
    pyspark's own version; on Spark Connect the server must have it. Shuffle partitions default
    to 4 (``SET`` overrides it); the UI is off unless ``ui``; the log level is quiet. Without
    ``kafka`` (``sqlstream test`` runs in batch, on DataFrames it builds) no connector jar is
    fetched or loaded.
    """
    import pyspark
    from pyspark.sql import SparkSession

    confs = spark_confs(connection)
    if connection.spark_remote:
        return _connect_session(connection, confs)
    from sqlstream.spark import jars

    master = connection.spark_master or "local[*]"
    builder = SparkSession.builder.appName(app_name).master(master)
    if master.startswith("local"):
        # Keep a local Spark on loopback (and quiet about the host's address).
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    log_config = Path(__file__).with_name("log4j2.properties")
    confs = {
        "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile={log_config.as_uri()}",
        **(jars.spark_jars_conf(pyspark.__version__, avro=avro) if kafka else {}),
        "spark.ui.enabled": "true" if ui else "false",
        "spark.ui.showConsoleProgress": "false",
        **confs,
    }
    for key, value in confs.items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # noqa: BLE001 - Spark raises many kinds; all mean "cannot start"
        raise RunFailure(connection.redact(f"cannot start Spark: {reason(exc)}")) from None
    spark.sparkContext.setLogLevel(LOG_LEVEL)
    return spark


CONNECT_RETRIES = 5
"""Retries of the first call to a Spark Connect server (about 8 s in all, then it fails)."""


def _connect_session(connection: Connection, confs: dict[str, str]) -> SparkSession:
    """A Spark Connect session with ``confs`` set, or a quick ``RunFailure`` when no server answers.

    The client retries an unreachable server for ten minutes or more (to ride out a server
    restart): right for a running query, not for a mistyped ``remote``. So the first call runs
    under a short retry policy, and the client's own policy is put back for the run.
    """
    remote = connection.spark_remote or ""
    try:
        from pyspark.sql import SparkSession
        from pyspark.sql.connect.client.retries import DefaultPolicy
    except ImportError as exc:  # pyspark's Spark Connect client needs grpcio, pandas, pyarrow...
        raise RunFailure(
            f"cannot use Spark Connect: {exc}\n"
            "hint: install the client's packages: pip install 'sqlstream[connect]'"
        ) from None
    spark = None
    try:
        # PySpark's own builder (not the Connect one): it also switches pyspark.sql.functions
        # to Spark Connect. With no option but the remote, building makes no call.
        spark = SparkSession.builder.remote(remote).getOrCreate()
        client = spark.client  # type: ignore[attr-defined]
        policies = client.get_retry_policies()
        client.set_retry_policies(
            [DefaultPolicy(max_retries=CONNECT_RETRIES, initial_backoff=250, backoff_multiplier=2.0)]
        )
        try:
            with warnings.catch_warnings():  # RETRIES_EXCEEDED: the error below says it better
                warnings.simplefilter("ignore")
                spark.version  # noqa: B018 - the first call: is a server there?
        finally:
            client.set_retry_policies(policies)
    except Exception as exc:  # noqa: BLE001 - gRPC and Spark errors alike mean "cannot start"
        if spark is not None:
            # A closed client makes no call at exit (else its clean-up retries for minutes).
            with contextlib.suppress(Exception):
                spark.client.close()
        # PySpark wraps the gRPC error, whose status text says what went wrong.
        rpc = next((e for e in (exc, exc.__context__) if callable(getattr(e, "details", None))), None)
        text = str(rpc.details()) if rpc is not None else reason(exc)  # type: ignore[attr-defined]
        raise RunFailure(
            connection.redact(f"cannot reach Spark Connect at {remote}: {text}\n"
                              "hint: is the server running, and is the remote's host:port right?")
        ) from None
    try:
        for key, value in confs.items():
            spark.conf.set(key, value)
    except Exception as exc:  # noqa: BLE001 - e.g. a static conf, which a session cannot set
        raise RunFailure(connection.redact(f"cannot set Spark conf on {remote}: {reason(exc)}")) from None
    return t.cast("SparkSession", spark)


# --------------------------------------------------------------------------------------------
# Building and starting the queries
# --------------------------------------------------------------------------------------------


@dataclass
class Pending:
    """A query whose DataFrame is built, checked, and not started yet."""

    step: StartQuery
    df: DataFrame


def _option_value(opt: Opt, connection: Connection, bootstrap_override: str | None) -> str:
    if opt.kind == "bootstrap":
        return bootstrap_override or connection.bootstrap_servers
    if opt.kind == "checkpoint":
        return connection.checkpoint_root.rstrip("/") + "/" + opt.value
    return opt.value  # a literal, or a secret's value (which the runtime may hold)


def build(
    plan: Plan,
    spark: SparkSession,
    connection: Connection,
    *,
    trigger_override: Trigger | None = None,
    bootstrap_override: str | None = None,
    query: str | None = None,
) -> list[Pending]:
    """Execute every step up to the queries: confs, sources, views; return the queries' frames."""
    from pyspark.sql import functions as F

    decoded: dict[str, DataFrame] = {}
    pending: list[Pending] = []
    all_steps: list[Step] = steps(
        plan, query, connection=connection, trigger_override=trigger_override
    )
    for step in all_steps:
        try:
            if isinstance(step, SetConf):
                spark.conf.set(step.key, step.value)
            elif isinstance(step, ReadSource):
                reader = spark.readStream.format("kafka")
                for opt in step.options:
                    reader = reader.option(opt.key, _option_value(opt, connection, bootstrap_override))
                raw = reader.load().selectExpr(*step.parse_exprs)
                decoded[step.name] = raw
                df = raw
                if step.observe:
                    name, expr = step.observe
                    df = df.observe(name, F.expr(expr).alias("malformed"))
                if step.error_filter:
                    df = df.where(step.error_filter)
                df = df.selectExpr(*step.output_exprs)
                if step.watermark:
                    df = df.withWatermark(*step.watermark)
                df.createOrReplaceTempView(step.name)
            elif isinstance(step, CreateView):
                spark.sql(step.sql).createOrReplaceTempView(step.name)
            elif isinstance(step, StartQuery):
                if step.kind == "dlq":
                    df = decoded[step.source or ""]
                    if step.where:
                        df = df.where(step.where)
                else:
                    df = spark.sql(step.sql or "")
                pending.append(Pending(step, df.selectExpr(*step.select_exprs)))
        except RunFailure:
            raise
        except Exception as exc:  # noqa: BLE001 - AnalysisException, ParseException, Py4J...
            raise RunFailure(connection.redact(f"{_where(step)}: {reason(exc)}")) from None
    return pending


def _where(step: Step) -> str:
    if isinstance(step, StartQuery):
        place = f"{step.file}:{step.line}" if step.line else step.file
        return f"{place}: query {step.name}"
    if isinstance(step, ReadSource):
        return f"{step.file}: stream {step.name}"
    if isinstance(step, CreateView):
        return f"{step.file}: stream {step.name}"
    return f"SET {step.key}"


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
        jvm: t.Any = p.df.sparkSession._jvm  # type: ignore[attr-defined]
        checker = jvm.org.apache.spark.sql.catalyst.analysis.UnsupportedOperationChecker
        append = jvm.org.apache.spark.sql.streaming.OutputMode.Append()
        try:
            analysed = jdf.queryExecution().analyzed()
            kind = p.step.trigger.kind if p.step.trigger else "processing_time"
            if kind == "continuous":
                checker.checkForContinuous(analysed, append)
            else:
                checker.checkForStreaming(analysed, append)
                if kind == "real_time":
                    # Real-time mode only has update mode: fine for a stateless query, whose
                    # updates are its appends; a stateful one would emit non-final records.
                    stateful = _STATEFUL.search(str(analysed.toString()))
                    if stateful:
                        raise RunFailure(
                            f"real-time mode cannot run a stateful query ({stateful.group(1)}):"
                            " its records would not be final; use a processing-time trigger"
                        )
                    update = jvm.org.apache.spark.sql.streaming.OutputMode.Update()
                    checker.checkAdditionalRealTimeModeConstraints(analysed, update)
        except Exception as exc:  # noqa: BLE001 - a Py4JJavaError wrapping AnalysisException
            place = f"{p.step.file}:{p.step.line}" if p.step.line else p.step.file
            errors.append(f"{place}: query {p.step.name}: {reason(exc)}")
    if errors:
        message = "\n".join(errors)
        raise RunFailure(connection.redact(message + _failure_hint(message)))


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
    started: list[StreamingQuery] = []
    try:
        for p in pending:
            writer = p.df.writeStream.format("kafka")
            for opt in p.step.options:
                writer = writer.option(opt.key, _option_value(opt, connection, bootstrap_override))
            writer = writer.outputMode(p.step.output_mode)
            kwargs = trigger_kwargs(p.step.trigger)
            if kwargs:
                try:
                    writer = writer.trigger(**kwargs)
                except TypeError:
                    raise RunFailure(
                        f"query {p.step.name}: trigger {p.step.trigger.kind if p.step.trigger else ''}"
                        " is not supported by this Spark (it has no real-time mode)"
                    ) from None
            try:
                started.append(writer.queryName(p.step.name).start())
            except Exception as exc:  # noqa: BLE001
                raise RunFailure(connection.redact(f"{_where(p.step)}: {reason(exc)}")) from None
    except BaseException:
        for q in started:
            _stop(q)
        raise
    return started


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
    if spark is None:
        spark = session(connection, f"sqlstream-{plan.project}", avro=avro_needed(plan, query))
    queries = start(
        plan,
        spark,
        connection,
        trigger_override=trigger_override,
        bootstrap_override=bootstrap_override,
        query=query,
    )
    names = ", ".join(q.name for q in queries)
    out(connection.redact(f"started {len(queries)} quer{'y' if len(queries) == 1 else 'ies'}: {names}"))
    stop = _StopFlag()
    printed: dict[str, str] = {}
    with stop.installed():
        try:
            while True:
                active = [q.isActive for q in queries]
                for q in queries:
                    _print_progress(q, printed, out, connection)
                if stop.requested:
                    out(f"stopping ({stop.requested})")
                    for q in queries:
                        _stop(q)
                    return 0
                failed = [(q, q.exception()) for q, a in zip(queries, active) if not a]
                failed = [(q, e) for q, e in failed if e is not None]
                if failed:
                    for q in queries:
                        _stop(q)
                    message = "\n".join(f"query {q.name} failed: {reason(e)}" for q, e in failed)
                    raise RunFailure(connection.redact(message + _failure_hint(message)))
                if not any(active):
                    return 0
                stop.wait(poll_seconds)
        except KeyboardInterrupt:
            for q in queries:
                _stop(q)
            return 0


def _failure_hint(message: str) -> str:
    """What to do about the failures users meet most."""
    m = re.search(r"malformed record in stream (\S+) at", message)
    if m:
        return (
            f"\nhint: fix the record, or set on_error = 'skip' or 'dlq' (with dlq_topic) on "
            f"stream {m.group(1)} to keep running past malformed records"
        )
    if "does not support EventTimeWatermark" in message:
        return (
            "\nhint: a continuous query cannot read a stream with a WATERMARK that other "
            "queries of the run need; run it on its own with --select"
        )
    return ""


def _print_progress(
    q: StreamingQuery, printed: dict[str, str], out: t.Callable[[str], t.Any], connection: Connection
) -> None:
    last = printed.get(str(q.id), "")
    for p in q.recentProgress:
        d = progress_mod.as_dict(p)
        stamp = str(d.get("timestamp") or "")
        if stamp <= last:
            continue
        printed[str(q.id)] = last = stamp
        out(connection.redact(progress_mod.line(d)))


def _stop(q: StreamingQuery) -> None:
    try:
        if q.isActive:
            q.stop()
    except Exception:  # noqa: BLE001, S110 - stopping is best effort; the JVM may be going away
        pass


class _StopFlag:
    """Ctrl-C and SIGTERM set a flag the run loop checks, so no py4j call is cut in half.

    A second Ctrl-C raises ``KeyboardInterrupt`` at once, for a user who does not want to wait.
    """

    def __init__(self) -> None:
        self.requested: str | None = None
        self._event = threading.Event()

    def _handler(self, signum: int, frame: t.Any) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = signal.Signals(signum).name
        self._event.set()

    def wait(self, seconds: float) -> None:
        self._event.wait(seconds)

    def installed(self) -> t.ContextManager[None]:
        import contextlib

        @contextlib.contextmanager
        def cm() -> t.Iterator[None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
            for s in previous:
                signal.signal(s, self._handler)
            try:
                yield
            finally:
                for s, h in previous.items():
                    signal.signal(s, h)

        return cm()


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
        spark = session(connection, f"sqlstream-{plan.project}", avro=avro_needed(plan, query))
    pending = build(plan, spark, connection, query=query)
    parts = []
    for p in pending:
        place = f"{p.step.file}:{p.step.line}" if p.step.line else p.step.file
        header = f"== Query {p.step.name} ({place}) =="
        jdf = getattr(p.df, "_jdf", None)
        if jdf is not None:
            text = str(jdf.queryExecution().toString())
        else:  # Spark Connect
            text = p.df._explain_string(extended=True)  # type: ignore[attr-defined,operator]
        parts.append(f"{header}\n{text.rstrip()}")
    return connection.redact("\n\n".join(parts)) + "\n"


# --------------------------------------------------------------------------------------------
# Spark's reason, without the Java stack
# --------------------------------------------------------------------------------------------

_STACK_LINE = re.compile(r"^\s*(at |\.\.\. \d+ more|Caused by: |JVM stacktrace:|Traceback )")
_PLAN_LINE = re.compile(r"^\s*([+:|~']|!|\+-|:-)")
_ERROR_CLASS = re.compile(r"\[([A-Z][A-Z0-9_]+(?:\.[A-Z0-9_]+)*)\]")


def reason(exc: BaseException | t.Any, max_lines: int = 6) -> str:
    """The meaningful part of a Spark error: the innermost ``[ERROR_CLASS] message``, no stack."""
    text = _message(exc)
    text = text.split("=== Streaming Query ===")[0]
    lines = [ln.rstrip() for ln in text.splitlines()]
    lines = [
        ln for ln in lines
        if ln.strip() and not _STACK_LINE.match(ln) and not _PLAN_LINE.match(ln)
    ]
    # Spark nests: "Job aborted ... : org.apache.spark.SparkException: [X] ... : [USER_RAISED...]".
    # The last error class on a line is the cause the user can act on.
    picked: list[str] = []
    for ln in lines:
        ln = re.sub(r"\b(?:[a-z][\w$]*\.)+[A-Z][\w$]*(?:Exception|Error): ", "", ln)
        # Spark Connect's exceptions read "(ERROR_CLASS) message": the local form is "[...]".
        ln = re.sub(r"^\(([A-Z][A-Z0-9_]+(?:\.[A-Z0-9_]+)*)\) ", r"[\1] ", ln)
        matches = list(_ERROR_CLASS.finditer(ln))
        if len(matches) > 1:
            ln = ln[matches[-1].start():]
        picked.append(ln.strip())
        if len(picked) >= max_lines:
            break
    return "\n".join(dict.fromkeys(picked)) or type(exc).__name__


def _message(exc: t.Any) -> str:
    """The Java message of a PySpark or py4j exception, without PySpark's appended JVM stack."""
    candidates: list[t.Callable[[], t.Any]] = [
        lambda: getattr(exc, "_desc", None),  # CapturedException: the Java message
        lambda: exc.java_exception.getMessage(),  # Py4JJavaError
        lambda: exc.getMessage(),
        lambda: str(exc),
    ]
    for get in candidates:
        try:
            text = get()
        except Exception:  # noqa: BLE001, S112 - not that kind of exception
            continue
        if isinstance(text, str) and text.strip():
            return text.split("\n\nJVM stacktrace:")[0]
    return ""
