"""The engines bench/nexmark.py runs side by side, behind one interface.

An engine runs one Nexmark query over the whole of its input topics (from the earliest offsets
to the ends they have when it starts) into a fresh output topic, and says what it cost:
``RunStats``. ``ENGINES`` names each engine's class as ``module:Class``, imported when the
engine is asked for, so an engine whose runtime is missing costs nothing to the others.

- ``sqlstream``: the query of queries/sqlstream/qN.sql with queries/sqlstream/sources.sql,
  compiled by sqlstream and started with ``runtime.start`` and the available-now trigger, the
  code path of ``sqlstream run --trigger available-now``;
- ``pyspark``: the stateless queries hand-written with the DataFrame API, as the Spark Kafka
  integration guide writes a job (``from_json``, ``select``, ``to_json``), no malformed-record
  checks;
- ``flink``: bench/nexmark/flink.py.

Both Spark engines share one SparkSession (``runtime.session``, what ``sqlstream run``
builds): a query's run starts and stops its streaming query, not Spark.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import threading
import time
import typing as t
import uuid
from pathlib import Path

from nexmark.generator import Topics
from nexmark.reference import SECOND, Params

HERE = Path(__file__).resolve().parent
SQLSTREAM_QUERIES = HERE / "queries" / "sqlstream"

ENGINES: dict[str, str] = {
    "sqlstream": "nexmark.engines:SqlstreamEngine",
    "pyspark": "nexmark.engines:PysparkEngine",
    "flink": "nexmark.flink:FlinkEngine",
    "sqlstream-unbatched": "nexmark.engines:SqlstreamUnbatchedEngine",
    "sqlstream-nowm": "nexmark.engines:SqlstreamNoWatermarkEngine",
}
"""Engine name -> ``module:Class``; the class takes a ``Context``."""


@dataclasses.dataclass(frozen=True)
class RunStats:
    """What one run of one query cost."""

    events: int
    """Input records the query read (the events of the topics it reads, not of all three)."""
    seconds: float
    """Wall clock from starting the query to its end."""
    cpu_seconds: float | None
    """User + system CPU time of the engine's processes during the run; None when unknown."""
    peak_memory: int | None
    """Largest resident set size of the engine's processes during the run, bytes."""
    output: int = 0
    """Records written to the output topic."""

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


@dataclasses.dataclass
class Context:
    """What every engine of a run shares: the broker, a work folder, the queries' parameters."""

    bootstrap: str
    work: Path
    params: Params = dataclasses.field(default_factory=Params)
    cores: int = dataclasses.field(default_factory=lambda: os.cpu_count() or 1)
    shared: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    """Objects engines share (the SparkSession), and close at the end."""


class EngineMissing(Exception):
    """The engine's runtime is not installed here (the bench leaves the engine out, saying why)."""


class Engine:
    """One way of running the queries; subclasses set ``name`` and ``queries``."""

    name = ""
    queries: frozenset[str] = frozenset()
    """The queries this engine can run."""
    closes_windows_at_end = False
    """True for an engine that closes every open window when its bounded input ends (Flink's
    final watermark is +infinity); Spark's available-now run closes only those its last
    watermark passes. The check's reference follows."""

    def __init__(self, ctx: Context):
        self.ctx = ctx

    def run(self, query: str, topics: Topics, out_topic: str) -> RunStats:
        raise NotImplementedError

    def close(self) -> None:
        """Stop what the engine started (called once, at the end of the bench)."""


def engine(name: str, ctx: Context) -> Engine:
    """The engine called ``name``, built for ``ctx``."""
    if name not in ENGINES:
        raise SystemExit(f"unknown engine {name!r}: one of {', '.join(ENGINES)}")
    module, cls = ENGINES[name].split(":")
    made = getattr(importlib.import_module(module), cls)(ctx)
    return t.cast(Engine, made)


def sqlstream_queries() -> frozenset[str]:
    return frozenset(p.stem for p in SQLSTREAM_QUERIES.glob("q*.sql"))


# --- measuring a process ------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process so far (Linux), else None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


class Sampler:
    """The peak resident memory of some processes while a run lasts, sampled every 0.2 s."""

    def __init__(self, pids: t.Callable[[], list[int]]):
        self.pids = pids
        self.peak: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while True:
            sizes = [rss(p) for p in self.pids()]
            known = [s for s in sizes if s is not None]
            if known:
                self.peak = max(self.peak or 0, sum(known))
            if self._stop.wait(0.2):
                return

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def count_records(bootstrap: str, topic: str) -> int:
    """Records in ``topic`` now: the sum of its partitions' end offsets."""
    import confluent_kafka as ck

    consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": "nexmark-count"})
    try:
        md = consumer.list_topics(topic=topic, timeout=30).topics[topic]
        return sum(
            consumer.get_watermark_offsets(ck.TopicPartition(topic, p), timeout=30, cached=False)[1]
            for p in md.partitions
        )
    finally:
        consumer.close()


# --- Spark ----------------------------------------------------------------------------------------


def _interval(ms: int) -> str:
    return f"{ms // SECOND} seconds"


