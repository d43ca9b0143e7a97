"""Small Kafka client helpers for tests, the demo and tools: create topics, produce, read back.

Built on confluent-kafka (librdkafka), an optional dependency (``pip install sqlstream[kafka]``):
it is imported inside the functions, so the compiler never needs it.
"""

from __future__ import annotations

import time
import typing as t
import uuid
from dataclasses import dataclass, field

from sqlstream.errors import RunFailure

Bytesish = bytes | str | None
Headers = list[tuple[str, bytes | None]]
ProduceRecord = tuple[t.Any, ...]
"""``(key, value[, headers[, partition[, timestamp_ms]]])``; str is encoded as UTF-8."""


@dataclass(frozen=True)
class Record:
    """One record read from a topic, as the broker stored it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers = field(default_factory=list)
    timestamp: int | None = None
    """Milliseconds since the epoch; None when the record has none."""

    def header(self, key: str) -> bytes | None:
        """The last header named ``key`` (as Kafka's ``lastHeader``), or None."""
        for k, v in reversed(self.headers):
            if k == key:
                return v
        return None


def _ck() -> t.Any:
    try:
        import confluent_kafka
    except ImportError:  # pragma: no cover - depends on the environment
        raise RunFailure(
            "the Kafka client library confluent-kafka is not installed.\n"
            "hint: pip install 'sqlstream[kafka]'"
        ) from None
    return confluent_kafka


def _encode(value: Bytesish) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    return str(value).encode()


def create_topic(
    bootstrap: str,
    name: str,
    partitions: int = 1,
    config: dict[str, str] | None = None,
    *,
    exist_ok: bool = False,
    timeout: float = 30,
) -> None:
    """Create a topic (replication factor 1) and wait until the broker serves its metadata."""
    ck = _ck()
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=1, config=config or {})],
        operation_timeout=timeout,
        request_timeout=timeout,
    )
    try:
        futures[name].result(timeout=timeout)
    except ck.KafkaException as e:
        err = e.args[0]
        if not (exist_ok and err.code() == ck.KafkaError.TOPIC_ALREADY_EXISTS):
            raise RunFailure(f"cannot create topic {name!r} on {bootstrap}: {err.str()}") from None
    _wait_for_partitions(admin, name, partitions if not exist_ok else 1, timeout)


def delete_topic(bootstrap: str, name: str, timeout: float = 30) -> None:
    """Delete a topic; a missing topic is not an error."""
    ck = _ck()
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    try:
        admin.delete_topics([name], operation_timeout=timeout)[name].result(timeout=timeout)
    except ck.KafkaException as e:
        err = e.args[0]
        if err.code() != ck.KafkaError.UNKNOWN_TOPIC_OR_PART:
            raise RunFailure(f"cannot delete topic {name!r} on {bootstrap}: {err.str()}") from None


