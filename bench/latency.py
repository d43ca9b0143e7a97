"""Latency: end-to-end, per output record, at fixed input rates, sqlstream's triggers and Flink.

Run: python bench/latency.py [--quick] [--rates 1000,10000,50000] [--engines ...] [--no-write].
Prints the figures and writes docs/benchmarks.md's section "latency" ("latency-quick" for
``--quick``). Needs the Flink venv for
the Flink engine (``make bench-setup``); without it Flink is left out and the table says so.

Measured as Spark's own real-time-mode benchmark does: the latency of an output record is its
Kafka CreateTime (set by the engine's producer when it writes the record) minus the CreateTime
of the input record it came from. The query is Nexmark q0 (every bid, unchanged: stateless, so
every trigger can run it); each bid's ``extra`` carries the input's CreateTime in milliseconds
and a sequence number, which q0 copies to its output, so each output record names its input.

One broker, one input topic of 2 partitions (real-time and continuous mode run one
long-running task per partition and need a free core for each: 2 here), one output topic per
engine. For each engine: start it reading from the latest offsets, send probe records until one
comes out (so start-up is not measured), then for each rate a rate producer (a separate process,
confluent-kafka) sends bids at that rate, a warm-up phase first (not counted) and then the
measured phase. After the last rate the output is read to its end and each measured record's
latency computed; records missing or duplicated are counted and shown.

Engines:

- ``default``: sqlstream, micro-batch with its default trigger (a batch as soon as the previous
  one ends), as ``sqlstream run`` starts it (``runtime.start``, ``runtime.session``);
- ``continuous``: sqlstream with ``trigger = 'continuous 1 second'``, Spark's continuous
  processing (an epoch, i.e. a checkpoint, every second; records flow through without batches):
  of the triggers before real-time mode, the one that minimises latency;
- ``real_time``: sqlstream with ``trigger = 'real_time'`` (Spark 4.1+ real-time mode, 5-minute
  batches through which records flow continuously);
- ``flink``: Flink SQL (bench/nexmark/queries/flink/q0.sql) in a local mini-cluster with
  parallelism 2, unbounded from the latest offsets, Kafka sink at-least-once.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import typing as t
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import write_section  # noqa: E402

INPUT_TOPIC = "latency-bid"
PARTITIONS = 2
PROBE_EVERY = 0.5
SQL = """\
CREATE STREAM bid (
    auction    BIGINT,
    bidder     BIGINT,
    price      BIGINT,
    channel    STRING,
    url        STRING,
    `dateTime` TIMESTAMP,
    extra      STRING
) FROM KAFKA (
    topic = '{input}',
    format = 'json',
    starting_offsets = 'latest'
);