def query_vars(params: Params, topics: Topics, out_topic: str) -> dict[str, t.Any]:
    """The vars of queries/sqlstream/*.sql for these parameters and topics."""
    return {
        "person_topic": topics.person,
        "auction_topic": topics.auction,
        "bid_topic": topics.bid,
        "output_topic": out_topic,
        "watermark": f"'{(params.watermark_ms or 0) // SECOND}' SECONDS",
        "tumble": _interval(params.tumble_ms),
        "tumble_interval": f"'{params.tumble_ms // SECOND}' SECONDS",
        "tumble_ms": params.tumble_ms,
        "hop_size": _interval(params.hop_size_ms),
        "hop_slide": _interval(params.hop_slide_ms),
        "day": _interval(params.day_ms),
    }


class SparkEngine(Engine):
    """What both Spark engines share: the session, the JVM's pid, measuring a streaming query."""

    def spark(self) -> t.Any:
        if "spark" not in self.ctx.shared:
            from sqlstream.project.connection import Connection
            from sqlstream.spark import runtime

            os.environ.setdefault("PYSPARK_PYTHON", os.sys.executable)  # type: ignore[attr-defined]
            connection = Connection(bootstrap_servers=self.ctx.bootstrap)
            spark = runtime.session(connection, "nexmark")
            self.ctx.shared["spark"] = spark
            pid = spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid()
            self.ctx.shared["jvm_pid"] = int(pid)
        return self.ctx.shared["spark"]

    def checkpoint(self) -> Path:
        return self.ctx.work / "checkpoints" / uuid.uuid4().hex

    def measure(self, start: t.Callable[[], t.Any], out_topic: str) -> RunStats:
        """Start a query (``start`` returns it), wait for its end, and say what it cost."""
        self.spark()
        pid = self.ctx.shared["jvm_pid"]
        cpu0 = cpu_seconds(pid)
        with Sampler(lambda: [pid]) as sampler:
            t0 = time.perf_counter()
            query = start()
            query.awaitTermination()
            seconds = time.perf_counter() - t0
        cpu1 = cpu_seconds(pid)
        if query.exception() is not None:
            raise SystemExit(f"{self.name}: the query failed: {query.exception()}")
        events = sum(int(p.numInputRows or 0) for p in query.recentProgress)
        return RunStats(
            events=events,
            seconds=seconds,
            cpu_seconds=cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None,
            peak_memory=sampler.peak,
            output=count_records(self.ctx.bootstrap, out_topic),
        )

    def close(self) -> None:
        spark = self.ctx.shared.pop("spark", None)
        if spark is not None:
            spark.stop()


class SqlstreamEngine(SparkEngine):
    """The query as sqlstream SQL, compiled and run as ``sqlstream run --trigger available-now``."""

    name = "sqlstream"
    queries = sqlstream_queries()
    sink_defaults: dict[str, str] = {}
    """``defaults: sink:`` of the project's sqlstream.yml (none: sqlstream's own defaults)."""

    def project(self, query: str) -> Path:
        """A project of the sources and the one query (each query compiled on its own)."""
        root = self.ctx.work / f"{self.name}-{query}"
        if not root.exists():
            (root / "queries").mkdir(parents=True)
            defaults = "".join(f"    {k}: '{v}'\n" for k, v in self.sink_defaults.items())
            (root / "sqlstream.yml").write_text(
                "name: nexmark\nprofile: nexmark\n"
                + (f"defaults:\n  sink:\n{defaults}" if defaults else "")
            )
            (root / "profiles.yml").write_text(
                "nexmark:\n  target: dev\n  outputs:\n    dev:\n"
                f"      bootstrap_servers: '{self.ctx.bootstrap}'\n"
            )
            for name in ("sources.sql", f"{query}.sql"):
                text = (SQLSTREAM_QUERIES / name).read_text()
                (root / "queries" / name).write_text(self.edit(name, text))
        return root

    def edit(self, name: str, text: str) -> str:
        """The text of a query file as this engine runs it (as written)."""
        return text

    def run(self, query: str, topics: Topics, out_topic: str) -> RunStats:
        from sqlstream.compiler.facade import compile_project
        from sqlstream.compiler.plan import Trigger
        from sqlstream.spark import runtime

        compiled = compile_project(
            [str(self.project(query) / "queries")],
            vars_override=query_vars(self.ctx.params, topics, out_topic),
        )
        connection = dataclasses.replace(
            compiled.connection(bootstrap_override=self.ctx.bootstrap),
            checkpoint_root=str(self.checkpoint()),
        )
        spark = self.spark()

        def start() -> t.Any:
            (started,) = runtime.start(
                compiled.plan, spark, connection, trigger_override=Trigger("available_now")
            )
            return started

        return self.measure(start, out_topic)


