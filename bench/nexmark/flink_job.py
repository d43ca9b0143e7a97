"""One Flink SQL job in a local mini-cluster: the Nexmark sources, one query, a Kafka sink.

Run by bench/nexmark/flink.py with the Python of the Flink venv (``.venv-flink``, made by
``make bench-setup``): pyflink pins its own dependencies, so it does not share sqlstream's venv,
and this script imports nothing of sqlstream. It reads one JSON object of arguments from argv[1]:

- ``query``: the path of a ``queries/flink/qN.sql`` (the sink table and its INSERT);
- ``bootstrap``, ``topics`` (``{"person": ..., "auction": ..., "bid": ...}``), ``out_topic``;
- ``jars``: the Kafka connector's jars; ``parallelism``;
- ``bounded``: true: read from the earliest offsets to the end offsets at start, then stop (a
  throughput run); false: read from the latest offsets until killed (a latency run).

With ``--serve`` instead, it runs one job per JSON line of stdin, one after another in the same
JVM (the throughput runs: ``serve``).

It prints ``ready`` once the job is submitted, and at the end of a bounded job one JSON line
of what the bench measures: the job's seconds (from submitting the INSERT to the job's end),
the CPU seconds of the JVM over the same span, the JVM's peak resident memory, and the job's
net run time as Flink measures it (``JobExecutionResult.getNetRuntime``: from the job's start
on the mini-cluster to its end, leaving out planning the SQL and starting the mini-cluster,
which a new mini-cluster per job pays each time).
"""

from __future__ import annotations

import json
import os
import re
import string
import sys
import time
import typing as t
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Python puts this script's folder first on sys.path, where the bench's own modules would shadow
# the standard library's for pyflink (bench/nexmark/profile.py hides ``profile``, which
# ``cProfile`` imports): this job needs nothing from the folder but its SQL files.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
SOURCES = HERE / "queries" / "flink" / "sources.sql"


def options(pairs: dict[str, str]) -> str:
    """A WITH clause's body: 'key' = 'value', ..."""
    return ", ".join(f"'{k}' = '{v}'" for k, v in pairs.items())


PARAMS = {
    "WATERMARK": "watermark_ms",
    "TUMBLE": "tumble_ms",
    "HOP_SIZE": "hop_size_ms",
    "HOP_SLIDE": "hop_slide_ms",
    "DAY": "day_ms",
    "AUCTION_LENGTH": "auction_ms",
}
"""${X} of the SQL files -> the bench's parameter (milliseconds) it is."""
DEFAULTS = {"watermark_ms": 2000, "tumble_ms": 10_000, "hop_size_ms": 10_000}
DEFAULTS |= {"hop_slide_ms": 2000, "day_ms": 86_400_000, "auction_ms": 334}
UNITS = (("DAY", 86_400_000), ("HOUR", 3_600_000), ("MINUTE", 60_000), ("SECOND", 1000))


def interval(ms: int) -> str:
    """An INTERVAL literal in the largest unit that divides it (a field's precision is 2 digits
    unless given: 90 seconds is INTERVAL '90' SECOND, 120 is INTERVAL '2' MINUTE)."""
    for unit, size in UNITS:
        if ms % size == 0:
            n = ms // size
            return f"INTERVAL '{n}' {unit}" + (f"({len(str(n))})" if n > 99 else "")
    return f"INTERVAL '{ms / 1000}' SECOND"


def source_options(args: dict) -> dict[str, str]:
    common = {
        "connector": "kafka",
        "properties.bootstrap.servers": args["bootstrap"],
        "properties.group.id": f"flink-{args['out_topic']}",
        "format": "json",
        "json.timestamp-format.standard": "ISO-8601",
    }
    if args["bounded"]:
        return common | {
            "scan.startup.mode": "earliest-offset",
            "scan.bounded.mode": "latest-offset",
        }
    return common | {"scan.startup.mode": "latest-offset"}


def sink_options(args: dict) -> dict[str, str]:
    return {
        "connector": "kafka",
        "topic": args["out_topic"],
        "properties.bootstrap.servers": args["bootstrap"],
        "format": "json",
        "json.timestamp-format.standard": "ISO-8601",
        # What Spark's Kafka sink gives too: every record written at least once, no transactions.
        "sink.delivery-guarantee": "at-least-once",
    }


def statements(path: Path, values: dict[str, str]) -> list[str]:
    """The file's statements (split at a ';' that ends a line), comments dropped, ${X} filled."""
    text = string.Template(path.read_text()).substitute(values)
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in re.split(r";\s*$", text, flags=re.MULTILINE) if s.strip()]


