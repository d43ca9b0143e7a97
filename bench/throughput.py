"""Throughput: a stateless JSON pipeline through sqlstream, against the same job hand-written.

Run: make bench-throughput (or python bench/throughput.py [--records N]). Prints the figures and
writes them to docs/benchmarks.md (section "throughput"); ``--no-write`` only prints.

One run, one broker, one input topic, one SparkSession (``runtime.session``, what ``sqlstream
run`` builds), measured side by side:

- ``sqlstream``: the pipeline below as SQL, compiled and started with ``runtime.start`` and the
  available-now trigger, the code path of ``sqlstream run --trigger available-now``;
- ``sqlstream, on_error='skip'``: the same SQL with malformed records skipped instead of failing
  the query (no ``raise_error`` check; a ``count_if`` observation instead), to see what the
  default's malformed-record check costs;
- ``hand-written``: the PySpark the Spark Kafka integration guide shows for the same job
  (``from_json(col("value").cast("string"), schema)``, filter, ``to_json(struct(...))``);
- the broker's raw consume rate: a plain confluent-kafka consumer reading every record of the
  input topic (Kafka's ``ConsumerPerformance`` tool is not among the broker jars sqlstream
  fetches, so it is not used).

Every Spark run reads the whole input topic from the earliest offsets into a fresh output topic
with a fresh checkpoint; the variants alternate (A B C, C B A, A B C...) so that a machine
getting busier or quieter does not favour one. A warm-up run of each variant (not counted) comes
first, so that no variant pays for the JVM's class loading and JIT alone. The time of a run is
from building its DataFrames to the query's termination; the sum of the micro-batches'
``triggerExecution`` durations is recorded too.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import typing as t
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import write_section  # noqa: E402

from sqlstream.compiler.facade import compile_project  # noqa: E402
from sqlstream.compiler.plan import Trigger  # noqa: E402
from sqlstream.local import broker as localkafka  # noqa: E402
from sqlstream.spark import progress as progress_mod  # noqa: E402
from sqlstream.spark import runtime  # noqa: E402

INPUT_TOPIC = "bench-input"
PARTITIONS = 4
ACTIONS = ["purchase", "view", "refund"]
ACTION_WEIGHTS = [6, 3, 1]
COUNTRIES = ["DE", "FR", "US", "GB", "NL", "ES", "IT", "PL"]

SQL = """\
CREATE STREAM events (
    event_id   STRING,
    user_id    STRING,
    action     STRING,
    amount     DOUBLE,
    country    STRING,
    event_time TIMESTAMP
) FROM KAFKA (
    topic = '{input}',
    format = 'json',
    starting_offsets = 'earliest'{on_error}
);

INSERT INTO KAFKA TOPIC '{{{{ var('output_topic') }}}}'
    KEY user_id
