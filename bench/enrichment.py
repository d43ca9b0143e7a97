"""Enrichment: a stream joined to a Kafka table, against the same pipeline without the join.

Run: python bench/enrichment.py [--records N] [--products K] [--runs R] [--quick]. Prints the
figures and writes them to docs/benchmarks.md (section "enrichment"); ``--no-write`` only prints.

One broker, one SparkSession (``runtime.session``, what ``sqlstream run`` builds), two projects
compiled and started with ``runtime.start`` and the available-now trigger:

- ``without the join``: orders decoded and written as JSON;
- ``with a table join``: the same orders ``LEFT JOIN`` a ``CREATE TABLE products ... FROM KAFKA``
  of K products: what a stream-table join costs (the table topic read, the latest record per
  key, a broadcast join), docs/language.md "CREATE TABLE".

Each run reads every order into a fresh output topic with a fresh checkpoint and checks the
counts; the variants alternate after one uncounted warm-up run each. An available-now run is
one micro-batch here, so the table is read once per run: the per-micro-batch cost of a table is
the difference of the two, paid again by every micro-batch of a running query.
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
import typing as t
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import write_section  # noqa: E402
from throughput import fmt_rate, order, produce  # noqa: E402

from sqlstream.compiler.facade import compile_project  # noqa: E402
from sqlstream.compiler.plan import Trigger  # noqa: E402
from sqlstream.local import broker as localkafka  # noqa: E402
from sqlstream.local import client as kafkaclient  # noqa: E402
from sqlstream.spark import runtime  # noqa: E402

ORDERS, PRODUCTS, PARTITIONS = "bench-orders", "bench-products", 4
SOURCES = f"""\
CREATE STREAM orders (order_id STRING, product STRING, amount DOUBLE)
FROM KAFKA (topic = '{ORDERS}', starting_offsets = 'earliest');
CREATE TABLE products (product STRING, category STRING, price DOUBLE, PRIMARY KEY (product))
FROM KAFKA (topic = '{PRODUCTS}');
"""
QUERIES = {
    "without the join": "INSERT INTO KAFKA TOPIC '{{ var('out') }}'\n"
    "SELECT o.order_id, o.product, o.amount FROM orders o;\n",
    "with a table join": "INSERT INTO KAFKA TOPIC '{{ var('out') }}'\n"
    "SELECT o.order_id, o.product, o.amount, p.category, p.price FROM orders o\n"
    "LEFT JOIN products p ON o.product = p.product;\n",
}


@dataclasses.dataclass
class Run:
    variant: str
    seconds: float
    load: float


def _project(work: Path, bootstrap: str, n: int, query: str) -> Path:
    root = work / f"project-{n}"
    (root / "queries").mkdir(parents=True)
    (root / "sqlstream.yml").write_text("name: bench\nprofile: bench\n")
    (root / "profiles.yml").write_text(
        f"bench:\n  target: dev\n  outputs:\n    dev:\n      bootstrap_servers: '{bootstrap}'\n"
    )
    (root / "queries" / "q.sql").write_text(SOURCES + query)
    return root


def _run(spark: t.Any, root: Path, bootstrap: str, work: Path, expected: int, name: str) -> Run:
    out = f"bench-out-{uuid.uuid4().hex[:10]}"
    kafkaclient.create_topic(bootstrap, out, partitions=PARTITIONS)
    compiled = compile_project([str(root / "queries")], vars_override={"out": out})
    connection = dataclasses.replace(
        compiled.connection(bootstrap_override=bootstrap),
        checkpoint_root=str(work / "checkpoints" / uuid.uuid4().hex),
    )
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    (query,) = runtime.start(
        compiled.plan, spark, connection, trigger_override=Trigger("available_now")
    )
    query.awaitTermination()
    seconds = time.perf_counter() - t0
    if query.exception() is not None:
        raise SystemExit(f"{name}: the query failed: {query.exception()}")
    written = len(kafkaclient.consume_all(bootstrap, out, timeout=60))
    kafkaclient.delete_topic(bootstrap, out)
    if written != expected:
        raise SystemExit(f"{name}: wrote {written} records, expected {expected}")
    return Run(name, seconds, load)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=500_000, help="orders (default 500,000)")
    ap.add_argument("--products", type=int, default=10_000, help="table keys (default 10,000)")
    ap.add_argument("--runs", type=int, default=3, help="counted runs per variant (default 3)")
    ap.add_argument("--quick", action="store_true", help="50,000 orders, 1,000 products, 1 run")
    ap.add_argument("--no-write", action="store_true", help="do not write docs/benchmarks.md")
    args = ap.parse_args(argv)
    if args.quick:
        args.records, args.products, args.runs = 50_000, 1_000, 1
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    work = Path(tempfile.mkdtemp(prefix="sqlstream-bench-"))
    broker = localkafka.up(port=0, state_dir=work / "kafka", heap="1g")
    spark = None
    runs: list[Run] = []
    try:
        bootstrap = broker.bootstrap
        for topic in (ORDERS, PRODUCTS):
            kafkaclient.create_topic(bootstrap, topic, partitions=PARTITIONS)
        products = [
            (f"p{i}".encode(), json.dumps({"category": f"c{i % 50}", "price": i / 10}).encode())
            for i in range(args.products)
        ]
        orders = [
            (
                None,
                json.dumps(
                    {"order_id": f"o{i}", "product": f"p{i % args.products}", "amount": 1.5}
                ).encode(),
            )
            for i in range(args.records)
        ]
        produce(bootstrap, PRODUCTS, products, PARTITIONS)  # type: ignore[arg-type]
        produce(bootstrap, ORDERS, orders, PARTITIONS)  # type: ignore[arg-type]
        roots = {
            name: _project(work, bootstrap, i, q) for i, (name, q) in enumerate(QUERIES.items())
        }
        compiled = compile_project(
            [str(roots["without the join"] / "queries")], vars_override={"out": "unused"}
        )
        spark = runtime.session(compiled.connection(), "sqlstream-bench")
        for name, root in roots.items():
            r = _run(spark, root, bootstrap, work, args.records, name)
            print(f"    warm-up {name}: {r.seconds:.2f} s, not counted", flush=True)
        for name in order(list(QUERIES), args.runs):
            r = _run(spark, roots[name], bootstrap, work, args.records, name)
            runs.append(r)
            rate = fmt_rate(args.records / r.seconds)
            print(f"    {name:20s} {r.seconds:6.2f} s  {rate:>9s} records/s  load {r.load:.1f}")
    finally:
        if spark is not None:
            spark.stop()
        localkafka.down(work / "kafka")
        shutil.rmtree(work, ignore_errors=True)
    body = report(args, runs)
    print("\n" + body)
    if not args.no_write:
        write_section("enrichment", "python bench/enrichment.py", body)
    return 0


def report(args: argparse.Namespace, runs: list[Run]) -> str:
    by = {v: [r for r in runs if r.variant == v] for v in QUERIES}
    med = {v: statistics.median(args.records / r.seconds for r in rs) for v, rs in by.items()}
    loads = [r.load for r in runs]
    lines = [
        f"Workload: {args.records:,} JSON orders in {PARTITIONS} partitions on a local broker,"
        f" a Kafka table of {args.products:,} products; available-now, one micro-batch per run,"
        f" {args.runs} counted run(s) per variant after a warm-up. Load average during the runs:"
        f" {min(loads):.1f} to {max(loads):.1f} (other jobs shared the machine).",
        "",
        "| what | runs (records/s) | median records/s |",
        "| --- | --- | --- |",
    ]
    for v, rs in by.items():
        rates = ", ".join(fmt_rate(args.records / r.seconds) for r in rs)
        lines.append(f"| {v} | {rates} | **{fmt_rate(med[v])}** |")
    ratio = med["with a table join"] / med["without the join"]
    lines += [
        "",
        f"With the table join the pipeline runs at {ratio:.2f}x the rate without it; a running"
        " query pays the table read again in every micro-batch.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
