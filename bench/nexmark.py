"""Nexmark over Kafka: sqlstream, Flink SQL and hand-written PySpark on the same topics.

Run: make bench-nexmark, or python bench/nexmark.py [--events N] [--queries q0,q1,...]
[--engines sqlstream,flink,pyspark] [--quick] [--check]. Prints a table and writes it to
docs/benchmarks.md (section "nexmark"); ``--no-write`` only prints.

One run, one local broker, one fill of the three topics (bench/nexmark/generator.py, the Go
generator), then each query on each engine that has it, from the earliest offsets to the
topics' ends, into a fresh output topic: the engines alternate (A B C, C B A, ...) after one
uncounted warm-up run of each, as bench/throughput.py does. ``--check`` instead runs every
query of every engine on a small input with short windows and compares the output with the
independent reference (bench/nexmark/reference.py); it exits 1 on a difference.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nexmark import engines as eng  # noqa: E402
from nexmark import reference as ref  # noqa: E402
from nexmark.generator import KINDS, Fill, Topics, fill  # noqa: E402
from report import write_section  # noqa: E402

from sqlstream.local import broker as localkafka  # noqa: E402

PARTITIONS = 4
ALL_QUERIES = sorted(ref.QUERIES, key=lambda q: int(q[1:]))
QUICK_QUERIES = ["q0", "q2", "q5", "q7", "q21"]
"""A pass-through, a filter, a window, a window join, a stateless rewrite: the issue's 5 minutes
on 2 cores with the three engines (seven queries, q1 and q22 too, took 14 under load)."""
FULL_EVENTS = 1_000_000
"""A full run's events: 14 queries, 34 query-engine pairs, 3 runs each: 17 minutes on 2 quiet
cores (docs/benchmarks.md), where 2,000,000 events took about an hour with a JVM per Flink run.
A million events is 100 s of event time at 10,000 events/s: ten 10 s windows."""
CHECK_RATE = 50.0
CHECK_PARAMS = ref.Params(
    watermark_ms=2 * ref.SECOND,
    tumble_ms=10 * ref.SECOND,
    hop_size_ms=10 * ref.SECOND,
    hop_slide_ms=2 * ref.SECOND,
    day_ms=20 * ref.SECOND,
    auction_ms=ref.auction_length(CHECK_RATE),
)
"""Short windows (a 20 s "day") so that a check of a few thousand events closes some of each."""


@dataclasses.dataclass
class Run:
    query: str
    engine: str
    stats: eng.RunStats
    load: float


def order(names: list[str], runs: int) -> list[str]:
    """A B C, C B A, A B C, ...: each engine ``runs`` times, in alternating order."""
    out: list[str] = []
    for r in range(runs):
        out += names if r % 2 == 0 else list(reversed(names))
    return out


def fresh_topic(bootstrap: str, prefix: str) -> str:
    from sqlstream.local import client as kafkaclient

    topic = f"{prefix}-{uuid.uuid4().hex[:10]}"
    kafkaclient.create_topic(bootstrap, topic, partitions=PARTITIONS)
    return topic


def drop_topic(bootstrap: str, topic: str) -> None:
    from sqlstream.local import client as kafkaclient

    kafkaclient.delete_topic(bootstrap, topic)


def expected_events(query: str, filled: Fill) -> int:
    return sum(filled.of(k) for k in ref.INPUTS[query])


def run_once(
    engine: eng.Engine, query: str, topics: Topics, bootstrap: str, filled: Fill
) -> eng.RunStats:
    """One run into a fresh output topic, dropped after; checks the engine read every event."""
    out = fresh_topic(bootstrap, f"nexmark-out-{query}")
    try:
        stats = engine.run(query, topics, out)
    finally:
        drop_topic(bootstrap, out)
    want = expected_events(query, filled)
    if stats.events != want:
        raise SystemExit(f"{engine.name} {query}: read {stats.events} events, expected {want}")
    return stats


# --- the check ----------------------------------------------------------------------------------


def check(
    engines: dict[str, eng.Engine],
    queries: list[str],
    bootstrap: str,
    events: int,
    rate: float,
) -> list[str]:
    """Every engine's output of every query on a small input against the reference."""
    from sqlstream.local import client as kafkaclient

    topics = Topics.with_suffix(f"-check-{uuid.uuid4().hex[:6]}")
    fill(bootstrap, topics, events, rate=rate, partitions=PARTITIONS)
    values = {k: [r.value for r in kafkaclient.consume_all(bootstrap, topics.of(k))] for k in KINDS}
    inputs = ref.Events.from_values(values)
    failures = []
    open_ends = dataclasses.replace(CHECK_PARAMS, watermark_ms=None)
    for query in queries:
        for name, engine in engines.items():
            if query not in engine.queries:
                continue
            params = open_ends if engine.closes_windows_at_end else CHECK_PARAMS
            expected = ref.QUERIES[query](inputs, params)
            out = fresh_topic(bootstrap, f"nexmark-check-{query}")
            try:
                engine.run(query, topics, out)
                got = [json.loads(r.value) for r in kafkaclient.consume_all(bootstrap, out)]
            finally:
                drop_topic(bootstrap, out)
            problem = ref.diff(expected, got)
            verdict = "ok" if problem is None else "DIFFERS"
            print(f"    check {query:4s} {name:10s} {len(got):6d} rows: {verdict}", flush=True)
            if problem is not None:
                failures.append(f"{query} on {name}: {problem}")
    return failures