SELECT event_id, user_id, amount, event_time
FROM events
WHERE action = 'purchase' AND amount > 10;
"""

SQLSTREAM = "sqlstream"
SQLSTREAM_SKIP = "sqlstream, on_error='skip'"
HAND = "hand-written PySpark"
VARIANTS = {"sqlstream": SQLSTREAM, "skip": SQLSTREAM_SKIP, "hand": HAND}


# --- input -----------------------------------------------------------------------------------


def records(n: int, seed: int = 42) -> tuple[list[tuple[bytes, bytes]], int]:
    """n JSON events (key, value) and how many of them the pipeline keeps."""
    rng = random.Random(seed)
    out = []
    kept = 0
    actions = rng.choices(ACTIONS, ACTION_WEIGHTS, k=n)
    for i in range(n):
        user = f"u{rng.randrange(10000):04d}"
        amount = round(rng.uniform(0, 500), 2)
        action = actions[i]
        ms = i * 37
        stamp = (
            f"2026-11-27T{(ms // 3_600_000) % 24:02d}:{(ms // 60_000) % 60:02d}"
            f":{(ms // 1000) % 60:02d}.{ms % 1000:03d}Z"
        )
        value = (
            f'{{"event_id":"e{i:08d}","user_id":"{user}","action":"{action}","amount":{amount},'
            f'"country":"{COUNTRIES[i % len(COUNTRIES)]}","event_time":"{stamp}"}}'
        )
        out.append((user.encode(), value.encode()))
        kept += action == "purchase" and amount > 10
    return out, kept


def produce(bootstrap: str, topic: str, data: list[tuple[bytes, bytes]], partitions: int) -> float:
    """Write the records round-robin over the partitions; seconds until all are acknowledged."""
    from confluent_kafka import Producer

    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 50,
            "batch.size": 1_000_000,
            "batch.num.messages": 100_000,
            "queue.buffering.max.messages": 2_000_000,
            "queue.buffering.max.kbytes": 1_048_576,
            "compression.type": "lz4",
            "enable.idempotence": True,
        }
    )
    errors: list[str] = []

    def on_delivery(err: t.Any, _msg: t.Any) -> None:
        if err is not None:
            errors.append(err.str())

    t0 = time.perf_counter()
    for i, (key, value) in enumerate(data):
        while True:
            try:
                producer.produce(
                    topic, value, key, partition=i % partitions, on_delivery=on_delivery
                )
                break
            except BufferError:
                producer.poll(0.05)
        if i % 50_000 == 0:
            producer.poll(0)
    left = producer.flush(300)
    elapsed = time.perf_counter() - t0
    if errors or left:
        raise SystemExit(f"producing failed: {errors[:1]} ({left} not acknowledged)")
    return elapsed


# --- the broker's raw consume rate ------------------------------------------------------------


def raw_consume(bootstrap: str, topic: str, expected: int) -> float:
    """Seconds for a plain consumer to read every record of ``topic`` (assigned, not subscribed)."""
    import confluent_kafka as ck

    consumer = ck.Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-raw-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "fetch.max.bytes": 104_857_600,
            "max.partition.fetch.bytes": 26_214_400,
            "fetch.wait.max.ms": 10,
            "queued.min.messages": 1_000_000,
            "queued.max.messages.kbytes": 1_048_576,
        }
    )
    try:
        md = consumer.list_topics(topic=topic, timeout=30).topics[topic]
        t0 = time.perf_counter()
        consumer.assign([ck.TopicPartition(topic, p, ck.OFFSET_BEGINNING) for p in md.partitions])
        seen = 0
        deadline = time.monotonic() + 600
        while seen < expected:
            for msg in consumer.consume(num_messages=100_000, timeout=1.0):
                if msg.error() is None:
                    seen += 1
            if time.monotonic() > deadline:
                raise SystemExit(f"raw consumer read only {seen} of {expected} records")
        return time.perf_counter() - t0
    finally:
        consumer.close()


# --- the Spark variants -------------------------------------------------------------------------


@dataclasses.dataclass
class Run:
    variant: str
    seconds: float
    batch_seconds: float
    batches: int
    rows_in: int
    rows_out: int
    load: float
    cpu_seconds: float | None = None
    """CPU time (user + system) the Spark JVM spent during the run; None where /proc is absent."""
    compile_seconds: float = 0.0
    plan: str = ""
    """Spark's plans of the query's last micro-batch (``StreamingQuery.explain(True)``)."""

    @property
    def rate(self) -> float:
        return self.rows_in / self.seconds

    @property
    def cpu_rate(self) -> float | None:
        return self.rows_in / self.cpu_seconds if self.cpu_seconds else None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process so far (Linux), else None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Bench:
    def __init__(
        self, spark: t.Any, bootstrap: str, work: Path, expected_in: int, expected_out: int
    ):
        self.spark = spark
        self.bootstrap = bootstrap
        self.work = work
        self.expected_in = expected_in
        self.expected_out = expected_out
        self.jvm_pid: int | None = None
        self.projects = {
            SQLSTREAM: self._project("fail"),
            SQLSTREAM_SKIP: self._project("skip"),
        }

    def _project(self, on_error: str) -> Path:
        root = self.work / f"project-{on_error}"
        (root / "queries").mkdir(parents=True)
        (root / "sqlstream.yml").write_text("name: bench\nprofile: bench\n")
        (root / "profiles.yml").write_text(
            "bench:\n  target: dev\n  outputs:\n    dev:\n"
            f"      bootstrap_servers: '{self.bootstrap}'\n"
        )
        extra = "" if on_error == "fail" else f",\n    on_error = '{on_error}'"
        (root / "queries" / "pipeline.sql").write_text(
            SQL.format(input=INPUT_TOPIC, on_error=extra)
        )
        return root

    def _fresh(self) -> tuple[str, Path]:
        from sqlstream.local import client as kafkaclient

        topic = f"bench-out-{uuid.uuid4().hex[:10]}"
        kafkaclient.create_topic(self.bootstrap, topic, partitions=PARTITIONS)
        checkpoint = self.work / "checkpoints" / uuid.uuid4().hex
        return topic, checkpoint

    def compile(self, variant: str, topic: str, checkpoint: Path) -> tuple[t.Any, t.Any]:
        compiled = compile_project(
            [str(self.projects[variant] / "queries")], vars_override={"output_topic": topic}
        )
        connection = dataclasses.replace(
            compiled.connection(bootstrap_override=self.bootstrap), checkpoint_root=str(checkpoint)
        )
        return compiled.plan, connection

    def run(self, variant: str) -> Run:
        topic, checkpoint = self._fresh()
        load = os.getloadavg()[0]
        compile_seconds = 0.0
        if self.jvm_pid is None:
            self.jvm_pid = int(self.spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid())
        cpu0 = cpu_seconds(self.jvm_pid)
        if variant == HAND:
            t0 = time.perf_counter()
            query = self.hand_written(topic, str(checkpoint)).start()
        else:
            c0 = time.perf_counter()
            plan, connection = self.compile(variant, topic, checkpoint)
            compile_seconds = time.perf_counter() - c0
            t0 = time.perf_counter()
            (query,) = runtime.start(
                plan, self.spark, connection, trigger_override=Trigger("available_now")
            )
        query.awaitTermination()
        seconds = time.perf_counter() - t0
        cpu1 = cpu_seconds(self.jvm_pid)
        cpu = cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None
        if query.exception() is not None:
            raise SystemExit(f"{variant}: the query failed: {query.exception()}")
        plan = str(query._jsq.explainInternal(True))  # what query.explain(True) prints
        progress = [progress_mod.as_dict(p) for p in query.recentProgress]
        rows_in = sum(int(p.get("numInputRows") or 0) for p in progress)
        batch_ms = sum(
            int((p.get("durationMs") or {}).get("triggerExecution") or 0)
            for p in progress
            if p.get("numInputRows")
        )
        batches = sum(1 for p in progress if p.get("numInputRows"))
        rows_out = self._count(topic)
        self._drop(topic, checkpoint)
        if rows_in != self.expected_in or rows_out != self.expected_out:
            raise SystemExit(
                f"{variant}: read {rows_in} records (expected {self.expected_in}), wrote {rows_out}"
                f" (expected {self.expected_out})"
            )
        return Run(
            variant,
            seconds,
            batch_ms / 1000,
            batches,
            rows_in,
            rows_out,
            load,
            cpu,
            compile_seconds,
            plan,
        )

    def hand_written(self, topic: str, checkpoint: str) -> t.Any:
        """The job as the Spark Kafka integration guide writes it (a DataStreamWriter)."""
        from pyspark.sql.functions import col, from_json, struct, to_json
        from pyspark.sql.types import DoubleType, StringType, StructField, StructType, TimestampType

        schema = StructType(
            [
                StructField("event_id", StringType()),
                StructField("user_id", StringType()),
                StructField("action", StringType()),
                StructField("amount", DoubleType()),
                StructField("country", StringType()),
                StructField("event_time", TimestampType()),
            ]
        )
        events = (
            self.spark.readStream.format("kafka")
            .option("kafka.bootstrap.servers", self.bootstrap)
            .option("subscribe", INPUT_TOPIC)
            .option("startingOffsets", "earliest")
            .load()
            .select(from_json(col("value").cast("string"), schema).alias("data"))
            .select("data.*")
        )
        out = events.where((col("action") == "purchase") & (col("amount") > 10)).select(
            col("user_id").alias("key"),
            to_json(struct("event_id", "user_id", "amount", "event_time")).alias("value"),
        )
        return (
            out.writeStream.format("kafka")
            .option("kafka.bootstrap.servers", self.bootstrap)
            .option("topic", topic)
            .option("checkpointLocation", checkpoint)
            .trigger(availableNow=True)
        )

    def _count(self, topic: str) -> int:
        import confluent_kafka as ck

        consumer = ck.Consumer({"bootstrap.servers": self.bootstrap, "group.id": "bench-count"})
        try:
            return sum(
                consumer.get_watermark_offsets(
                    ck.TopicPartition(topic, p), timeout=30, cached=False
                )[1]
                for p in range(PARTITIONS)
            )
        finally:
            consumer.close()

    def _drop(self, topic: str, checkpoint: Path) -> None:
        from sqlstream.local import client as kafkaclient

        kafkaclient.delete_topic(self.bootstrap, topic)
        shutil.rmtree(checkpoint, ignore_errors=True)


# --- main ----------------------------------------------------------------------------------------


def order(variants: list[str], runs: int) -> list[str]:
    """A B C, C B A, A B C, ...: each variant runs ``runs`` times, in alternating order."""
    out: list[str] = []
    for r in range(runs):
        out += variants if r % 2 == 0 else list(reversed(variants))
    return out


def fmt_rate(x: float) -> str:
    return f"{x:,.0f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--records", type=int, default=1_000_000, help="input records (default 1,000,000)"
    )
    ap.add_argument(
        "--runs", type=int, default=5, help="counted runs per Spark variant (default 5)"
    )
    ap.add_argument("--raw-runs", type=int, default=3, help="raw consumer runs (default 3)")
    ap.add_argument(
        "--variants",
        default="sqlstream,hand,skip",
        help=(
            "Spark variants, in the first round's order: sqlstream, hand, skip (default all three)"
        ),
    )
    ap.add_argument("--no-warmup", action="store_true", help="skip the uncounted warm-up runs")
    ap.add_argument(
        "--explain",
        action="store_true",
        help="run each variant once, print Spark's plans of it, and exit",
    )
    ap.add_argument("--no-write", action="store_true", help="do not write docs/benchmarks.md")
    args = ap.parse_args(argv)
    variants = [VARIANTS[v.strip()] for v in args.variants.split(",") if v.strip()]

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    work = Path(tempfile.mkdtemp(prefix="sqlstream-bench-"))
    state_dir = work / "kafka"
    print("==> starting a Kafka broker (state in a temporary directory)", flush=True)
    broker = localkafka.up(port=0, state_dir=state_dir, heap="1g")
    spark = None
    try:
        from sqlstream.local import client as kafkaclient

        kafkaclient.create_topic(broker.bootstrap, INPUT_TOPIC, partitions=PARTITIONS)
        print(f"==> generating {args.records:,} JSON records", flush=True)
        data, kept = records(args.records)
        avg_size = sum(len(v) for _, v in data) / len(data)
        produce_s = produce(broker.bootstrap, INPUT_TOPIC, data, PARTITIONS)
        del data
        produce_rate = args.records / produce_s
        print(
            f"==> produced {args.records:,} records ({avg_size:.0f} bytes each on average) to"
            f" {PARTITIONS} partitions in {produce_s:.2f} s: {fmt_rate(produce_rate)} records/s;"
            f" the pipeline keeps {kept:,}",
            flush=True,
        )

        raw = []
        for i in range(args.raw_runs):
            s = raw_consume(broker.bootstrap, INPUT_TOPIC, args.records)
            raw.append(s)
            print(
                f"    raw consume {i + 1}: {s:.2f} s, {fmt_rate(args.records / s)} records/s",
                flush=True,
            )

        print("==> starting Spark (runtime.session, as `sqlstream run` does)", flush=True)
        bench = Bench(None, broker.bootstrap, work, args.records, kept)
        _, connection = bench.compile(SQLSTREAM, "unused", work / "unused")
        spark = bench.spark = runtime.session(connection, "sqlstream-bench")
        if args.explain:
            for v in variants:
                print(f"===== {v}\n{bench.run(v).plan}")
            return 0

        if not args.no_warmup:
            for v in variants:
                r = bench.run(v)
                print(
                    f"    warm-up {v}: {r.seconds:.2f} s ({fmt_rate(r.rate)} records/s),"
                    " not counted",
                    flush=True,
                )
        runs: list[Run] = []
        for i, v in enumerate(order(variants, args.runs), 1):
            r = bench.run(v)
            runs.append(r)
            print(
                f"    run {i:2d} {v:28s} {r.seconds:6.2f} s  {fmt_rate(r.rate):>9s} records/s"
                f"  (batches {r.batch_seconds:.2f} s in {r.batches};"
                f" JVM CPU {r.cpu_seconds or 0:.2f} s;"
                f" load avg {r.load:.1f})",
                flush=True,
            )
    finally:
        if spark is not None:
            spark.stop()
        localkafka.down(state_dir)
        shutil.rmtree(work, ignore_errors=True)

    body = report(args, variants, runs, raw, produce_rate, avg_size, kept)
    print()
    print(body)
    if not args.no_write:
        write_section("throughput", "python bench/throughput.py", body)
        print("\nwritten to docs/benchmarks.md (section throughput)")
    return 0


def report(
    args: argparse.Namespace,
    variants: list[str],
    runs: list[Run],
    raw: list[float],
    produce_rate: float,
    avg_size: float,
    kept: int,
) -> str:
    import pyspark

    by = {v: [r for r in runs if r.variant == v] for v in variants}
    med = {v: statistics.median(r.rate for r in rs) for v, rs in by.items()}
    med_batch = {
        v: statistics.median(r.rows_in / r.batch_seconds for r in rs) for v, rs in by.items()
    }
    cpu_known = all(r.cpu_rate for r in runs)
    med_cpu = {v: statistics.median(r.cpu_rate or 0 for r in rs) for v, rs in by.items()}
    raw_rates = [args.records / s for s in raw]
    lines = [
        f"Workload: {args.records:,} JSON records ({avg_size:.0f} bytes on average) in one topic of"
        f" {PARTITIONS} partitions on a local single-node broker"
        f" (Kafka {localkafka.jars.KAFKA_VERSION}, KRaft); a stateless pipeline (decode 6 fields,"
        " `WHERE action = 'purchase' AND amount > 10`, 4 columns as a JSON value, `KEY user_id`)"
        f" keeps {kept:,} of them. Spark {pyspark.__version__}, `local[*]`, one SparkSession for"
        " every run (`runtime.session`, what `sqlstream run` uses),"
        " available-now trigger, one micro-batch.",
        "",
        "- *records/s*: input records / seconds from building the query's DataFrames to its"
        " termination (for sqlstream: `runtime.start` to the end; compiling the SQL, a few"
        " milliseconds, is not included);",
        "- *batches only*: the same over the sum of the micro-batches' `triggerExecution`"
        " durations, leaving out query start-up and shutdown;",
        "- *per JVM CPU second*: input records / CPU time (user + system) of the Spark JVM during"
        " the run. Other processes on the machine slow the wall clock much more than they change"
        " this, so it is the steadiest figure when the machine is busy.",
        "",
        "Each run reads the whole topic into a fresh output topic with a fresh checkpoint and"
        " checks the record counts; the variants alternate (A B C, C B A, ...), after one"
        " uncounted warm-up run each.",
        "",
        "| what | runs (records/s) | median records/s | median, batches only"
        " | median per JVM CPU second |",
        "| --- | --- | --- | --- | --- |",
    ]
    for v in variants:
        rates = ", ".join(fmt_rate(r.rate) for r in by[v])
        cpu = fmt_rate(med_cpu[v]) if cpu_known else "n/a"
        lines.append(
            f"| {v} | {rates} | **{fmt_rate(med[v])}** | {fmt_rate(med_batch[v])} | {cpu} |"
        )
    lines.append(
        "| raw consume (confluent-kafka consumer, librdkafka) | "
        f"{', '.join(fmt_rate(x) for x in raw_rates)}"
        f" | **{fmt_rate(statistics.median(raw_rates))}** | | |"
    )
    lines.append(
        f"| produce the input (confluent-kafka producer, lz4) | {fmt_rate(produce_rate)} | | | |"
    )
    lines.append("")

    def ratios(v: str) -> str:
        text = (
            f"**{med[v] / med[HAND]:.3f}** (wall),"
            f" {med_batch[v] / med_batch[HAND]:.3f} (batches only)"
        )
        if cpu_known:
            text += f", {med_cpu[v] / med_cpu[HAND]:.3f} (per JVM CPU second)"
        return text

    if SQLSTREAM in med and HAND in med:
        lines.append(f"sqlstream / hand-written: {ratios(SQLSTREAM)}; goal >= 0.97.")
    if SQLSTREAM_SKIP in med and HAND in med:
        lines.append("")
        lines.append(
            f"sqlstream with `on_error = 'skip'` / hand-written: {ratios(SQLSTREAM_SKIP)}."
        )
    spreads = []
    for v in variants:
        wall = [r.rate for r in by[v]]
        if len(wall) > 1:
            spreads.append(f"{v} {100 * (max(wall) - min(wall)) / statistics.median(wall):.0f} %")
    spread = ", ".join(spreads) or "not measured (one run each)"
    loads = [r.load for r in runs]
    cores = os.cpu_count() or 1
    busy = (
        "the machine was shared with other work while this ran"
        if max(loads) > cores
        else "the machine was otherwise quiet"
    )
    lines += [
        "",
        f"Noise: {busy} (1-minute load average {min(loads):.1f} to {max(loads):.1f} on {cores}"
        f" cores at the runs' starts); the spread (max - min) / median of the wall-clock rates was"
        f" {spread}. Differences smaller than that spread are not meaningful; compare medians.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
