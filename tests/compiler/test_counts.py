"""Every record counted, without a JVM: the tombstone policy in the plan, the counts of a
progress event, the run's summary. ``tests/e2e/test_record_counts.py`` runs them on Spark and
Kafka."""

from __future__ import annotations

import typing as t
from pathlib import Path

from sqlstream.compiler.facade import compile_project
from sqlstream.compiler.plan import Plan
from sqlstream.spark import progress
from sqlstream.spark.summary import Tally


def plan_of(tmp_path: Path, sql: str) -> Plan:
    (tmp_path / "queries").mkdir()
    (tmp_path / "sqlstream.yml").write_text("name: p\n")
    (tmp_path / "queries" / "q.sql").write_text(sql)
    return compile_project([str(tmp_path / "queries" / "q.sql")]).plan


def test_tombstones_to_the_dlq_need_no_on_error_dlq(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        """
CREATE STREAM s (a INT) FROM KAFKA (topic = 't', on_error = 'skip', on_tombstone = 'dlq',
                                    dlq_topic = 't.DLT');
INSERT INTO KAFKA TOPIC 'out' SELECT a FROM s;
""",
    )
    src = plan.source("s")
    assert (src.on_error, src.on_tombstone, src.dlq_topic) == ("skip", "dlq", "t.DLT")
    assert src.dlq_filter == "`__sqlstream_is_tombstone`"  # malformed records are skipped
    assert src.read_options["includeHeaders"] == "true"  # the DLQ record keeps them


def test_the_default_skips_tombstones_and_has_no_dlq(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        """
CREATE STREAM s (a INT) FROM KAFKA (topic = 't', on_error = 'skip');
INSERT INTO KAFKA TOPIC 'out' SELECT a FROM s;
""",
    )
    src = plan.source("s")
    assert src.on_tombstone == "skip" and src.dlq_filter is None
    assert src.error_filter is not None and src.error_filter.startswith(
        "NOT `__sqlstream_is_tombstone` AND"
    )


def event(name: str, batch: int, **fields: object) -> dict[str, object]:
    return {
        "id": name,
        "runId": "r",
        "name": name,
        "batchId": batch,
        "timestamp": f"2024-01-01T00:00:0{batch}.000Z",
        **fields,
    }


def test_counts_of_an_empty_batch_are_zero_not_unknown() -> None:
    c = progress.counts(event("q", 0, numInputRows=0, sink={"numOutputRows": 0}))
    assert c == progress.Counts(0, 0, 0, 0, 0, 0)
    # Spark's -1 (its sink did not run) on an empty batch: written 0, not left off the line.
    c = progress.counts(event("q", 0, numInputRows=0, sink={"numOutputRows": -1}))
    assert c == progress.Counts(0, 0, 0, 0, 0, 0)
    assert progress.line(event("q", 1, numInputRows=0, sink={"numOutputRows": -1})).startswith(
        "q  batch 1: read 0, written 0, dlq 0, skipped 0, late 0, tombstones 0; "
    )
    # With records read, -1 stays unknown (a sink that does not report).
    c = progress.counts(event("q", 0, numInputRows=5, sink={"numOutputRows": -1}))
    assert c.written is None


def test_the_summary_adds_each_batch_once_and_accounts_for_every_record() -> None:
    tally = Tally()
    tally.register("q_1")
    tally.register("s_dlq", dlq_of="s")
    tally.register("idle")
    first = event(
        "q_1",
        0,
        numInputRows=10,
        sink={"numOutputRows": 5},
        observedMetrics={"s.counts": {"dlq": 2, "tombstones": 1}},
    )
    assert tally.add(first) and not tally.add(dict(first))  # seen once, however often polled
    tally.add(
        event(
            "q_1",
            1,
            numInputRows=4,
            sink={"numOutputRows": 1},
            observedMetrics={"s.counts": {"dlq": 0, "tombstones": 1}},
        )
    )
    tally.add(event("s_dlq", 0, numInputRows=14, sink={"numOutputRows": 3}))
    tally.add(
        event(
            "agg",
            0,
            numInputRows=9,
            sink={"numOutputRows": 1},
            observedMetrics={"s.counts": {"skipped": 1, "tombstones": 0}},
            stateOperators=[{"numRowsDroppedByWatermark": 2}],
        )
    )
    assert tally.lines() == [
        "summary:",
        # 14 read = 6 written + 2 dlq + 2 tombstones + 4 the query's WHERE left out
        "  q_1    read 14, written 6, dlq 2, skipped 0, late 0, tombstones 2, filtered 4",
        "  s_dlq  read 14, written 3 (dead-letter query of s)",
        "  idle   no batch ran",
        "  agg    read 9, written 1, dlq 0, skipped 1, late 2, tombstones 0"
        " (stateful: written counts results, each of many records)",
    ]


def test_the_summary_says_which_query_failed() -> None:
    """A failed query's line says it failed (it said "no batch ran", as of a query that was
    merely idle); a query stopped because another failed keeps its counts."""
    tally = Tally()
    for name in ("early", "late", "other"):
        tally.register(name)
    tally.add(event("late", 0, numInputRows=3, sink={"numOutputRows": 3}))
    tally.add(event("other", 0, numInputRows=2, sink={"numOutputRows": 2}))
    tally.failed("early")
    tally.failed("late")
    assert tally.lines() == [
        "summary:",
        "  early  failed before its first batch",
        "  late   read 3, written 3, late 0; then failed",
        "  other  read 2, written 2, late 0",
    ]


def test_a_trigger_with_no_data_is_an_idle_line_not_a_batch() -> None:
    """While idle, Spark reports a trigger every 10 s under the id of the batch that has not run
    (seen on Spark 4.2: ``1 0`` twice, then batch 1 with its record): printed as a batch, it
    read as batch 1 of 0 records and then batch 1 again. It is an idle line."""
    from types import SimpleNamespace

    from test_codegen import FakeTarget

    from sqlstream.project.connection import Connection
    from sqlstream.spark import runtime

    def ran(batch: int, rows: int, second: int) -> dict[str, t.Any]:
        ms = {"triggerExecution": 5, **({"addBatch": 3} if rows else {})}
        offsets = {"endOffset": {"t": {"0": 9}}, "latestOffset": {"t": {"0": 9}}}
        return {
            **event("q", batch, numInputRows=rows, sink={"numOutputRows": rows}),
            "timestamp": f"2024-01-01T00:00:{second:02d}.000Z",
            "durationMs": ms,
            "sources": [offsets],
        }

    events = [ran(0, 2, 1), ran(1, 0, 11), ran(1, 0, 21), ran(1, 1, 23)]
    query = SimpleNamespace(id="q", recentProgress=events)
    lines: list[str] = []
    printed: dict[str, t.Any] = {}
    tally = Tally()
    tally.register("q")
    connection = Connection.from_target(FakeTarget())
    for _ in range(2):  # the summary prints what is new once more: nothing here
        runtime._print_progress(
            query,  # type: ignore[arg-type]
            printed,
            lines.append,
            connection,
            tally,
        )
    assert [ln.split(";")[0] for ln in lines] == [
        "q  batch 0: read 2, written 2, late 0",
        "q  idle, 0 behind",
        "q  idle, 0 behind",
        "q  batch 1: read 1, written 1, late 0",
    ]
    assert tally.lines()[1] == "  q  read 3, written 3, dlq 0, skipped 0, late 0, tombstones 0"
    # A batch that ran on no data (to move the watermark on) is a batch.
    assert progress.ran_a_batch({"numInputRows": 0, "durationMs": {"addBatch": 4}})