INSERT INTO KAFKA TOPIC '{{{{ var('output_topic') }}}}'
SELECT auction, bidder, price, `dateTime`, extra
FROM bid;
"""


@dataclasses.dataclass(frozen=True)
class Variant:
    key: str
    label: str
    trigger: tuple[str, str | None] | None
    """sqlstream's trigger override (kind, interval); None: the sink's own (the default)."""


VARIANTS = {
    v.key: v
    for v in (
        Variant("default", "sqlstream, micro-batch, default trigger", None),
        Variant(
            "continuous", "sqlstream, trigger 'continuous 1 second'", ("continuous", "1 second")
        ),
        Variant("real_time", "sqlstream, trigger real_time", ("real_time", None)),
        Variant("flink", "Flink SQL 2.2", None),
    )
}


# --- the rate producer (a process of its own) -------------------------------------------------

BID = (
    '{{"auction":{a},"bidder":{b},"price":{p},"channel":"Google",'
    '"url":"https://www.nexmark.com/item.htm?query=1&channel_id={c}",'
    '"dateTime":"{stamp}","extra":"{tag}|{ms}|{seq}"}}'
)


def iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


def producer(bootstrap: str) -> t.Any:
    from confluent_kafka import Producer

    # Small batches, sent at once: the input's CreateTime is taken when a record is handed to the
    # client, so time spent batching here counts in every engine's latency alike.
    return Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 1,
            "queue.buffering.max.messages": 2_000_000,
            "enable.idempotence": False,
            "acks": 1,
        }
    )


def send_one(prod: t.Any, topic: str, seq: int, tag: str) -> int:
    ms = int(time.time() * 1000)
    value = BID.format(
        a=1000 + seq % 1000,
        b=2000 + seq % 5000,
        p=seq % 100_000,
        c=seq % 10,
        stamp=iso(ms),
        tag=tag,
        ms=ms,
        seq=seq,
    )
    while True:
        try:
            prod.produce(topic, value.encode(), partition=seq % PARTITIONS, timestamp=ms)
            return ms
        except BufferError:
            prod.poll(0.01)


def produce_at(bootstrap: str, topic: str, rate: int, warm: float, measure: float) -> dict:
    """Send bids at ``rate``/s for warm + measure seconds; what was sent and how fast."""
    prod = producer(bootstrap)
    seq = 0
    phases = []
    for tag, seconds in (("w", warm), ("m", measure)):
        sent = 0
        t0 = time.perf_counter()
        first_ms = int(time.time() * 1000)
        last = 0.0
        while (now := time.perf_counter() - t0) < seconds:
            # at most 10 ms worth at a time, so a producer that falls behind still stops on time
            due = min(int(rate * now) + 1, sent + max(1, rate // 100))
            while sent < due:
                send_one(prod, topic, seq, f"{tag}{rate}")
                seq += 1
                sent += 1
            prod.poll(0)
            last = time.perf_counter() - t0
            time.sleep(0.0005)
        phases.append({"tag": tag, "sent": sent, "seconds": last, "first_ms": first_ms})
    left = prod.flush(60)
    return {"rate": rate, "phases": phases, "unacked": left}


# --- engines ----------------------------------------------------------------------------------


class Spark:
    """One SparkSession for the sqlstream variants, as ``sqlstream run`` builds it."""

    def __init__(self, bootstrap: str, work: Path):
        self.bootstrap = bootstrap
        self.work = work
        self.project = work / "project"
        (self.project / "queries").mkdir(parents=True)
        (self.project / "sqlstream.yml").write_text("name: latency\nprofile: bench\n")
        (self.project / "profiles.yml").write_text(
            f"bench:\n  target: dev\n  outputs:\n    dev:\n      bootstrap_servers: '{bootstrap}'\n"
        )
        (self.project / "queries" / "q0.sql").write_text(SQL.format(input=INPUT_TOPIC))
        self.spark: t.Any = None
        self.query: t.Any = None
        self.batches = ""

    def compile(self, out_topic: str) -> tuple[t.Any, t.Any]:
        from sqlstream.compiler.facade import compile_project

        compiled = compile_project(
            [str(self.project / "queries")], vars_override={"output_topic": out_topic}
        )
        checkpoint = self.work / "checkpoints" / uuid.uuid4().hex
        connection = dataclasses.replace(
            compiled.connection(bootstrap_override=self.bootstrap), checkpoint_root=str(checkpoint)
        )
        return compiled.plan, connection

    def start(self, variant: Variant, out_topic: str) -> None:
        from sqlstream.compiler.plan import Trigger
        from sqlstream.spark import runtime

        plan, connection = self.compile(out_topic)
        if self.spark is None:
            self.spark = runtime.session(connection, "sqlstream-latency")
        trigger = Trigger(*variant.trigger) if variant.trigger else None  # type: ignore[arg-type]
        (self.query,) = runtime.start(plan, self.spark, connection, trigger_override=trigger)

    def failed(self) -> str | None:
        if self.query is not None and not self.query.isActive and self.query.exception():
            return str(self.query.exception()).splitlines()[0]
        return None

    def stop(self) -> None:
        if self.query is not None:
            self.batches = batch_times(self.query.recentProgress)
            self.query.stop()
            self.query = None

    def close(self) -> None:
        if self.spark is not None:
            self.spark.stop()


class Flink:
    def __init__(self, bootstrap: str, work: Path):
        self.bootstrap = bootstrap
        self.log = work / "flink.log"
        self.proc: subprocess.Popen | None = None

    def start(self, _variant: Variant, out_topic: str) -> None:
        from nexmark import flink

        topics = {"person": "latency-person", "auction": "latency-auction", "bid": INPUT_TOPIC}
        self.proc = flink.start_unbounded("q0", self.bootstrap, topics, out_topic, self.log)

    def failed(self) -> str | None:
        if self.proc is not None and self.proc.poll() is not None:
            from nexmark import flink

            return flink.flink_error(self.log.read_text())
        return None

    def stop(self) -> None:
        from nexmark import flink

        if self.proc is not None:
            flink.stop(self.proc)
            self.proc = None

    def close(self) -> None:
        self.stop()


def batch_times(progress: t.Any) -> str:
    """Where a micro-batch's time goes: the median of each of Spark's ``durationMs`` parts over
    the last batches that read records (empty in continuous and real-time mode)."""
    from sqlstream.spark import progress as progress_mod

    parts: dict[str, list[int]] = {}
    for p in progress:
        d = progress_mod.as_dict(p)
        if not d.get("numInputRows"):
            continue
        for k, v in (d.get("durationMs") or {}).items():
            parts.setdefault(k, []).append(int(v))
    if not parts:
        return ""
    med = {k: sorted(v)[len(v) // 2] for k, v in parts.items()}
    n = len(parts.get("triggerExecution", []))
    return f"{n} batches, median ms: " + ", ".join(f"{k} {v:,}" for k, v in med.items())


# --- measuring --------------------------------------------------------------------------------

BATCHES: dict[str, str] = {}
"""Per sqlstream variant with micro-batches: what its batches took (``batch_times``)."""
_EXTRA = re.compile(rb'"extra":"([a-z]+)(\d*)\|(\d+)\|(\d+)"')


@dataclasses.dataclass
class Result:
    variant: str
    rate: int
    sent: int
    held: float
    """The rate the producer held over the measured phase, records/s."""
    latencies: list[int]
    missing: int
    duplicates: int
    load: float

    def pct(self, p: float) -> int | None:
        if not self.latencies:
            return None
        xs = self.latencies
        return xs[min(len(xs) - 1, max(0, int(-(-p * len(xs) // 1)) - 1))]


def end_offsets(bootstrap: str, topic: str) -> int:
    import confluent_kafka as ck

    consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": "latency-count"})
    try:
        return sum(
            consumer.get_watermark_offsets(ck.TopicPartition(topic, p), timeout=30, cached=False)[1]
            for p in consumer.list_topics(topic, timeout=30).topics[topic].partitions
        )
    finally:
        consumer.close()


def wait_for_output(engine: t.Any, bootstrap: str, out_topic: str, timeout: float) -> None:
    """Send probe records until the engine writes one: it is running and reading."""
    prod = producer(bootstrap)
    deadline = time.monotonic() + timeout
    seq = 0
    while end_offsets(bootstrap, out_topic) == 0:
        why = engine.failed()
        if why:
            raise SystemExit(f"the engine failed: {why}")
        if time.monotonic() > deadline:
            raise SystemExit(f"no output within {timeout:.0f} s")
        send_one(prod, INPUT_TOPIC, seq, "probe")
        seq += 1
        prod.flush(10)
        time.sleep(PROBE_EVERY)


def wait_quiet(bootstrap: str, topic: str, expected: int, timeout: float = 120) -> None:
    """Until the output has ``expected`` records or stops growing for 5 s."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        n = end_offsets(bootstrap, topic)
        if n >= expected:
            return
        if n != last:
            last, since = n, time.monotonic()
        elif time.monotonic() - since > 5:
            return
        time.sleep(0.5)


