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

import time
import typing as t
from dataclasses import dataclass

if t.TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa
    from pyspark.sql import DataFrame

TRANSACTIONAL_ID_PREFIX = "sqlstream-eos:"
QUERY_ID_PROPERTY = "sql.streaming.queryId"
"""The local property Spark sets on a query's thread: its id, stored in the checkpoint."""
MARKER_PARTITION = 0
TIMEOUT_S = 60.0
"""How long a Kafka call (init, commit, reading the marker) may take, broker restarts included."""
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


class _Transactions:
    """A transactional producer and the consumer that reads the query's marker."""

    def __init__(self, writer: TransactionalWriter) -> None:
        import confluent_kafka as ck

        self.writer = writer
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
        # Fences an earlier producer of this id and ends the transaction it left open.
        _retrying(lambda: self.producer.init_transactions(TIMEOUT_S))
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

    def committed(self, batch_id: int, query_id: str) -> bool:
        """Whether this batch of this query was committed (before a crash, by an earlier run).

        A marker of another query id is a checkpoint's earlier life (deleted, started again)."""
        marker = _retrying(self._marker)
        return marker.offset > batch_id and (marker.metadata or "") == query_id

    def _marker(self) -> t.Any:
        import confluent_kafka as ck

        (marker,) = self.consumer.committed([self.marker_tp], TIMEOUT_S)
        if marker.error is not None:  # unknown is not "not committed": never guess
            raise ck.KafkaException(marker.error)
        return marker

    def write(self, table: pa.Table, batch_id: int, query_id: str) -> None:
        if table.num_rows == 0 or self.committed(batch_id, query_id):
            return
        import confluent_kafka as ck

        p = self.producer
        p.begin_transaction()
        try:
            _produce(p, self.writer.topic, table)
            marker = ck.TopicPartition(
                self.writer.topic, MARKER_PARTITION, batch_id + 1, metadata=query_id
            )
            group = self.consumer.consumer_group_metadata()
            _retrying(lambda: p.send_offsets_to_transaction([marker], group, TIMEOUT_S))
            _retrying(lambda: p.commit_transaction(TIMEOUT_S))
        except ck.KafkaException as exc:
            err = exc.args[0]
            if err.txn_requires_abort():
                p.abort_transaction(TIMEOUT_S)
            raise RuntimeError(_message(self.writer, batch_id, err)) from None

    def close(self) -> None:
        self.consumer.close()
        self.producer.flush(TIMEOUT_S)


def _message(writer: TransactionalWriter, batch_id: int, err: t.Any) -> str:
    text = f"batch {batch_id} not committed to topic {writer.topic}: {err.str()}"
    if err.fatal():
        text += (
            f" (another run of this query, with transactional id {writer.transactional_id},"
            " fenced this one)"
        )
    return text


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


def _retrying(action: t.Callable[[], _T]) -> _T:
    """``action``, again while Kafka says its error is retriable (a broker restarting, a
    coordinator moving), for up to ``TIMEOUT_S``."""
    import confluent_kafka as ck

    deadline = time.monotonic() + TIMEOUT_S
    while True:
        try:
            return action()
        except ck.KafkaException as exc:
            err = exc.args[0]
            if not _retriable(err) or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _retriable(err: t.Any) -> bool:
    import confluent_kafka as ck

    return bool(err.retriable()) or err.code() in (
        ck.KafkaError.NOT_COORDINATOR,
        ck.KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
        ck.KafkaError.COORDINATOR_NOT_AVAILABLE,
        ck.KafkaError._TIMED_OUT,
        ck.KafkaError._TRANSPORT,
    )
