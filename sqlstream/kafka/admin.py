"""Topics as the cluster has them: list, describe, create, delete.

Every broker refusal becomes a ``BrokerError`` by the table ``_REFUSALS`` (one line, a hint), and
an unknown topic says which known one was probably meant.
"""

from __future__ import annotations

import difflib
import time
import typing as t
from dataclasses import dataclass, field

from sqlstream.kafka.connect import REACH_TIMEOUT, BrokerError, ck, error_of, make, metadata
from sqlstream.project.clientconfig import ClientConfig

TIMEOUT = 30.0
"""Seconds an admin request may take once the cluster answers."""


@dataclass(frozen=True)
class PartitionInfo:
    id: int
    leader: int
    replicas: list[int]
    isr: list[int]
    earliest: int | None = None
    end: int | None = None


@dataclass(frozen=True)
class TopicInfo:
    name: str
    partitions: list[PartitionInfo]
    configs: dict[str, str | None] = field(default_factory=dict)
    """Settings of the topic itself (not the broker's defaults); None for a sensitive value."""

    @property
    def replication_factor(self) -> int:
        return max((len(p.replicas) for p in self.partitions), default=0)


class Cluster:
    """One admin connection to the target's cluster, made lazily and checked within seconds."""

    def __init__(self, cfg: ClientConfig) -> None:
        self.cfg = cfg
        self.client, self.events = make("AdminClient", cfg)
        self._metadata: t.Any = None

    def metadata(self, refresh: bool = False) -> t.Any:
        if self._metadata is None or refresh:
            self._metadata = metadata(self.client, self.events, self.cfg, REACH_TIMEOUT)
        return self._metadata

    def topic_names(self, internal: bool = False) -> list[str]:
        names = self.metadata().topics
        return sorted(n for n in names if internal or not n.startswith("__"))

    def require(self, name: str) -> t.Any:
        """The topic's metadata, or an error naming the topic and the likely intended one."""
        md = self.metadata().topics.get(name)
        if md is None or (
            md.error is not None and md.error.code() == ck().KafkaError.UNKNOWN_TOPIC_OR_PART
        ):
            raise unknown_topic(name, self.topic_names(), self.cfg.bootstrap_servers)
        if md.error is not None:
            raise BrokerError(
                f"topic '{name}' on {self.cfg.bootstrap_servers}: {md.error.str()}",
                "check that the target's user may describe this topic",
            )
        return md

    def describe(self, name: str) -> TopicInfo:
        md = self.require(name)
        ids = sorted(md.partitions)
        earliest, end = self.offsets(name, ids, "earliest"), self.offsets(name, ids, "latest")
        partitions = [
            PartitionInfo(
                p,
                md.partitions[p].leader,
                list(md.partitions[p].replicas),
                list(md.partitions[p].isrs),
                earliest.get(p),
                end.get(p),
            )
            for p in ids
        ]
        return TopicInfo(name, partitions, self._topic_configs(name))

    def offsets(self, name: str, ids: t.Sequence[int], at: str | int) -> dict[int, int]:
        """Per partition: the ``earliest`` or ``latest`` (end) offset, or for ``at`` in ms since
        the epoch, the first offset whose timestamp is at or after it (-1 when there is none).

        Retried while a new topic's leaders settle ("not leader for partition")."""
        specs = _admin().OffsetSpec
        spec = specs.for_timestamp(at) if isinstance(at, int) else getattr(specs, at)()
        request = {ck().TopicPartition(name, p): spec for p in ids}
        deadline = time.monotonic() + TIMEOUT
        while True:
            futures = self.client.list_offsets(request, request_timeout=TIMEOUT)
            try:
                return {tp.partition: f.result(timeout=TIMEOUT).offset for tp, f in futures.items()}
            except ck().KafkaException as e:
                err = error_of(e)
                settling = err is not None and (err.retriable() or err.name() in _SETTLING)
                if not settling or time.monotonic() > deadline:
                    return {
                        tp.partition: _await(f, name, self.cfg).offset for tp, f in futures.items()
                    }
            time.sleep(0.2)

    def effective_config(self, name: str, key: str) -> str | None:
        """The value topic ``name`` works with for ``key``, its own or the broker's default."""
        entry = self._config_entries(name).get(key)
        return None if entry is None or entry.is_sensitive else entry.value

    def max_message_bytes(self, name: str) -> int | None:
        """The largest record batch topic ``name`` takes; None when the target's user may not
        read its settings (writing may still be allowed)."""
        try:
            value = self.effective_config(name, "max.message.bytes")
        except BrokerError:
            return None
        return int(value) if value and value.isdigit() else None

    def _config_entries(self, name: str) -> dict[str, t.Any]:
        admin = ck().admin
        resource = admin.ConfigResource(admin.ResourceType.TOPIC, name)
        return t.cast(
            dict[str, t.Any],
            _await(
                self.client.describe_configs([resource], request_timeout=TIMEOUT)[resource],
                name,
                self.cfg,
            ),
        )

    def _topic_configs(self, name: str) -> dict[str, str | None]:
        admin = ck().admin
        entries = self._config_entries(name)
        return {
            k: (None if e.is_sensitive else e.value)
            for k, e in sorted(entries.items())
            if e.source == admin.ConfigSource.DYNAMIC_TOPIC_CONFIG.value
        }

    def create(
        self,
        name: str,
        partitions: int,
        replication_factor: int | None = None,
        config: dict[str, str] | None = None,
    ) -> None:
        """Create a topic and wait until every partition has a leader."""
        brokers = len(self.metadata().brokers)
        if replication_factor is not None and replication_factor > brokers:
            raise BrokerError(
                f"cannot create topic '{name}': replication factor {replication_factor} needs "
                f"{replication_factor} brokers, the cluster at {self.cfg.bootstrap_servers}"
                f" has {brokers}",
                f"use --replication-factor {brokers} or less",
            )
        new = _admin().NewTopic(
            name,
            num_partitions=partitions,
            replication_factor=replication_factor or -1,
            config=config or {},
        )
        futures = self.client.create_topics(
            [new], operation_timeout=TIMEOUT, request_timeout=TIMEOUT
        )
        _await(futures[name], name, self.cfg)
        self._wait_for_leaders(name, partitions)

    def _wait_for_leaders(self, name: str, partitions: int) -> None:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            md = self.metadata(refresh=True).topics.get(name)
            if (
                md is not None
                and md.error is None
                and len(md.partitions) >= partitions
                and all(p.leader >= 0 for p in md.partitions.values())
            ):
                return
            time.sleep(0.1)
        raise BrokerError(
            f"topic '{name}' was created but has no leader for every partition "
            f"after {TIMEOUT:.0f}s",
            "see the broker's log",
        )

    def delete(self, name: str) -> None:
        self.require(name)
        futures = self.client.delete_topics(
            [name], operation_timeout=TIMEOUT, request_timeout=TIMEOUT
        )
        _await(futures[name], name, self.cfg)
        self._metadata = None


