"""Exactly once into Kafka: faults and cost, `exactly_once` against `at_least_once` delivery.

Run: make bench-exactly-once (or python bench/exactly_once.py [--quick]). Prints the figures and
writes them to docs/benchmarks.md (section "exactly-once"); ``--no-write`` only prints.

1. Faults (``tests/e2e/killrun.py``, the harness of the end-to-end test at the issue's sizes):
   100,000 records into a project with a stateless query and a windowed one, `sqlstream run`
   SIGKILLed (driver and JVM at once) 5 times at random moments while it processes, restarted
   from its checkpoint each time, then left to finish; the output read with
   ``isolation.level=read_committed``: records lost and duplicated, windows lost, duplicated or
   with a wrong count. Once per delivery mode, same input, same seed.
2. Cost: the stateless pipeline of bench/throughput.py, in one SparkSession, the two modes
   alternating (A B, B A, ...) after a warm-up of each, each run reading the whole input with the
   available-now trigger in batches of ``--batch`` records into a fresh topic: records/s, and
   the mean duration of a batch (``triggerExecution``) of each mode; their difference is what a
   transaction adds to a batch.
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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "e2e"))
import killrun  # noqa: E402
import throughput  # noqa: E402
from report import write_section  # noqa: E402

from sqlstream.compiler.facade import compile_project  # noqa: E402
from sqlstream.compiler.plan import Trigger  # noqa: E402
from sqlstream.local import broker as localkafka  # noqa: E402
from sqlstream.local import client as kafkaclient  # noqa: E402
from sqlstream.spark import progress as progress_mod  # noqa: E402
from sqlstream.spark import runtime  # noqa: E402

MODES = ("at_least_once", "exactly_once")
PARTITIONS = 4

COST_SQL = """\
CREATE STREAM events (
    event_id STRING, user_id STRING, action STRING, amount DOUBLE, country STRING,
    event_time TIMESTAMP
) FROM KAFKA (
    topic = '{input}', format = 'json', starting_offsets = 'earliest',
    max_offsets_per_trigger = {batch}
);

INSERT INTO KAFKA TOPIC '{{{{ var('output_topic') }}}}'
    KEY user_id
    WITH (delivery = '{delivery}')
