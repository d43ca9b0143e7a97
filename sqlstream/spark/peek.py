"""``sqlstream peek``: run one SELECT on the live topic and hand its rows over as they arrive.

Peek is one more way to run the step description of ``steps``: the same confs, sources (read,
decode, malformed records counted and handled by ``on_error``) and derived streams as ``run``,
then the SELECT's frame; only the write differs. Instead of Kafka it writes with
``foreachBatch``, whose function runs here in the driver: each micro-batch is collected (no more
rows than ``--max`` still wants) and passed to the caller, batch by batch. Spark's ``memory`` sink
would keep every row in the driver until the query stops, and its ``console`` sink prints from the
JVM in its own format and cannot stop after N rows: neither shows a table as rows arrive.

Nothing is left behind: no dead-letter query runs (malformed records of an ``on_error = 'dlq'``
source are dropped, as the run would drop them from the query), nothing is written to Kafka, the
streaming checkpoint of the query is never read (each peek starts from the sources'
``starting_offsets``, or ``--from``), and the temporary checkpoint folder the query needs is
deleted when it stops. pyspark is imported inside the functions.
"""

from __future__ import annotations

import contextlib
import dataclasses
import queue
import shutil
import tempfile
import threading
import time
import typing as t
from dataclasses import dataclass
from pathlib import Path

from sqlstream.compiler.peek import PeekQuery
from sqlstream.compiler.plan import Plan
from sqlstream.errors import RunFailure
from sqlstream.interrupts import StopFlag
from sqlstream.project.connection import Connection
from sqlstream.spark import runlog, runtime
from sqlstream.spark import steps as st
from sqlstream.spark.reason import reason

if t.TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

START_OPTIONS = ("startingOffsets", "startingTimestamp", "startingOffsetsByTimestamp")
"""Where a source starts; ``--from`` replaces them all (Spark prefers a timestamp to offsets)."""
STARTS = ("earliest", "latest")
FRAME = "peek_frame"
POLL_SECONDS = 0.2
WAITING_AFTER_SECONDS = 5.0
"""Nothing has arrived for this long after the start: ``on_waiting`` is called (once)."""


@dataclass(frozen=True)
class Batch:
    """The rows of one micro-batch, as plain Python values (a struct is a dict)."""

    number: int
    columns: tuple[str, ...]
    rows: list[tuple[t.Any, ...]]


@dataclass(frozen=True)
class Ended:
    """Why the peek stopped: ``max`` rows shown, ``timeout``, ``stopped`` (Ctrl-C) or ``ended``."""

    rows: int
    why: t.Literal["max", "timeout", "stopped", "ended"]


def description(
    plan: Plan, query: PeekQuery, connection: Connection, start: str | None = None
) -> tuple[list[st.Step], st.Chain]:
    """The run's steps up to the query (no DLQ query, no write), and the SELECT's frame.

    ``plan`` holds ``query`` as its one sink (``compiler.peek.needed_plan``); ``start`` replaces
    every source's starting position.
    """
    steps: list[st.Step] = []
    for step in st.steps(plan, query.name, connection=connection):
        if isinstance(step, st.StartQuery):
            continue
        if isinstance(step, st.ReadSource) and start is not None:
            step = dataclasses.replace(step, chains=tuple(_starting(c, start) for c in step.chains))
        steps.append(step)
    return steps, st.Chain(st.SESSION, (st.call("sql", query.sql),), FRAME)


def _starting(chain: st.Chain, start: str) -> st.Chain:
    """``chain`` reading from ``start``: its own starting options dropped, ours before ``load``."""
    if not any(c.name == "load" for c in chain.calls):
        return chain
    calls: list[st.Call] = []
    for c in chain.calls:
        if c.name == "option" and c.args and c.args[0] in START_OPTIONS:
            continue
        if c.name == "load":
            calls.append(st.call("option", "startingOffsets", start))
        calls.append(c)
    return dataclasses.replace(chain, calls=tuple(calls))


