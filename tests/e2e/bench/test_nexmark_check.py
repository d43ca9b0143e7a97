"""The Nexmark bench's generator and a handful of its queries, checked on a few hundred events.

The generator (bench/nexmark/gen, built by ``make nexmark-gen``) against the specification's
mix and the topic layout the engines rely on; then sqlstream's q1, q20, q7 and q21 (a decimal
projection, a join, a window, regular expressions) against the independent reference. The
whole set is ``python bench/nexmark.py --check`` (a few minutes: one Spark run per query and
engine).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
import typing as t
import uuid
from collections import Counter
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench"
sys.path.insert(0, str(BENCH))

from nexmark import engines as eng  # noqa: E402
from nexmark import generator as gen  # noqa: E402
from nexmark import reference as ref  # noqa: E402

from sqlstream.local import client as kafkaclient  # noqa: E402

EVENTS = 600
RATE = 20.0  # 30 s of event time: three 10 s windows, two of them closed by the watermark
PARAMS = ref.Params(watermark_ms=2000, tumble_ms=10_000, hop_size_ms=10_000, hop_slide_ms=2000)


def _generator() -> Path:
    if not gen.BINARY.exists() and shutil.which("go") is None:
        pytest.skip("the Nexmark generator is not built and Go is not installed")
    return gen.binary()


def _stdout_events(n: int, rate: float) -> list[tuple[str, dict[str, t.Any], int]]:
    lines = subprocess.run(
        [str(_generator()), "-stdout", f"-events={n}", f"-rate={rate}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return [(k, json.loads(v), int(ms)) for k, v, ms in (line.split("\t") for line in lines)]


def test_the_generator_follows_the_specification_mix_ids_and_times() -> None:
    events = _stdout_events(1000, 100.0)
    assert Counter(k for k, _, _ in events) == {"person": 20, "auction": 60, "bid": 920}
    by_kind = {k: [e for kk, e, _ in events if kk == k] for k in gen.KINDS}
    assert [p["id"] for p in by_kind["person"]] == list(range(1000, 1020))
    assert [a["id"] for a in by_kind["auction"]] == list(range(1000, 1060))
    assert set(by_kind["bid"][0]) == {
        "auction", "bidder", "price", "channel", "url", "dateTime", "extra"
    }  # fmt: skip
    # event n is at n / rate seconds; times and CreateTimes agree
    times = sorted(ms for _, _, ms in events)
    assert times[-1] - times[0] == 9990
    assert all(ref.parse_ms(e["dateTime"]) == ms for _, e, ms in events)
    # hot auctions: half the bids go to the first auction of the latest batch of 100
    hot = Counter(b["auction"] for b in by_kind["bid"]).most_common(1)[0][1]
    assert hot > 0.4 * len(by_kind["bid"])
    assert _stdout_events(1000, 100.0) == events  # a function of the event numbers alone


@pytest.fixture(scope="module")
def filled(kafka_bootstrap: str) -> tuple[gen.Topics, ref.Events]:
    topics = gen.Topics.with_suffix(f"-{uuid.uuid4().hex[:8]}")
    done = gen.fill(kafka_bootstrap, topics, EVENTS, rate=RATE, partitions=2)
    assert (done.person, done.auction, done.bid) == (12, 36, 552)
    records = {k: kafkaclient.consume_all(kafka_bootstrap, topics.of(k)) for k in gen.KINDS}
    for kind, rs in records.items():
        assert len(rs) == done.of(kind)
        assert all(r.timestamp == ref.parse_ms(json.loads(r.value or b"")["dateTime"]) for r in rs)
    return topics, ref.Events.from_values({k: [r.value for r in rs] for k, rs in records.items()})


@pytest.mark.parametrize("query", ["q1", "q20", "q7", "q21"])
def test_sqlstream_query_matches_the_reference(
    query: str,
    filled: tuple[gen.Topics, ref.Events],
    kafka_bootstrap: str,
    spark: t.Any,
    spark_confs_restored: None,
    tmp_path: Path,
) -> None:
    topics, events = filled
    ctx = eng.Context(bootstrap=kafka_bootstrap, work=tmp_path, params=PARAMS)
    pid = spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid()
    ctx.shared.update(spark=spark, jvm_pid=int(pid))
    out = f"nexmark-{query}-{uuid.uuid4().hex[:8]}"
    kafkaclient.create_topic(kafka_bootstrap, out, partitions=2)
    stats = eng.SqlstreamEngine(ctx).run(query, topics, out)
    got = [json.loads(r.value or b"") for r in kafkaclient.consume_all(kafka_bootstrap, out)]
    expected = ref.QUERIES[query](events, PARAMS)
    assert expected, "the input gives this query something to write"
    assert ref.diff(expected, got) is None, ref.diff(expected, got)
    assert stats.events == sum(len(getattr(events, k)) for k in ref.INPUTS[query])
    assert stats.output == len(got)
    assert dataclasses.asdict(stats)["seconds"] > 0