def jvm_usage(pid: int) -> tuple[float, int]:
    """CPU seconds (user + system) and peak resident bytes (VmHWM) of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    hwm = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            hwm = int(line.split()[1]) * 1024
    return cpu, hwm


def environment(args: dict) -> t.Any:
    from pyflink.table import EnvironmentSettings, TableEnvironment

    env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    conf = env.get_config()
    conf.set("pipeline.jars", ";".join(Path(j).resolve().as_uri() for j in args["jars"]))
    conf.set("parallelism.default", str(args["parallelism"]))
    conf.set("table.local-time-zone", "UTC")
    conf.set("pipeline.name", f"nexmark-{Path(args['query']).stem}")
    return env


def prepare(env: t.Any, args: dict, query: Path) -> list[str]:
    """Create the source and sink tables and views; the INSERTs left to run."""
    topics = args["topics"]
    values = {
        "SOURCE": options(source_options(args)),
        "SINK": options(sink_options(args)),
        "PERSON_TOPIC": topics["person"],
        "AUCTION_TOPIC": topics["auction"],
        "BID_TOPIC": topics["bid"],
    }
    params = DEFAULTS | (args.get("params") or {})
    values |= {name: interval(int(params[key])) for name, key in PARAMS.items()}
    ddl = statements(SOURCES, values) + statements(query, values)
    inserts = [s for s in ddl if s.upper().startswith("INSERT")]
    for stmt in ddl:
        if stmt not in inserts:
            env.execute_sql(stmt)
    return inserts


def cause(text: str) -> str:
    """The innermost reason of a Java exception's text, not its stack."""
    lines = [
        ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("at ")
    ]
    reasons = [ln for ln in lines if "Exception:" in ln or ln.startswith("Caused by:")]
    return (reasons[-1] if reasons else lines[0] if lines else text)[:1000]


def check(args: dict) -> int:
    """Plan every query of ``args["check"]`` (each in a fresh environment): the planner's
    refusals (an updating result into an append-only sink, say) show here. With ``execute``,
    run each too, bounded, into ``<out_topic>-<query>`` (a development check, one JVM)."""
    failed = 0
    for query in args["check"]:
        try:
            env = environment(args)
            batch = env.create_statement_set()
            stem = Path(query).stem
            for stmt in prepare(
                env, args | {"out_topic": f"{args['out_topic']}-{stem}"}, Path(query)
            ):
                batch.add_insert_sql(stmt)
            batch.explain()
            if args.get("execute"):  # and run it, into <out_topic>-<query>
                batch.execute().wait()
            print(f"ok {stem}", flush=True)
        except Exception as exc:  # noqa: BLE001 - a Py4JJavaError carrying the planner's reason
            failed += 1
            print(f"FAILED {Path(query).stem}: {cause(str(exc))}", flush=True)
    return 1 if failed else 0


def run(args: dict, pid: int) -> dict:
    """One job; with ``bounded``, wait for its end and return what it measured."""
    env = environment(args)
    inserts = prepare(env, args, Path(args["query"]))
    reset_peak(pid)
    cpu0, _ = jvm_usage(pid)
    t0 = time.perf_counter()
    batch = env.create_statement_set()
    for stmt in inserts:
        batch.add_insert_sql(stmt)
    result = batch.execute()
    print("ready", flush=True)
    done = result.get_job_client().get_job_execution_result().result()
    seconds = time.perf_counter() - t0
    cpu1, hwm = jvm_usage(pid)
    return {
        "seconds": seconds,
        "job_seconds": done.get_net_runtime() / 1000,
        "cpu_seconds": cpu1 - cpu0,
        "peak_rss_bytes": hwm,
    }


def reset_peak(pid: int) -> None:
    """Start the JVM's peak resident memory (VmHWM) again from its present size, so that a
    served job's peak is its own, not the largest of the jobs before it (Linux 4.0+)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        pass


def serve(pid: int) -> int:
    """Jobs one after another in this process and its JVM, one JSON line of arguments each on
    stdin, one JSON line of figures (or ``{"error": ...}``) each on stdout: the JVM stays warm
    between jobs, as a Flink cluster does, and as the Spark engines' one SparkSession does."""
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            out = run(json.loads(line), pid)
        except Exception as exc:  # noqa: BLE001 - a Py4JJavaError carrying Flink's reason
            out = {"error": cause(str(exc))}
        print(json.dumps(out), flush=True)
    return 0


def main() -> int:
    if sys.argv[1:] == ["--serve"]:
        from pyflink.java_gateway import get_gateway

        return serve(int(get_gateway().jvm.java.lang.ProcessHandle.current().pid()))
    args = json.loads(sys.argv[1])
    if args.get("check"):
        return check(args)
    from pyflink.java_gateway import get_gateway

    stats = run(args, int(get_gateway().jvm.java.lang.ProcessHandle.current().pid()))
    print(json.dumps(stats), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