def read_all(bootstrap: str, topic: str, idle: float = 120) -> t.Iterator[tuple[bytes, int]]:
    """(value, CreateTime) of every record of ``topic`` up to its end offsets now; a plain
    consumer in batches (a million records and more), failing only after ``idle`` seconds
    without a record."""
    import confluent_kafka as ck

    consumer = ck.Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"latency-read-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "fetch.max.bytes": 104_857_600,
            "queued.max.messages.kbytes": 1_048_576,
        }
    )
    try:
        parts = consumer.list_topics(topic, timeout=30).topics[topic].partitions
        ends = {
            p: consumer.get_watermark_offsets(ck.TopicPartition(topic, p), timeout=30)[1]
            for p in parts
        }
        consumer.assign([ck.TopicPartition(topic, p, ck.OFFSET_BEGINNING) for p in parts])
        done = {p: 0 for p in parts}
        last = time.monotonic()
        while any(done[p] < ends[p] for p in parts):
            msgs = consumer.consume(num_messages=100_000, timeout=1.0)
            if msgs:
                last = time.monotonic()
            elif time.monotonic() - last > idle:
                raise SystemExit(f"reading {topic}: no record for {idle:.0f} s before its end")
            for m in msgs:
                if m.error() is None:
                    done[m.partition()] = m.offset() + 1
                    yield m.value() or b"", m.timestamp()[1]
    finally:
        consumer.close()