# --- the timed runs -----------------------------------------------------------------------------


def bench(
    engines: dict[str, eng.Engine],
    queries: list[str],
    bootstrap: str,
    topics: Topics,
    filled: Fill,
    runs: int,
    warmup: bool,
) -> list[Run]:
    out: list[Run] = []
    if warmup:
        for name, engine in engines.items():
            query = next((q for q in queries if q in engine.queries), None)
            if query is not None:
                s = run_once(engine, query, topics, bootstrap, filled)
                print(f"    warm-up {name} {query}: {s.seconds:.2f} s, not counted", flush=True)
    for query in queries:
        names = [n for n, e in engines.items() if query in e.queries]
        for name in order(names, runs):
            load = os.getloadavg()[0]
            s = run_once(engines[name], query, topics, bootstrap, filled)
            out.append(Run(query, name, s, load))
            cpu = f"{s.cpu_seconds:.1f}" if s.cpu_seconds is not None else "n/a"
            print(
                f"    {query:4s} {name:10s} {s.seconds:7.2f} s {s.rate:>10,.0f} events/s"
                f"  CPU {cpu} s  out {s.output:,}  (load {load:.1f})",
                flush=True,
            )
    return out


def profile(
    engines: dict[str, eng.Engine],
    queries: list[str],
    bootstrap: str,
    topics: Topics,
    filled: Fill,
    work: Path,
) -> str:
    """One warm-up and one recorded run of each Spark engine on each query: where time goes."""
    from nexmark import profile as prof

    lines: list[str] = []
    for query in queries:
        for name, engine in engines.items():
            if query not in engine.queries or not isinstance(engine, eng.SparkEngine):
                continue
            run_once(engine, query, topics, bootstrap, filled)
            pid = engine.ctx.shared["jvm_pid"]
            path = work / f"{query}-{name}.jfr"
            prof.start(pid, path)
            s = run_once(engine, query, topics, bootstrap, filled)
            prof.stop(pid)
            n, cats, selfs = prof.summarise(path)
            print(f"    profiled {query} {name}: {s.rate:,.0f} events/s, {n:,} samples", flush=True)
            lines += [
                "",
                f"**{query}, {name}**: {s.rate:,.0f} events/s, {s.cpu_seconds or 0:.1f} CPU s,"
                f" {n:,} samples (load {os.getloadavg()[0]:.1f})",
                "",
                *prof.table(n, cats, selfs),
            ]
    return "\n".join(lines)


