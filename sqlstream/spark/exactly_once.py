"""Exactly once into Kafka: each micro-batch in one Kafka transaction, tied to its batch id.

Spark's Kafka sink is at least once: a run killed after its tasks wrote a batch and before the
checkpoint's commit log recorded it writes the batch again when it restarts. A sink with
``delivery = 'exactly_once'`` runs ``foreachBatch(TransactionalWriter(...))`` instead, and for each
batch the driver:

1. computes the batch (one action, ``toArrow``: the records, collected to the driver), always,
   so that a stateful query's state of this batch is written even when step 2 skips it;
2. reads the query's *marker*, the committed offset of the consumer group named by the
   transactional id on partition 0 of the sink's topic: ``batch id + 1`` of the last batch it
   committed, with Spark's query id (kept in the checkpoint) as the offset's metadata; a batch
   at or below it, of the same query id, was committed before a crash: it is not written again;
3. otherwise begins a transaction, produces the records, adds the new marker to the same
   transaction (``send_offsets_to_transaction``) and commits: the records and the marker are
   visible together to a ``read_committed`` consumer, or not at all.

The transactional id is ``sqlstream-eos:<checkpoint>``, stable across restarts of the query; the
producer's ``init_transactions`` on the first batch of a run fences any earlier producer with that
id (a killed run's) and aborts what it left open. The tasks only compute, they never write to
Kafka, so a retried or a speculative task cannot write twice. docs/lowering.md has the whole
design and its limits. Needs confluent-kafka on the driver only.
"""

from __future__ import annotations

import contextlib
import threading
import time
import typing as t
from dataclasses import dataclass
from pathlib import Path

from sqlstream.errors import Location, UserError, UserErrors

if t.TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa
    from pyspark.sql import DataFrame

    from sqlstream.compiler.plan import Plan
    from sqlstream.project.connection import Connection

TRANSACTIONAL_ID_PREFIX = "sqlstream-eos:"
QUERY_ID_PROPERTY = "sql.streaming.queryId"
"""The local property Spark sets on a query's thread: its id, stored in the checkpoint."""
MARKER_PARTITION = 0
TIMEOUT_S = 30.0
"""How long librdkafka may take over one try of a call (init, commit, reading the marker)."""
CALL_TIMEOUT_S = TIMEOUT_S + 10.0
"""How long a call may take, its retries included, before its clients count as wedged."""
WRITE_TIMEOUT_S = 300.0
"""How long a batch is retried with new clients while Kafka is away, before the query fails:
a broker restart takes seconds; a broker down for minutes is for the user to see."""
TRANSACTION_TIMEOUT_MS = 60_000
"""The broker aborts a transaction open longer than this; it must not exceed the broker's
``transaction.max.timeout.ms`` (15 minutes by default). A transaction is only open while the
driver produces a batch already computed, so its length does not depend on the trigger."""
_PRODUCER_DEFAULTS = {
    "linger.ms": "5",
    "queue.buffering.max.messages": "1000000",
    "queue.buffering.max.kbytes": "1048576",
}


def transactional_id(checkpoint: str) -> str:
    """One id per query: the checkpoint (relative to the root) names the query's progress."""
    return TRANSACTIONAL_ID_PREFIX + checkpoint


CONNECT_HINT = (
    "run it on a target whose driver is this process (a local or spark:// master, YARN or"
    " Kubernetes in client mode), or use delivery = 'at_least_once' on Spark Connect"
)


def refuse_on_connect(plan: Plan, connection: Connection, query: str | None = None) -> None:
    """An exactly-once sink cannot run on Spark Connect: ``foreachBatch`` runs its function in
    a Python worker of the server, where neither sqlstream nor confluent-kafka need be, and
    without the query's id (``getLocalProperty`` needs a ``SparkContext``, which Connect has
    not). So a streaming run refuses it before it starts anything, at the sink."""
    if not connection.spark_remote:
        return
    errors = [
        UserError(
            f"query {s.name}: delivery = 'exactly_once' cannot run on Spark Connect"
            f" ({connection.spark_remote}): its transactions are written by the driver's Python,"
            " which is the server's there",
            _delivery_location(s.file, s.line),
            CONNECT_HINT,
        )
        for s in plan.sinks
        if s.delivery == "exactly_once" and query in (None, s.name)
    ]
    if errors:
        raise UserErrors(errors)