SELECT event_id, user_id, amount, event_time
FROM events
WHERE action = 'purchase' AND amount > 10;
"""


# --- faults ------------------------------------------------------------------------------------


def faults(
    bootstrap: str,
    work: Path,
    records: int,
    kills: int,
    per_batch: int,
    seed: int,
    restart_broker: t.Callable[[], t.Any] | None,
) -> list[killrun.Outcome]:
    outcomes = []
    for mode in MODES:
        root = work / f"faults-{mode}"
        root.mkdir()
        project = killrun.Project.create(root, bootstrap, mode, per_batch=per_batch)
        print(f"faults, {mode}: {records:,} records, {kills} SIGKILLs", flush=True)
        outcome = killrun.run_with_kills(
            project,
            records,
            kills,
            mode,
            rng=random.Random(seed),
            log=lambda s: print("  " + s, flush=True),
            during_last_run=restart_broker,
        )
        print(f"  {outcome}", flush=True)
        outcomes.append(outcome)
    return outcomes


# --- cost --------------------------------------------------------------------------------------


@dataclasses.dataclass
class CostRun:
    mode: str
    seconds: float
    records: int
    batches: int
    batch_ms: list[int]
    load: float

    @property
    def rate(self) -> float:
        return self.records / self.seconds


class Cost:
    def __init__(self, spark: t.Any, bootstrap: str, work: Path, input_topic: str, batch: int):
        self.spark, self.bootstrap, self.work = spark, bootstrap, work
        self.roots = {}
        for mode in MODES:
            root = work / f"cost-{mode}"
            (root / "queries").mkdir(parents=True)
            (root / "sqlstream.yml").write_text("name: bench\nprofile: bench\n")
            (root / "profiles.yml").write_text(
                f"bench:\n  target: dev\n  outputs:\n    dev:\n      bootstrap_servers: "
                f"'{bootstrap}'\n"
            )
            (root / "queries" / "pipeline.sql").write_text(
                COST_SQL.format(input=input_topic, batch=batch, delivery=mode)
            )
            self.roots[mode] = root

    def run(self, mode: str, expected_in: int, expected_out: int) -> CostRun:
        topic = f"bench-eos-out-{uuid.uuid4().hex[:10]}"
        kafkaclient.create_topic(self.bootstrap, topic, partitions=PARTITIONS)
        checkpoint = self.work / "checkpoints" / uuid.uuid4().hex
        compiled = compile_project(
            [str(self.roots[mode] / "queries")], vars_override={"output_topic": topic}
        )
        connection = dataclasses.replace(
            compiled.connection(bootstrap_override=self.bootstrap), checkpoint_root=str(checkpoint)
        )
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        (query,) = runtime.start(
            compiled.plan, self.spark, connection, trigger_override=Trigger("available_now")
        )
        query.awaitTermination()
        seconds = time.perf_counter() - t0
        if query.exception() is not None:
            raise SystemExit(f"{mode}: the query failed: {query.exception()}")
        progress = [progress_mod.as_dict(p) for p in query.recentProgress]
        batch_ms = [
            int((p.get("durationMs") or {}).get("triggerExecution") or 0)
            for p in progress
            if p.get("numInputRows")
        ]
        rows_in = sum(int(p.get("numInputRows") or 0) for p in progress)
        rows_out = len(kafkaclient.consume_all(self.bootstrap, topic, timeout=120))
        kafkaclient.delete_topic(self.bootstrap, topic)
        shutil.rmtree(checkpoint, ignore_errors=True)
        if rows_in != expected_in or rows_out != expected_out:
            raise SystemExit(
                f"{mode}: read {rows_in} (expected {expected_in}), wrote {rows_out}"
                f" (expected {expected_out})"
            )
        return CostRun(mode, seconds, rows_in, len(batch_ms), batch_ms, load)


def cost(
    bootstrap: str, work: Path, records: int, batch: int, runs: int
) -> tuple[list[CostRun], int]:
    input_topic = f"bench-eos-in-{uuid.uuid4().hex[:8]}"
    kafkaclient.create_topic(bootstrap, input_topic, partitions=PARTITIONS)
    data, kept = throughput.records(records)
    throughput.produce(bootstrap, input_topic, data, PARTITIONS)
    bench = Cost(None, bootstrap, work, input_topic, batch)
    # The session `sqlstream run` builds for the project (runtime.session), shared by both modes.
    connection = compile_project(
        [str(bench.roots[MODES[0]] / "queries")], vars_override={"output_topic": "unused"}
    ).connection(bootstrap_override=bootstrap)
    spark = bench.spark = runtime.session(connection, "sqlstream-bench-exactly-once")
    for mode in MODES:  # warm-up, not counted
        bench.run(mode, records, kept)
    out = []
    for i in range(runs):
        for mode in MODES if i % 2 == 0 else MODES[::-1]:
            r = bench.run(mode, records, kept)
            print(
                f"  {mode}: {r.rate:,.0f} records/s, {r.batches} batches, mean batch "
                f"{statistics.mean(r.batch_ms):.0f} ms (load {r.load:.1f})",
                flush=True,
            )
            out.append(r)
    spark.stop()
    return out, kept


# --- report ------------------------------------------------------------------------------------


def report(
    outcomes: list[killrun.Outcome],
    runs: list[CostRun],
    args: argparse.Namespace,
    loads: tuple[float, float],
) -> str:
    lines: list[str] = []
    if outcomes:
        lines += fault_lines(outcomes, args)
    if runs:
        lines += cost_lines(runs, args)
    lines += [
        f"The 1-minute load average was {loads[0]:.1f} before and {loads[1]:.1f} after, on"
        f" {os.cpu_count()} cores: other work shared the machine, so the wall times are high;"
        " the two modes ran on the same machine at the same time (alternating), and the ratio"
        " is the figure to read.",
    ]
    return "\n".join(lines) + "\n"


def fault_lines(outcomes: list[killrun.Outcome], args: argparse.Namespace) -> list[str]:
    lines = [
        f"Faults: {args.records:,} records, {args.kills} SIGKILLs of `sqlstream run` (driver and"
        f" JVM at once) at random moments, batches of at most {args.fault_batch:,} records, a"
        " stateless query and a 10-second tumbling-window count in one run, output read with"
        " `isolation.level=read_committed`."
        + (
            " During the last run, the broker is stopped and started again (same port, same data)"
            " at a random moment; a run that fails meanwhile is restarted, as a supervisor would."
            if args.bootstrap is None
            else ""
        ),
        "",
        "| delivery | records lost | records duplicated | windows lost | windows duplicated |"
        " windows with a wrong count | runs failed, restarted | wall time |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for o in outcomes:
        lines.append(
            f"| {o.delivery} | {o.lost} | {o.duplicates} | {o.windows_lost} of"
            f" {o.windows_expected} | {o.windows_duplicated} | {o.windows_wrong} |"
            f" {len(o.failed_runs)} | {o.seconds:.0f} s |"
        )
    return [*lines, ""]


def cost_lines(runs: list[CostRun], args: argparse.Namespace) -> list[str]:
    lines: list[str] = []
    if runs:
        by = {m: [r for r in runs if r.mode == m] for m in MODES}
        rate = {m: statistics.median(r.rate for r in rs) for m, rs in by.items()}
        mean_ms = {m: statistics.mean(ms for r in rs for ms in r.batch_ms) for m, rs in by.items()}
        lines += [
            f"Cost: the stateless pipeline of bench/throughput.py, {args.cost_records:,} records"
            f" in batches of {args.batch:,}, available-now trigger, one SparkSession (local[*]),"
            f" {args.runs} runs per mode alternating after a warm-up of each; median records/s,"
            " mean `triggerExecution` of a batch with rows.",
            "",
            "| delivery | records/s (median) | vs at_least_once | mean batch | added per batch |",
            "| --- | --- | --- | --- | --- |",
        ]
        base = "at_least_once"
        for m in MODES:
            lines.append(
                f"| {m} | {rate[m]:,.0f} | {rate[m] / rate[base]:.2f}x | {mean_ms[m]:.0f} ms |"
                f" {mean_ms[m] - mean_ms[base]:+.0f} ms |"
            )
    return [*lines, ""]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=100_000, help="fault-test records")
    ap.add_argument("--kills", type=int, default=5, help="SIGKILLs per delivery mode")
    ap.add_argument("--fault-batch", type=int, default=5_000, help="fault-test batch size")
    ap.add_argument("--cost-records", type=int, default=200_000, help="cost-test records")
    ap.add_argument("--batch", type=int, default=20_000, help="cost-test batch size")
    ap.add_argument("--runs", type=int, default=3, help="counted cost runs per mode")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--skip-faults", action="store_true")
    ap.add_argument("--skip-cost", action="store_true")
    ap.add_argument("--quick", action="store_true", help="10,000 records, 2 kills, 1 run")
    ap.add_argument("--bootstrap", help="use this broker instead of starting one")
    ap.add_argument("--no-write", action="store_true", help="do not write docs/benchmarks.md")
    args = ap.parse_args(argv)
    if args.quick:
        args.records, args.kills, args.fault_batch = 10_000, 2, 1_000
        args.cost_records, args.batch, args.runs = 40_000, 10_000, 1
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    work = Path(tempfile.mkdtemp(prefix="sqlstream-bench-eos-"))
    broker = None
    bootstrap = args.bootstrap
    if bootstrap is None:
        broker = localkafka.up(port=0, state_dir=work / "kafka")
        bootstrap = broker.bootstrap
    loads = [os.getloadavg()[0]]

    def restart() -> None:
        """a broker restart"""
        assert broker is not None
        localkafka.down(work / "kafka")
        localkafka.up(port=broker.port, state_dir=work / "kafka")

    try:
        outcomes = (
            []
            if args.skip_faults
            else faults(
                bootstrap,
                work,
                args.records,
                args.kills,
                args.fault_batch,
                args.seed,
                restart if broker is not None else None,
            )
        )
        runs = (
            []
            if args.skip_cost
            else cost(bootstrap, work, args.cost_records, args.batch, args.runs)[0]
        )
    finally:
        if broker is not None:
            localkafka.down(work / "kafka")
        shutil.rmtree(work, ignore_errors=True)
    loads.append(os.getloadavg()[0])
    body = report(outcomes, runs, args, (loads[0], loads[1]))
    print("\n" + body)
    if not args.no_write:
        command = "python bench/exactly_once.py" + (" --quick" if args.quick else "")
        write_section("exactly-once", command, body)
        print("written to docs/benchmarks.md (section exactly-once)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