def report(runs: list[Run], filled: Fill, args: argparse.Namespace, engine_names: list[str]) -> str:
    import pyspark

    cores = os.cpu_count() or 1
    lines = [
        f"Workload: {filled.events:,} Nexmark events ({filled.person:,} people,"
        f" {filled.auction:,} auctions, {filled.bid:,} bids; {filled.bytes / filled.events:.0f}"
        f" bytes of JSON on average), event time {args.rate:,.0f} events/s, in three topics of"
        f" {PARTITIONS} partitions (one per event type) on a local single-node broker (Kafka"
        f" {localkafka.jars.KAFKA_VERSION}, KRaft), filled by the Go generator at"
        f" {filled.events_per_second:,.0f} events/s. Spark {pyspark.__version__}, `local[*]`,"
        " available-now trigger, one SparkSession for both Spark engines."
        + flink_line(engine_names),
        "",
        "- *events/s*: the records of the topics the query reads (q0 reads the bids only, q3"
        " people and auctions) / seconds from starting the query to its end (median of the runs);",
        f"- *per core*: events/s / {cores} cores; *per CPU second*: events / CPU time (user +"
        " system) of the engine's processes during the run, the steadiest figure on a busy"
        " machine;",
        "- *peak memory*: the largest resident set of the engine's processes during the run.",
        "",
        "| query | engine | runs (events/s) | events/s | per core | per CPU second | CPU s"
        " | peak memory | output records |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    med: dict[tuple[str, str], tuple[float, float | None]] = {}
    for query in dict.fromkeys(r.query for r in runs):
        for name in engine_names:
            rs = [r for r in runs if r.query == query and r.engine == name]
            if not rs:
                continue
            rate = statistics.median(r.stats.rate for r in rs)
            cpus = [r.stats.cpu_seconds for r in rs if r.stats.cpu_seconds]
            cpu = statistics.median(cpus) if cpus else None
            per_cpu = rs[0].stats.events / cpu if cpu else None
            peak = max((r.stats.peak_memory or 0) for r in rs)
            med[(query, name)] = (rate, per_cpu)
            lines.append(
                f"| {query} | {name} | {', '.join(f'{r.stats.rate:,.0f}' for r in rs)}"
                f" | **{rate:,.0f}** | {rate / cores:,.0f}"
                f" | {f'{per_cpu:,.0f}' if per_cpu else 'n/a'}"
                f" | {f'{cpu:.1f}' if cpu else 'n/a'}"
                f" | {f'{peak / 2**20:,.0f} MB' if peak else 'n/a'} | {rs[0].stats.output:,} |"
            )
    lines += ratios(med, [q for q in dict.fromkeys(r.query for r in runs)])
    loads = [r.load for r in runs]
    lines += [
        "",
        f"Load: the 1-minute load average at the runs' starts was {min(loads):.1f} to"
        f" {max(loads):.1f} on {cores} cores (the bench's own broker and engines count in it:"
        " where it is well above the core count, other work shared the machine, and the"
        " per-CPU-second figures are the ones to compare).",
    ]
    return "\n".join(lines)


def fmt_time(started: float) -> str:
    minutes, seconds = divmod(round(time.perf_counter() - started), 60)
    return f"{minutes} min {seconds} s"


def flink_line(engine_names: list[str]) -> str:
    if "flink" not in engine_names:
        return ""
    from nexmark import flink

    connector = flink.CONNECTOR.rsplit(":", 1)[1]
    return (
        f" Flink {flink.FLINK_VERSION} (Kafka SQL connector {connector}), a local mini-cluster"
        f" of parallelism {os.cpu_count() or 1}, its jobs one after another in one JVM."
    )


def ratios(med: dict[tuple[str, str], tuple[float, float | None]], queries: list[str]) -> list[str]:
    """sqlstream / Flink and sqlstream / hand-written PySpark, per query, where both ran."""
    out: list[str] = []
    for other in ("flink", "pyspark"):
        cells = []
        for q in queries:
            a, b = med.get((q, "sqlstream")), med.get((q, other))
            if a and b:
                cpu = f", {a[1] / b[1]:.2f} per CPU s" if a[1] and b[1] else ""
                cells.append(f"{q} **{a[0] / b[0]:.2f}**{cpu}")
        if cells:
            out += ["", f"sqlstream / {other} (events/s): " + "; ".join(cells) + "."]
    return out


# --- main -----------------------------------------------------------------------------------------


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, help="events to generate (default 1,000,000)")
    ap.add_argument("--rate", type=float, default=10_000, help="events/s of event time")
    ap.add_argument("--queries", help=f"default all: {','.join(ALL_QUERIES)}")
    ap.add_argument("--engines", default="sqlstream,flink,pyspark")
    ap.add_argument("--runs", type=int, help="counted runs per query and engine (default 3)")
    ap.add_argument(
        "--quick",
        action="store_true",
        help="200,000 events, 5 queries, 2 runs (section nexmark-quick)",
    )
    ap.add_argument("--check", action="store_true", help="compare outputs with the reference")
    ap.add_argument(
        "--profile",
        action="store_true",
        help="record where the Spark engines' time goes (Java Flight Recorder), q0-q2 by default",
    )
    ap.add_argument("--no-warmup", action="store_true")
    ap.add_argument("--no-write", action="store_true", help="do not write docs/benchmarks.md")
    args = ap.parse_args(argv)
    default_events, default_runs, default_queries = (
        (200_000, 2, QUICK_QUERIES) if args.quick else (FULL_EVENTS, 3, ALL_QUERIES)
    )
    if args.check:
        default_events, default_queries = 3_000, ALL_QUERIES
    if args.profile:
        default_events, default_queries = 1_000_000, ["q0", "q1", "q2"]
    args.events = args.events or default_events
    args.runs = args.runs or default_runs
    args.queries = args.queries.split(",") if args.queries else default_queries
    unknown = [q for q in args.queries if q not in ref.QUERIES]
    if unknown:
        raise SystemExit(f"unknown queries {unknown}: one of {', '.join(ALL_QUERIES)}")
    return args