def _delivery_location(path: str, line: int) -> Location | None:
    """Where the statement at ``line`` says ``delivery`` (else its first line): the caret."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for number in range(max(1, line), len(lines) + 1):
        text = lines[number - 1].split("--", 1)[0]
        col = text.find("delivery")
        if col >= 0:
            return Location(path, number, col + 1, lines[number - 1], len("delivery"))
        if ";" in text:
            break
    source = lines[line - 1] if 1 <= line <= len(lines) else None
    return Location(path, line, 1, source, max(1, len((source or "").rstrip())))


@dataclass(frozen=True)
class TransactionalWriter:
    """The ``foreachBatch`` function of an exactly-once sink (picklable; compares by value).

    ``client`` are the target's and the sink's Kafka options in Spark's spelling (``kafka.*``);
    ``producer_only`` the ones that only the producer takes (the sink's own options)."""

    topic: str
    transactional_id: str
    bootstrap: str
    client: tuple[tuple[str, str], ...] = ()
    producer_only: tuple[tuple[str, str], ...] = ()

    def __repr__(self) -> str:  # the options may hold secrets: their names only
        keys = ", ".join(k for k, _ in self.client + self.producer_only)
        return (
            f"TransactionalWriter(topic={self.topic!r}, transactional_id="
            f"{self.transactional_id!r}, bootstrap={self.bootstrap!r}, options=[{keys}])"
        )

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        query_id = batch.sparkSession.sparkContext.getLocalProperty(QUERY_ID_PROPERTY) or ""
        table = batch.toArrow()
        _transactions(self).write(table, int(batch_id), query_id)


_OPEN: dict[str, _Transactions] = {}
"""A driver's producers, one per transactional id (for the life of the process)."""


def _transactions(writer: TransactionalWriter) -> _Transactions:
    txn = _OPEN.get(writer.transactional_id)
    if txn is None or txn.writer != writer:
        if txn is not None:
            txn.close()
        txn = _OPEN[writer.transactional_id] = _Transactions(writer)
    return txn


def client_settings(bootstrap: str, options: t.Iterable[tuple[str, str]]) -> dict[str, str]:
    """The target's Kafka options (Spark's ``kafka.*`` spelling) as librdkafka settings, mapped
    as the topic tools map them (a JAAS config to ``sasl.username``...)."""
    # The one import of a package above this one (pyproject's import contract lets it): the
    # mapping of Java client options to librdkafka lives with the other librdkafka clients.
    from sqlstream.project.clientconfig import client_config

    return dict(client_config(bootstrap, dict(options)).librdkafka())


def producer_settings(options: t.Iterable[tuple[str, str]]) -> dict[str, str]:
    """The sink's own ``kafka.*`` producer options: librdkafka's names are the Java client's for
    the common ones (``acks``, ``compression.type``, ``linger.ms``); another fails at once."""
    return {k.removeprefix("kafka."): v for k, v in options}


class _Wedged(Exception):
    """A Kafka call that did not return within its bound (``_bounded``)."""


class _Transactions:
    """The writer of one query: its producer and marker consumer, made again when they wedge.

    librdkafka does not always keep its own timeouts: ``send_offsets_to_transaction`` waits
    without end for a group coordinator it still has cached after the broker restarted
    (librdkafka issues 5456 and 5511, seen here: a query blocked for more than 10 minutes).
    So every call runs under a bound of our own (``_bounded``), and a client that wedged is
    left to its blocked thread and replaced: the new producer's ``init_transactions`` fences the
    old one and aborts its open transaction, and the batch is tried again from the marker."""

    def __init__(self, writer: TransactionalWriter) -> None:
        self.writer = writer
        self.clients: _Clients | None = None

    def write(self, table: pa.Table, batch_id: int, query_id: str) -> None:
        """The batch, in one transaction, unless it was committed already; retried with new
        clients while Kafka is away, for up to ``WRITE_TIMEOUT_S``; else one clear failure."""
        if table.num_rows == 0:
            return
        deadline = time.monotonic() + WRITE_TIMEOUT_S
        while True:
            try:
                if self.clients is None:
                    self.clients = _Clients(self.writer)
                self.clients.write(table, batch_id, query_id)
                return
            except _Retry as exc:
                self.abandon()
                if _STOPPING.is_set():
                    raise RuntimeError(_stopped(self.writer, batch_id, exc.cause)) from None
                if time.monotonic() > deadline:
                    raise RuntimeError(_gave_up(self.writer, batch_id, exc.cause)) from None
                time.sleep(1.0)
            except _Fail as exc:
                self.abandon()
                raise RuntimeError(_message(self.writer, batch_id, exc.err)) from None

    def abandon(self) -> None:
        """Forget the clients; a call blocked in them keeps them until it returns."""
        clients, self.clients = self.clients, None
        if clients is not None:
            clients.close()

    def close(self) -> None:
        self.abandon()


class _Retry(Exception):
    """The attempt failed in a way new clients may not: Kafka away, a call wedged."""

    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause


class _Fail(Exception):
    """The attempt failed for good (fenced by another run, refused by the broker)."""

    def __init__(self, err: t.Any) -> None:
        super().__init__(err)
        self.err = err


class _Clients:
    """A transactional producer and the consumer that reads the query's marker."""

    def __init__(self, writer: TransactionalWriter) -> None:
        import confluent_kafka as ck

        self.writer = writer
        self.wedged = False
        client = client_settings(writer.bootstrap, writer.client)
        self.producer = ck.Producer(
            {
                **_PRODUCER_DEFAULTS,
                **client,
                **producer_settings(writer.producer_only),
                "transactional.id": writer.transactional_id,
                "transaction.timeout.ms": str(TRANSACTION_TIMEOUT_MS),
            }
        )
        self.consumer = ck.Consumer(
            {
                **client,
                "group.id": writer.transactional_id,
                "enable.auto.commit": "false",
                # Reads a marker committed in a transaction only once that transaction is over.
                "isolation.level": "read_committed",
            }
        )
        self.marker_tp = ck.TopicPartition(writer.topic, MARKER_PARTITION)
        # Fences an earlier producer of this id and ends the transaction it left open.
        self.call("init_transactions", self.producer.init_transactions)

    def call(self, what: str, action: t.Callable[[float], _T]) -> _T:
        """``action(timeout)`` under a bound, retried while retriable; its failure classified."""
        import confluent_kafka as ck

        try:
            return _bounded(lambda: _retrying(action), CALL_TIMEOUT_S)
        except _Wedged:
            self.wedged = True
            raise _Retry(f"{what} did not return within {CALL_TIMEOUT_S:.0f} s") from None
        except ck.KafkaException as exc:
            raise _classified(what, exc.args[0]) from None

    def committed(self, batch_id: int, query_id: str) -> bool:
        """Whether this batch of this query was committed (before a crash, by an earlier run).

        A marker of another query id is a checkpoint's earlier life (deleted, started again)."""
        marker = self.call("reading the marker", self._marker)
        return marker.offset > batch_id and (marker.metadata or "") == query_id

    def _marker(self, timeout: float) -> t.Any:
        import confluent_kafka as ck

        (marker,) = self.consumer.committed([self.marker_tp], timeout)
        if marker.error is not None:  # unknown is not "not committed": never guess
            raise ck.KafkaException(marker.error)
        return marker

    def write(self, table: pa.Table, batch_id: int, query_id: str) -> None:
        if self.committed(batch_id, query_id):
            return
        import confluent_kafka as ck

        p = self.producer
        self.call("begin_transaction", lambda _: p.begin_transaction())
        try:
            try:
                _produce(p, self.writer.topic, table)
            except ck.KafkaException as exc:
                raise _classified("produce", exc.args[0]) from None
            marker = ck.TopicPartition(
                self.writer.topic, MARKER_PARTITION, batch_id + 1, metadata=query_id
            )
            group = self.consumer.consumer_group_metadata()
            self.call(
                "send_offsets_to_transaction",
                lambda s: p.send_offsets_to_transaction([marker], group, s),
            )
            self.call("commit_transaction", p.commit_transaction)
        except (_Retry, _Fail):
            if not self.wedged:
                self.abort()
            raise

    def abort(self) -> None:
        """End the open transaction if Kafka lets us; the next ``init_transactions`` would."""
        try:
            self.call("abort_transaction", self.producer.abort_transaction)
        except (_Retry, _Fail):
            self.wedged = True

    def close(self) -> None:
        if self.wedged:  # a call may still be blocked in them: leave them to it
            return
        with contextlib.suppress(Exception):
            _bounded(lambda: self.consumer.close(), CALL_TIMEOUT_S)
            _bounded(lambda: self.producer.flush(TIMEOUT_S), CALL_TIMEOUT_S)


def _classified(what: str, err: t.Any) -> _Retry | _Fail:
    """A Kafka error: worth new clients (Kafka away, an abortable transaction), or final."""
    if err.fatal() or not (_retriable(err) or err.txn_requires_abort()):
        return _Fail(err)
    return _Retry(f"{what}: {err.str()}")


def _message(writer: TransactionalWriter, batch_id: int, err: t.Any) -> str:
    text = f"batch {batch_id} not committed to topic {writer.topic}: {err.str()}"
    if err.fatal():
        text += (
            f" (another run of this query, with transactional id {writer.transactional_id},"
            " fenced this one)"
        )
    return text


def _gave_up(writer: TransactionalWriter, batch_id: int, cause: str) -> str:
    return (
        f"batch {batch_id} not committed to topic {writer.topic}: Kafka did not answer for"
        f" {WRITE_TIMEOUT_S:.0f} s ({cause})"
    )


def _stopped(writer: TransactionalWriter, batch_id: int, cause: str) -> str:
    return (
        f"batch {batch_id} not committed to topic {writer.topic}: the run stopped while Kafka"
        f" did not answer ({cause}); the next run writes it"
    )


def _produce(producer: t.Any, topic: str, table: pa.Table) -> None:
    """Every record of the batch; the columns are those of Spark's Kafka sink."""
    names = table.column_names
    values = table.column("value").to_pylist()
    keys = table.column("key").to_pylist() if "key" in names else [None] * len(values)
    extra: list[tuple[str, list[t.Any]]] = []
    if "partition" in names:
        extra.append(("partition", table.column("partition").to_pylist()))
    if "headers" in names:
        headers = table.column("headers").to_pylist()
        extra.append(("headers", [[(h["key"], h["value"]) for h in hs or ()] for hs in headers]))
    produce = producer.produce
    for i, (key, value) in enumerate(zip(keys, values)):
        kwargs = {name: column[i] for name, column in extra if column[i] is not None}
        while True:
            try:
                produce(topic, value, key, **kwargs)
                break
            except BufferError:  # the local queue is full: let deliveries drain it
                producer.poll(0.05)
        if i % 10_000 == 0:
            producer.poll(0)


_T = t.TypeVar("_T")


def _retrying(action: t.Callable[[float], _T]) -> _T:
    """``action(timeout)``, again while Kafka says its error is retriable (a broker restarting,
    a coordinator moving), for up to ``TIMEOUT_S`` in all."""
    import confluent_kafka as ck

    deadline = time.monotonic() + TIMEOUT_S
    while True:
        try:
            return action(max(1.0, deadline - time.monotonic()))
        except ck.KafkaException as exc:
            err = exc.args[0]
            if not _retriable(err) or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _bounded(action: t.Callable[[], _T], seconds: float) -> _T:
    """``action()`` in a thread of its own, waited for ``seconds`` at most (then ``_Wedged``):
    a librdkafka call that keeps no timeout must not block the query for ever. The thread is a
    daemon: one that stays blocked does not keep the process from ending. While the run stops
    (``stopping``), a call is waited for ``STOP_GRACE_S`` at most."""
    box: dict[str, t.Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            box["value"] = action()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name="sqlstream-exactly-once", daemon=True).start()
    started = time.monotonic()
    while not done.wait(0.2):
        waited = time.monotonic() - started
        if waited > seconds or (_STOPPING.is_set() and waited > STOP_GRACE_S):
            raise _Wedged
    if "error" in box:
        raise box["error"]
    return t.cast(_T, box["value"])


_STOPPING = threading.Event()
STOP_GRACE_S = 5.0


@contextlib.contextmanager
def stopping() -> t.Iterator[None]:
    """The run stops its queries: a batch waiting for Kafka gives up instead of retrying, so
    that the stop does not wait minutes for a broker that is away. Its transaction is not
    committed, and the batch is written by the next run (the marker says it was not)."""
    _STOPPING.set()
    try:
        yield
    finally:
        _STOPPING.clear()


def _retriable(err: t.Any) -> bool:
    import confluent_kafka as ck

    return bool(err.retriable()) or err.code() in (
        ck.KafkaError.NOT_COORDINATOR,
        ck.KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
        ck.KafkaError.COORDINATOR_NOT_AVAILABLE,
        ck.KafkaError._TIMED_OUT,
        ck.KafkaError._TRANSPORT,
    )