def _wait_for_partitions(admin: t.Any, name: str, partitions: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        md = admin.list_topics(topic=name, timeout=timeout).topics.get(name)
        if (
            md is not None
            and md.error is None
            and len(md.partitions) >= partitions
            and all(p.leader >= 0 for p in md.partitions.values())
        ):
            return
        if time.monotonic() > deadline:
            raise RunFailure(f"topic {name!r} did not become available within {timeout:.0f}s")
        time.sleep(0.05)


def produce(
    bootstrap: str,
    topic: str,
    records: t.Iterable[ProduceRecord],
    *,
    config: dict[str, t.Any] | None = None,
    timeout: float = 60,
) -> int:
    """Write records to ``topic`` in order, batched, and wait until all are acknowledged.

    Each record is ``(key, value[, headers[, partition[, timestamp_ms]]])``; str keys, values
    and header values are encoded as UTF-8, None stays null. Returns the number written.
    Raises ``RunFailure`` with the first delivery error.
    """
    ck = _ck()
    conf: dict[str, t.Any] = {
        "bootstrap.servers": bootstrap,
        "linger.ms": 20,
        "batch.num.messages": 10000,
        "queue.buffering.max.messages": 500000,
        "compression.type": "lz4",
        "enable.idempotence": True,  # keeps per-partition order across retries
        # Errors only: retries right after a broker starts are expected and logged as warnings;
        # a record that is not delivered is reported by the delivery callback below.
        "log_level": 3,
    }
    conf.update(config or {})
    producer = ck.Producer(conf)
    errors: list[str] = []

    def on_delivery(err: t.Any, _msg: t.Any) -> None:
        if err is not None and len(errors) < 5:
            errors.append(err.str())

    count = 0
    for record in records:
        kwargs = _produce_arguments(record)
        while True:
            try:
                producer.produce(topic, on_delivery=on_delivery, **kwargs)
                break
            except BufferError:  # local queue full: let deliveries drain
                producer.poll(0.05)
        count += 1
        if count % 10000 == 0:
            producer.poll(0)
    remaining = producer.flush(timeout)
    if errors:
        raise RunFailure(f"producing to {topic!r} on {bootstrap} failed: {errors[0]}")
    if remaining:
        raise RunFailure(
            f"producing to {topic!r} on {bootstrap}: {remaining} records not acknowledged "
            f"within {timeout:.0f}s"
        )
    return count


def _produce_arguments(record: ProduceRecord) -> dict[str, t.Any]:
    """``Producer.produce`` keyword arguments of ``(key, value[, headers[, partition[, ts]]])``."""
    fields: tuple[t.Any, ...] = (*record, None, None, None)
    key, value, headers, partition, timestamp = fields[:5]
    kwargs: dict[str, t.Any] = {"key": _encode(key), "value": _encode(value)}
    if headers:
        kwargs["headers"] = [(str(k), _encode(v)) for k, v in headers]
    if partition is not None:
        kwargs["partition"] = partition
    if timestamp is not None:
        kwargs["timestamp"] = timestamp
    return kwargs


def consume_all(
    bootstrap: str,
    topic: str,
    timeout: float = 10,
    *,
    missing_ok: bool = False,
    config: dict[str, t.Any] | None = None,
) -> list[Record]:
    """Every record in ``topic`` now, from the beginning of every partition.

    The end is each partition's high watermark taken at the start, so records written meanwhile
    are not waited for. Records come ordered by partition, then offset. Reads committed data
    only (``read_committed``), as a downstream consumer would. ``missing_ok`` returns [] for a
    topic that does not exist instead of raising ``RunFailure``.
    """
    ck = _ck()
    conf: dict[str, t.Any] = {
        "bootstrap.servers": bootstrap,
        "group.id": f"sqlstream-read-{uuid.uuid4().hex}",  # required, never used: we assign
        "enable.auto.commit": False,
        "enable.partition.eof": False,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
    }
    conf.update(config or {})
    consumer = ck.Consumer(conf)
    try:
        md = consumer.list_topics(topic=topic, timeout=timeout).topics.get(topic)
        if md is None or md.error is not None:
            if missing_ok:
                return []
            reason = md.error.str() if md is not None and md.error is not None else "not found"
            raise RunFailure(f"cannot read topic {topic!r} on {bootstrap}: {reason}")
        ends, assignment = _partition_ends(consumer, topic, md, timeout)
        if not assignment:
            return []
        consumer.assign(assignment)
        records = _read_to_ends(consumer, bootstrap, topic, ends, timeout)
        records.sort(key=lambda r: (r.partition, r.offset))
        return records
    finally:
        consumer.close()


def _partition_ends(
    consumer: t.Any, topic: str, md: t.Any, timeout: float
) -> tuple[dict[int, int], list[t.Any]]:
    """Each non-empty partition's high watermark now, and the assignment from its low one."""
    ck = _ck()
    ends: dict[int, int] = {}
    assignment = []
    for p in sorted(md.partitions):
        low, high = consumer.get_watermark_offsets(
            ck.TopicPartition(topic, p), timeout=timeout, cached=False
        )
        if high > low:
            ends[p] = high
            assignment.append(ck.TopicPartition(topic, p, low))
    return ends, assignment


def _read_to_ends(
    consumer: t.Any, bootstrap: str, topic: str, ends: dict[int, int], timeout: float
) -> list[Record]:
    """Consume until every partition's position reaches its end offset, within ``timeout``."""
    ck = _ck()
    records: list[Record] = []
    pending = set(ends)
    deadline = time.monotonic() + timeout
    while pending:
        for msg in consumer.consume(num_messages=10000, timeout=0.2):
            err = msg.error()
            if err is not None:
                if err.code() == ck.KafkaError._PARTITION_EOF:
                    continue
                raise RunFailure(f"reading {topic!r} on {bootstrap}: {err.str()}")
            p, offset = msg.partition(), msg.offset()
            if p is not None and offset is not None and p in ends and offset < ends[p]:
                records.append(_record(topic, p, offset, msg))
        # The position also moves past transaction markers and aborted records.
        for tp in consumer.position([ck.TopicPartition(topic, p) for p in pending]):
            if tp.offset >= ends[tp.partition]:
                pending.discard(tp.partition)
        if pending and time.monotonic() > deadline:
            raise RunFailure(
                f"reading {topic!r} on {bootstrap}: partitions {sorted(pending)} did not "
                f"reach their end offsets within {timeout:.0f}s (an open transaction?)"
            )
    return records


def _record(topic: str, partition: int, offset: int, msg: t.Any) -> Record:
    ck = _ck()
    ts_type, ts = msg.timestamp()
    return Record(
        topic=topic,
        partition=partition,
        offset=offset,
        key=msg.key(),
        value=msg.value(),
        headers=[(k, _encode(v)) for k, v in (msg.headers() or [])],
        timestamp=ts if ts_type != ck.TIMESTAMP_NOT_AVAILABLE else None,
    )