def available(names: list[str], ctx: eng.Context) -> dict[str, eng.Engine]:
    """The engines asked for; one whose runtime is missing is left out with a note."""
    out = {}
    for name in names:
        if name not in eng.ENGINES:
            print(f"==> engine {name} left out: not registered in nexmark/engines.py", flush=True)
            continue
        try:
            out[name] = eng.engine(name, ctx)
        except (ImportError, eng.EngineMissing) as exc:
            print(f"==> engine {name} left out: {exc}", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    started = time.perf_counter()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    work = Path(tempfile.mkdtemp(prefix="sqlstream-nexmark-"))
    print("==> starting a Kafka broker (state in a temporary directory)", flush=True)
    broker = localkafka.up(port=0, state_dir=work / "kafka", heap="1g")
    params = CHECK_PARAMS if args.check else ref.Params(auction_ms=ref.auction_length(args.rate))
    ctx = eng.Context(bootstrap=broker.bootstrap, work=work, params=params)
    engines: dict[str, eng.Engine] = {}
    try:
        engines = available([e.strip() for e in args.engines.split(",") if e.strip()], ctx)
        if args.check:
            rate = CHECK_RATE
            print(f"==> checking {args.events:,} events at {rate:.0f} events/s", flush=True)
            failures = check(engines, args.queries, broker.bootstrap, args.events, rate)
            for f in failures:
                print(f"DIFFERS: {f}")
            return 1 if failures else 0
        topics = Topics.with_suffix(f"-{uuid.uuid4().hex[:6]}")
        filled = fill(broker.bootstrap, topics, args.events, rate=args.rate, partitions=PARTITIONS)
        print(
            f"==> filled {filled.events:,} events ({filled.bytes / 2**20:,.0f} MB) in"
            f" {filled.seconds:.2f} s: {filled.events_per_second:,.0f} events/s",
            flush=True,
        )
        if args.profile:
            body = profile(engines, args.queries, broker.bootstrap, topics, filled, work)
            print(body)
            if not args.no_write:
                write_section("nexmark-profile", "python bench/nexmark.py --profile", body)
            return 0
        t0 = time.perf_counter()
        runs = bench(
            engines, args.queries, broker.bootstrap, topics, filled, args.runs, not args.no_warmup
        )
        print(f"==> {len(runs)} runs in {time.perf_counter() - t0:.0f} s", flush=True)
    finally:
        for engine in reversed(list(engines.values())):
            engine.close()
        localkafka.down(work / "kafka")
        shutil.rmtree(work, ignore_errors=True)
    body = report(runs, filled, args, list(engines))
    body += f"\n\nThe whole command (broker, fill, warm-ups, runs) took {fmt_time(started)}."
    print()
    print(body)
    if not args.no_write:
        section = "nexmark-quick" if args.quick else "nexmark"
        command = "python bench/nexmark.py" + (" --quick" if args.quick else "")
        write_section(section, command, body)
        print(f"\nwritten to docs/benchmarks.md (section {section})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