def peek(
    plan: Plan,
    query: PeekQuery,
    connection: Connection,
    *,
    on_batch: t.Callable[[Batch], t.Any],
    on_waiting: t.Callable[[], t.Any] = lambda: None,
    start: str | None = None,
    max_rows: int = 20,
    timeout: float | None = None,
    spark: SparkSession | None = None,
    log: Path | None = None,
    bootstrap_override: str | None = None,
) -> Ended:
    """Run ``query`` until ``max_rows`` rows (0: no limit), ``timeout`` seconds without a row,
    Ctrl-C or the end of its sources; ``on_batch`` gets each batch that has rows.

    ``on_waiting`` is called once when nothing has arrived yet, after an empty batch or a few
    seconds: a windowed aggregate emits a row only when the watermark closes its window.
    A failing query raises ``RunFailure`` with Spark's reason.
    """
    if connection.spark_remote:
        raise RunFailure(
            f"peek cannot run on Spark Connect ({connection.spark_remote}): its foreachBatch"
            " function would run on the server, far from this terminal\n"
            "hint: peek with a target whose Spark runs here (a local or cluster master)"
        )
    if spark is None:
        # The JVM keeps the standard error it starts with: its log lines go to ``log``, while
        # what peek itself prints still reaches the terminal.
        with runlog.captured(log) if log is not None else contextlib.nullcontext():
            spark = runtime.session(
                connection, f"sqlstream-peek-{plan.project}", avro=st.avro_needed(plan)
            )
    frame = _frame(plan, query, connection, start, spark, bootstrap_override)
    batches: queue.Queue[Batch] = queue.Queue()
    folder = tempfile.mkdtemp(prefix="sqlstream-peek-")
    try:
        streaming = _start(frame, _collector(batches, max_rows), folder, query, connection)
        try:
            return _watch(streaming, batches, on_batch, on_waiting, max_rows, timeout, connection)
        finally:
            runtime._stop(streaming)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _frame(
    plan: Plan,
    query: PeekQuery,
    connection: Connection,
    start: str | None,
    spark: SparkSession,
    bootstrap_override: str | None,
) -> t.Any:
    """Apply the description on ``spark``: the SELECT's streaming DataFrame."""
    steps, frame = description(plan, query, connection, start)
    resolve = runtime.resolver(connection, bootstrap_override)
    frames: dict[str, t.Any] = {st.SESSION: spark}
    for step in [*steps, None]:
        chains = step.chains if step is not None else (frame,)
        try:
            st.run_chains(chains, frames, resolve)
        except st.CallFailed as failed:
            where = step.title if step is not None else f"{query.place}: query {query.name}"
            raise RunFailure(connection.redact(f"{where}: {reason(failed.error)}")) from None
    return frames[FRAME]


def _collector(batches: queue.Queue[Batch], max_rows: int) -> t.Callable[[t.Any, int], None]:
    """The ``foreachBatch`` function: collect at most what ``max_rows`` still wants."""
    taken = 0
    lock = threading.Lock()

    def collect(df: t.Any, number: int) -> None:
        nonlocal taken
        with lock:
            wanted = max_rows - taken if max_rows else None
            if wanted is not None and wanted <= 0:
                return
            rows = (df.limit(wanted) if wanted is not None else df).collect()
            taken += len(rows)
            batches.put(
                Batch(number, tuple(df.columns), [tuple(plain(v) for v in r) for r in rows])
            )

    return collect


def plain(value: t.Any) -> t.Any:
    """A value of a collected row as plain Python: a struct (``Row``) becomes a dict."""
    if hasattr(value, "asDict"):
        return {k: plain(v) for k, v in value.asDict().items()}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def _start(
    frame: t.Any,
    collect: t.Callable[[t.Any, int], None],
    folder: str,
    query: PeekQuery,
    connection: Connection,
) -> t.Any:
    try:
        return (
            frame.writeStream.foreachBatch(collect)
            .outputMode("append")
            .option("checkpointLocation", folder)
            .queryName(f"peek_{query.name}")
            .start()
        )
    except Exception as exc:  # noqa: BLE001 - Spark refuses the query: say why, no stack
        raise RunFailure(
            connection.redact(f"{query.place}: query {query.name}: {reason(exc)}")
        ) from None


def _watch(
    streaming: t.Any,
    batches: queue.Queue[Batch],
    on_batch: t.Callable[[Batch], t.Any],
    on_waiting: t.Callable[[], t.Any],
    max_rows: int,
    timeout: float | None,
    connection: Connection,
) -> Ended:
    """Hand batches over until a reason to stop; Ctrl-C (once or twice) is one of them.

    The ``timeout`` clock starts when the first batch is done, not when the query starts: under
    load, Spark's first batch alone can take longer than a short timeout.
    """
    stop = StopFlag()  # the run's own: a flag, so no py4j call is cut in half
    shown, waited = 0, False
    started = time.monotonic()
    last: float | None = None
    with stop.installed():
        try:
            while True:
                batch = _next(batches)
                if batch is not None and (batch.rows or last is None):
                    last = time.monotonic()
                if batch is not None and batch.rows:
                    on_batch(batch)
                    shown += len(batch.rows)
                idle = time.monotonic() - started > WAITING_AFTER_SECONDS
                if not shown and not waited and (batch is not None or idle):
                    waited = True
                    on_waiting()
                if max_rows and shown >= max_rows:
                    return Ended(shown, "max")
                if stop.requested:
                    return Ended(shown, "stopped")
                if not streaming.isActive and batches.empty():
                    _raise_if_failed(streaming, connection)
                    return Ended(shown, "ended")
                if timeout is not None and last is not None and time.monotonic() - last >= timeout:
                    return Ended(shown, "timeout")
        except KeyboardInterrupt:
            return Ended(shown, "stopped")


def _next(batches: queue.Queue[Batch]) -> Batch | None:
    try:
        return batches.get(timeout=POLL_SECONDS)
    except queue.Empty:
        return None


def _raise_if_failed(streaming: t.Any, connection: Connection) -> None:
    error = streaming.exception()
    if error is not None:
        raise RunFailure(connection.redact(f"query {streaming.name} failed: {reason(error)}"))
