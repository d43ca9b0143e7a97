"""One Nexmark query on Flink and on sqlstream, same broker, same input: the same records out.

The Nexmark bench compares the two engines' speed; that comparison means something only if they
compute the same thing from the same topics. Here q0 (every field of a bid, timestamps included:
both engines must read and write the ISO-8601 UTC times of the bench's layout alike) runs on a
few bids in two partitions, Flink's from bench/nexmark/queries/flink/q0.sql, bounded to the end
offsets. One query only: a Flink job is a JVM and a mini-cluster of its own (a minute on a busy
machine).

Flink lives in its own venv (``make bench-setup``, which ``make test`` runs); without it the
test is skipped and says why. It sits with the end-to-end tests to share their broker and Spark.
"""

from __future__ import annotations

import json
import sys
import typing as t
from datetime import datetime, timezone
from pathlib import Path

import pytest
from pipeline import Pipeline

from sqlstream.local.client import consume_all, create_topic, produce

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from nexmark import flink  # noqa: E402
from nexmark.engines import Context  # noqa: E402

WHY_NOT = flink.available()
pytestmark = [pytest.mark.e2e, pytest.mark.skipif(WHY_NOT is not None, reason=f"Flink: {WHY_NOT}")]

SQL = """
CREATE STREAM bid (
    auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, url STRING,
    `dateTime` TIMESTAMP, extra STRING
) FROM KAFKA (topic = '{src}', starting_offsets = 'earliest');

INSERT INTO KAFKA TOPIC '{out}q0'
SELECT auction, bidder, price, `dateTime`, extra FROM bid;
"""


def bids(n: int) -> list[tuple[None, str]]:
    out = []
    for i in range(n):
        ms = 1_796_000_000_000 + i * 137
        stamp = datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")
        value = {
            "auction": 1000 + i % 3,
            "bidder": 2000 + i % 7,
            "price": 100 + i * 997,
            "channel": "Google",
            "url": f"https://www.nexmark.com/a/b/c/item.htm?query=1&channel_id={i}",
            "dateTime": stamp[:-3] + "Z",
            "extra": "x" * (i % 5),
        }
        out.append((None, json.dumps(value)))
    return out


def normal(value: bytes) -> tuple[tuple[str, t.Any], ...]:
    """A JSON record as sorted (field, value) pairs, times as epoch milliseconds: Flink writes
    ``...:01Z`` for a whole second where Spark writes ``...:01.000Z``."""
    fields = json.loads(value)
    if "dateTime" in fields:
        stamp = datetime.fromisoformat(fields["dateTime"].replace("Z", "+00:00"))
        fields["dateTime"] = int(stamp.timestamp() * 1000)
    return tuple(sorted(fields.items()))


def records(bootstrap: str, topic: str) -> list[tuple[tuple[str, t.Any], ...]]:
    return sorted(normal(r.value or b"") for r in consume_all(bootstrap, topic))


def test_q0_on_flink_equals_sqlstream(
    kafka_bootstrap: str, spark: t.Any, topic_name: str, tmp_path: Path
) -> None:
    src = f"{topic_name}-bid"
    create_topic(kafka_bootstrap, src, partitions=2)
    produce(kafka_bootstrap, src, bids(30))
    topics = {"person": f"{topic_name}-person", "auction": f"{topic_name}-auction", "bid": src}
    engine = flink.FlinkEngine(Context(bootstrap=kafka_bootstrap, work=tmp_path, cores=2))
    create_topic(kafka_bootstrap, f"{topic_name}-flink-q0", partitions=2)
    try:
        stats = engine.run("q0", topics, f"{topic_name}-flink-q0")
    finally:
        engine.close()  # the serving process and its JVM
    assert (stats.events, stats.output) == (30, 30) and stats.seconds > 0

    Pipeline.create(
        tmp_path, kafka_bootstrap, SQL.format(src=src, out=f"{topic_name}-sqlstream-")
    ).run(spark)

    q0 = records(kafka_bootstrap, f"{topic_name}-flink-q0")
    assert len(q0) == 30
    assert q0 == records(kafka_bootstrap, f"{topic_name}-sqlstream-q0")
    first = {k: v for k, v in json.loads(bids(1)[0][1]).items() if k not in ("channel", "url")}
    assert q0[0] == normal(json.dumps(first).encode())  # the input's fields and values