class SqlstreamUnbatchedEngine(SqlstreamEngine):
    """sqlstream with the Kafka client's own producer defaults (kafka-clients 3.9, as Spark 4.2
    ships it: 16 KiB batches, no linger) instead of sqlstream's batched sinks
    (``triggers.BATCHED_PRODUCER``): the ledger's before, set through the project's
    ``defaults: sink:`` as a user would."""

    name = "sqlstream-unbatched"
    sink_defaults = {"kafka.linger.ms": "0", "kafka.batch.size": "16384"}


class SqlstreamNoWatermarkEngine(SqlstreamEngine):
    """sqlstream with streams declared without a WATERMARK (stateless queries only): how much
    the source's ``withWatermark`` costs a query that has no state (the ledger)."""

    name = "sqlstream-nowm"
    queries = frozenset({"q0", "q1", "q2", "q14", "q21", "q22"})

    def edit(self, name: str, text: str) -> str:
        if name != "sources.sql":
            return text
        lines = text.splitlines(keepends=True)
        kept = [ln for ln in lines if "WATERMARK FOR" not in ln]
        return (
            "".join(kept)
            .replace("extra        STRING,\n)", "extra        STRING\n)")
            .replace("extra       STRING,\n)", "extra       STRING\n)")
            .replace("extra    STRING,\n)", "extra    STRING\n)")
        )


class PysparkEngine(SparkEngine):
    """The stateless queries written by hand with the DataFrame API."""

    name = "pyspark"
    queries = frozenset({"q0", "q1", "q2", "q14", "q21", "q22"})

    def bids(self, topic: str) -> t.Any:
        from pyspark.sql.functions import col, from_json

        schema = (
            "auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, url STRING,"
            " dateTime TIMESTAMP, extra STRING"
        )
        return (
            self.spark()
            .readStream.format("kafka")
            .option("kafka.bootstrap.servers", self.ctx.bootstrap)
            .option("subscribe", topic)
            .option("startingOffsets", "earliest")
            .load()
            .select(from_json(col("value").cast("string"), schema, {"timeZone": "UTC"}).alias("b"))
            .select("b.*")
        )

    def run(self, query: str, topics: Topics, out_topic: str) -> RunStats:
        from pyspark.sql.functions import struct, to_json

        frame = HAND_WRITTEN[query](self.bids(topics.bid))
        out = frame.select(to_json(struct(*frame.columns), {"timeZone": "UTC"}).alias("value"))
        writer = (
            out.writeStream.format("kafka")
            .option("kafka.bootstrap.servers", self.ctx.bootstrap)
            .option("topic", out_topic)
            .option("checkpointLocation", str(self.checkpoint()))
            .trigger(availableNow=True)
        )
        return self.measure(writer.start, out_topic)


def _q0(b: t.Any) -> t.Any:
    return b.select("auction", "bidder", "price", "dateTime", "extra")


def _q1(b: t.Any) -> t.Any:
    from pyspark.sql.functions import expr

    return b.select("auction", "bidder", expr("0.908 * price").alias("price"), "dateTime", "extra")


def _q2(b: t.Any) -> t.Any:
    from pyspark.sql.functions import col

    return b.where(col("auction") % 123 == 0).select("auction", "price")


def _q14(b: t.Any) -> t.Any:
    from pyspark.sql.functions import col, expr, hour, length, lit, regexp_replace, when

    h = hour("dateTime")
    price = expr("0.908 * price")
    return b.where((price > 1_000_000) & (price < 50_000_000)).select(
        "auction",
        "bidder",
        price.alias("price"),
        when((h >= 8) & (h <= 18), lit("dayTime"))
        .when((h <= 6) | (h >= 20), lit("nightTime"))
        .otherwise(lit("otherTime"))
        .alias("bidTimeType"),
        "dateTime",
        "extra",
        (length("extra") - length(regexp_replace(col("extra"), "c", ""))).alias("c_counts"),
    )


def _q21(b: t.Any) -> t.Any:
    from pyspark.sql.functions import col, lower, nullif, regexp_extract, when

    from_url = nullif(regexp_extract("url", "(&|^)channel_id=([^&]*)", 2), lit_empty())
    channel = lower(col("channel"))
    channel_id = (
        when(channel == "apple", "0")
        .when(channel == "google", "1")
        .when(channel == "facebook", "2")
        .when(channel == "baidu", "3")
        .otherwise(from_url)
    )
    keep = from_url.isNotNull() | channel.isin("apple", "google", "facebook", "baidu")
    return b.where(keep).select(
        "auction", "bidder", "price", "channel", channel_id.alias("channel_id")
    )


def lit_empty() -> t.Any:
    from pyspark.sql.functions import lit

    return lit("")


def _q22(b: t.Any) -> t.Any:
    from pyspark.sql.functions import lit, split, try_element_at

    parts = split("url", "/")
    return b.select(
        "auction",
        "bidder",
        "price",
        "channel",
        *(try_element_at(parts, lit(i + 3)).alias(f"dir{i}") for i in (1, 2, 3)),
    )


HAND_WRITTEN: dict[str, t.Callable[[t.Any], t.Any]] = {
    "q0": _q0,
    "q1": _q1,
    "q2": _q2,
    "q14": _q14,
    "q21": _q21,
    "q22": _q22,
}
