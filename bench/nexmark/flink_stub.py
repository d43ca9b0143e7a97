"""Stand-ins for bench/nexmark/engines.py's Context, Engine, RunStats and count_records, used by
flink.py only while that module is absent (the branches that write it and this one meet at
merge time). The same fields and signatures; nothing else."""

from __future__ import annotations

import dataclasses
import os
import typing as t
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class RunStats:
    events: int
    seconds: float
    cpu_seconds: float | None
    peak_memory: int | None
    output: int = 0


@dataclasses.dataclass
class Context:
    bootstrap: str
    work: Path
    params: t.Any = None
    cores: int = dataclasses.field(default_factory=lambda: os.cpu_count() or 1)
    shared: dict[str, t.Any] = dataclasses.field(default_factory=dict)


class Engine:
    name = ""
    queries: frozenset[str] = frozenset()

    def __init__(self, ctx: Context):
        self.ctx = ctx

    def run(self, query: str, topics: t.Any, out_topic: str) -> RunStats:
        raise NotImplementedError

    def close(self) -> None:
        """Nothing to stop."""


def count(bootstrap: str, topic: str) -> int:
    """Records in ``topic`` now: the sum of its partitions' end offsets."""
    import confluent_kafka as ck

    consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": "flink-count"})
    try:
        md = consumer.list_topics(topic=topic, timeout=30).topics[topic]
        return sum(
            consumer.get_watermark_offsets(ck.TopicPartition(topic, p), timeout=30, cached=False)[1]
            for p in md.partitions
        )
    finally:
        consumer.close()