def unknown_topic(name: str, known: t.Sequence[str], address: str) -> BrokerError:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    guess = f"did you mean '{close[0]}'? " if close else ""
    return BrokerError(
        f"no topic '{name}' on {address}",
        guess + "`sqlstream topics list` shows the topics; "
        f"`sqlstream topics create {name} --partitions 1` makes it",
    )


_SETTLING = frozenset(
    {
        "NOT_LEADER_FOR_PARTITION",
        "LEADER_NOT_AVAILABLE",
        "UNKNOWN_LEADER_EPOCH",
        "FENCED_LEADER_EPOCH",
    }
)
"""Errors of a topic whose partitions' leaders are still being elected: asking again helps."""

_REFUSALS: dict[str, tuple[str, str]] = {
    # KafkaError code name -> (message, hint); {topic}, {detail} and {address} are filled in
    "TOPIC_ALREADY_EXISTS": (
        "topic '{topic}' already exists on {address}",
        "`sqlstream topics describe {topic}` shows it; delete it first to start over",
    ),
    "INVALID_REPLICATION_FACTOR": (
        "cannot create topic '{topic}': {detail}",
        "use a --replication-factor of at most the number of brokers",
    ),
    "INVALID_PARTITIONS": (
        "cannot create topic '{topic}': {detail}",
        "--partitions must be 1 or more",
    ),
    "INVALID_CONFIG": (
        "topic '{topic}': invalid --config: {detail}",
        "topic settings are Kafka's topic configs, e.g. --config retention.ms=86400000",
    ),
    "POLICY_VIOLATION": (
        "the cluster's policy refused topic '{topic}': {detail}",
        "ask the cluster's operators which settings are allowed",
    ),
    "TOPIC_EXCEPTION": (
        "'{topic}' is not a valid topic name: {detail}",
        "use letters, digits, '.', '_' and '-', at most 249 characters",
    ),
    "TOPIC_AUTHORIZATION_FAILED": (
        "the target's user may not do this on topic '{topic}': {detail}",
        "ask for the ACL, or use a target with the right user",
    ),
    "CLUSTER_AUTHORIZATION_FAILED": (
        "the target's user may not do this on the cluster: {detail}",
        "ask for the ACL, or use a target with the right user",
    ),
    "UNKNOWN_TOPIC_OR_PART": (
        "no topic '{topic}' on {address}",
        "`sqlstream topics list` shows the topics",
    ),
    "TOPIC_DELETION_DISABLED": (
        "the cluster at {address} does not allow deleting topics: {detail}",
        "the brokers need delete.topic.enable=true",
    ),
}


def _await(future: t.Any, topic: str, cfg: ClientConfig) -> t.Any:
    """A future's result; a broker refusal as one ``BrokerError`` line."""
    try:
        return future.result(timeout=TIMEOUT + 5)
    except ck().KafkaException as e:
        err = error_of(e)
        if err is None:
            raise
        refusal = _REFUSALS.get(err.name())
        values = {"topic": topic, "detail": err.str(), "address": cfg.bootstrap_servers}
        if refusal is None:
            raise BrokerError(
                f"topic '{topic}' on {cfg.bootstrap_servers}: {err.str()}",
                "see the broker's log for the reason",
            ) from None
        message, hint = refusal
        raise BrokerError(message.format(**values), hint.format(**values)) from None


def _admin() -> t.Any:
    ck()
    import confluent_kafka.admin

    return confluent_kafka.admin