def latencies(bootstrap: str, topic: str) -> tuple[dict[int, dict[int, int]], dict[int, int]]:
    """Per rate, per measured input sequence number, the smallest latency (ms) seen for it; and
    per rate the output records of an input seen before (duplicates)."""
    out: dict[int, dict[int, int]] = {}
    dupes: dict[int, int] = {}
    for value, stamp in read_all(bootstrap, topic):
        m = _EXTRA.search(value)
        if not m or m.group(1) != b"m":
            continue
        rate, sent_ms, seq = int(m.group(2)), int(m.group(3)), int(m.group(4))
        per = out.setdefault(rate, {})
        if seq in per:
            dupes[rate] = dupes.get(rate, 0) + 1
        per[seq] = min(per.get(seq, 1 << 62), stamp - sent_ms)
    return out, dupes


def run_engine(
    engine: t.Any, variant: Variant, bootstrap: str, rates: list[int], warm: float, measure: float
) -> list[Result]:
    from sqlstream.local import client as kafkaclient

    out_topic = f"latency-out-{variant.key}-{uuid.uuid4().hex[:8]}"
    kafkaclient.create_topic(bootstrap, out_topic, partitions=PARTITIONS)
    print(f"==> {variant.label}: starting", flush=True)
    t0 = time.perf_counter()
    engine.start(variant, out_topic)
    sent: dict[int, dict] = {}
    loads: dict[int, float] = {}
    try:
        wait_for_output(engine, bootstrap, out_topic, timeout=300)
        print(f"    first output after {time.perf_counter() - t0:.1f} s", flush=True)
        for rate in rates:
            loads[rate] = os.getloadavg()[0]
            proc = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--_produce",
                    json.dumps([bootstrap, INPUT_TOPIC, rate, warm, measure]),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            sent[rate] = json.loads(proc.stdout.strip().splitlines()[-1])
            m = sent[rate]["phases"][1]
            print(
                f"    {rate:>6,}/s: sent {m['sent']:,} in {m['seconds']:.1f} s"
                f" ({m['sent'] / m['seconds']:,.0f}/s held; load {loads[rate]:.1f})",
                flush=True,
            )
        total = sum(p["sent"] for s in sent.values() for p in s["phases"])
        wait_quiet(bootstrap, out_topic, total)
        why = engine.failed()
        if why:
            raise SystemExit(f"{variant.label} failed: {why}")
    finally:
        engine.stop()
    if getattr(engine, "batches", ""):
        print(f"    {engine.batches}", flush=True)
        BATCHES[variant.key] = engine.batches
        engine.batches = ""
    found, dupes = latencies(bootstrap, out_topic)
    kafkaclient.delete_topic(bootstrap, out_topic)
    results = []
    for rate in rates:
        m = sent[rate]["phases"][1]
        lat = sorted(found.get(rate, {}).values())
        results.append(
            Result(
                variant.key,
                rate,
                m["sent"],
                m["sent"] / m["seconds"],
                lat,
                m["sent"] - len(lat),
                dupes.get(rate, 0),
                loads[rate],
            )
        )
    return results


# --- report -----------------------------------------------------------------------------------


def ms(x: int | None) -> str:
    return "" if x is None else f"{x:,} ms"


def report(results: list[Result], skipped: dict[str, str], args: argparse.Namespace) -> str:
    import pyspark

    rows = [
        "| engine | input rate (held) | p50 | p99 | p99.9 | max | measured records | missing"
        " | duplicates | load |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        rows.append(
            f"| {VARIANTS[r.variant].label} | {r.rate:,}/s ({r.held:,.0f}/s) | {ms(r.pct(0.5))}"
            f" | {ms(r.pct(0.99))} | {ms(r.pct(0.999))} | {ms(r.pct(1.0))}"
            f" | {len(r.latencies):,} | {r.missing:,} | {r.duplicates:,} | {r.load:.1f} |"
        )
    for key, why in skipped.items():
        rows.append(f"| {VARIANTS[key].label} | not run: {why} | | | | | | | | |")
    loads = [r.load for r in results]
    load = f"{min(loads):.1f} to {max(loads):.1f}" if loads else "?"
    from sqlstream.spark import jars

    return "\n".join(
        [
            "Latency of an output record: its Kafka CreateTime (the engine's producer stamps it"
            " when it writes the record) minus the CreateTime of the input record it came from"
            " (carried in the record). Query: Nexmark q0 (every bid passed through, 7 JSON fields"
            f" in, 5 out), one input topic of {PARTITIONS} partitions on a local single-node broker"
            f" (Kafka {jars.KAFKA_VERSION}); each engine reads from the latest offsets and starts"
            " before the clock does (probe records until one comes out), then per rate a"
            f" producer process (confluent-kafka, linger.ms 1) sends bids for {args.warm:g} s of"
            f" warm-up (not counted) and {args.measure:g} s measured. Spark {pyspark.__version__}"
            " `local[*]` (2 cores), Flink 2.2.1 mini-cluster, parallelism 2.",
            "",
            *rows,
            "",
            *(
                f"- {VARIANTS[k].label}: {v} (the last 100 batches of all rates, Spark's"
                " `durationMs`);"
                for k, v in BATCHES.items()
            ),
            "- *held*: the rate the producer reached over the measured phase (a Python producer:"
            " where it falls short of the asked rate, the machine could not send faster);",
            "- *missing*: measured input records with no output record when the output stopped"
            " growing; *duplicates*: output records of an input already seen (at-least-once"
            " sinks may write a record twice after a retry).",
            "",
            f"Noise: the 1-minute load average was {load} on 2 cores at the rates' starts (the"
            " bench's own producer, broker and engine count in it), and they share the same 2"
            " cores: tails (p99, p99.9) are the first to grow when the machine is busy. Compare"
            " engines within one run.",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="rates 1000,10000, shorter phases")
    ap.add_argument("--rates", help="input rates, records/s (default 1000,10000,50000)")
    ap.add_argument("--engines", default=",".join(VARIANTS), help=",".join(VARIANTS))
    ap.add_argument("--warm", type=float, help="warm-up seconds per rate (default 5, quick 3)")
    ap.add_argument("--measure", type=float, help="measured seconds per rate (20, quick 10)")
    ap.add_argument("--no-write", action="store_true", help="print only")
    ap.add_argument("--_produce", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._produce:
        print(json.dumps(produce_at(*json.loads(args._produce))))
        return 0
    rates = [
        int(r)
        for r in (args.rates or ("1000,10000" if args.quick else "1000,10000,50000")).split(",")
    ]
    args.warm = args.warm if args.warm is not None else (3.0 if args.quick else 5.0)
    args.measure = args.measure if args.measure is not None else (10.0 if args.quick else 20.0)
    keys = [k.strip() for k in args.engines.split(",") if k.strip()]

    from nexmark import flink

    from sqlstream.errors import RunFailure
    from sqlstream.local import broker as localkafka
    from sqlstream.local import client as kafkaclient

    skipped: dict[str, str] = {}
    if "flink" in keys and (why := flink.available()):
        skipped["flink"] = why
        keys.remove("flink")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    work = Path(tempfile.mkdtemp(prefix="sqlstream-latency-"))
    print("==> starting a Kafka broker (state in a temporary directory)", flush=True)
    broker = localkafka.up(port=0, state_dir=work / "kafka", heap="1g")
    spark = Spark(broker.bootstrap, work)
    results: list[Result] = []
    try:
        kafkaclient.create_topic(broker.bootstrap, INPUT_TOPIC, partitions=PARTITIONS)
        for key in keys:
            engine = Flink(broker.bootstrap, work) if key == "flink" else spark
            try:
                results += run_engine(
                    engine, VARIANTS[key], broker.bootstrap, rates, args.warm, args.measure
                )
            except (SystemExit, RunFailure) as e:  # one engine's failure is a row, not the end
                print(f"    failed: {e}", flush=True)
                skipped[key] = f"failed: {str(e).splitlines()[0]}"
    finally:
        spark.close()
        localkafka.down(work / "kafka")
        shutil.rmtree(work, ignore_errors=True)
    body = report(results, skipped, args)
    print()
    print(body)
    if not args.no_write:
        section = "latency-quick" if args.quick else "latency"
        command = "python bench/latency.py" + (" --quick" if args.quick else "")
        write_section(section, command, body)
        print(f"\nwritten to docs/benchmarks.md (section {section})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
