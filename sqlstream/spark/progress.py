"""One line per micro-batch per query: what ``sqlstream run`` prints while it runs.

Pure Python over Spark's progress JSON (``StreamingQueryProgress``), so it is tested without a
JVM. Each line counts what happened to the batch's records (``Counts``): read, written by the
sink, sent to the DLQ, skipped as malformed, dropped as late, tombstones; ``summary`` adds them
up per query. How far a query is behind is the sum, over the Kafka partitions it reads, of the
latest offset Spark saw minus the offset the batch ended at.
"""

from __future__ import annotations

import json
import typing as t
from dataclasses import dataclass, fields

from sqlstream.compiler import lower


def as_dict(progress: t.Any) -> dict[str, t.Any]:
    """A progress event as plain JSON data, whichever PySpark object or dict it came as.

    Spark Connect sends another JSON than a local session's: no query-wide ``numInputRows`` /
    ``inputRowsPerSecond`` / ``processedRowsPerSecond`` (only the sources'), and each observed
    metric as ``{"values": [...], "schema": {...}}``; both are put in the local form.
    """
    if isinstance(progress, str):
        d = json.loads(progress)
    else:
        text = getattr(progress, "json", None)  # a property in PySpark 4, a method before
        if callable(text):
            text = text()
        d = json.loads(text) if isinstance(text, str) else dict(progress)
    return _normalised(t.cast("dict[str, t.Any]", d))


def _normalised(d: dict[str, t.Any]) -> dict[str, t.Any]:
    sources = [s for s in d.get("sources") or [] if isinstance(s, dict)]
    for key in ("numInputRows", "inputRowsPerSecond", "processedRowsPerSecond"):
        if d.get(key) is None and any(s.get(key) is not None for s in sources):
            d[key] = sum(s.get(key) or 0 for s in sources)
    metrics = d.get("observedMetrics")
    if isinstance(metrics, dict):
        d["observedMetrics"] = {name: _row(row) for name, row in metrics.items()}
    return d


def _row(row: t.Any) -> t.Any:
    """``{"values": [1], "schema": {"fields": [{"name": "malformed"}]}}``
    -> ``{"malformed": 1}``."""
    if not (isinstance(row, dict) and set(row) == {"values", "schema"}):
        return row
    fields = (
        (row.get("schema") or {}).get("fields") if isinstance(row.get("schema"), dict) else None
    )
    values = row.get("values")
    if not isinstance(fields, list) or not isinstance(values, list) or len(fields) != len(values):
        return row
    return {
        str(f.get("name")) if isinstance(f, dict) else str(f): v for f, v in zip(fields, values)
    }


def _offsets(value: t.Any) -> dict[str, dict[str, int]] | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if not isinstance(value, dict):
        return None
    out: dict[str, dict[str, int]] = {}
    for topic, parts in value.items():
        if isinstance(parts, dict):
            out[topic] = {str(p): int(o) for p, o in parts.items() if isinstance(o, (int, float))}
    return out


def lag(progress: dict[str, t.Any]) -> int | None:
    """Records between where the batch ended and the latest offsets Spark saw; None if unknown."""
    total, known = 0, False
    for source in progress.get("sources") or []:
        latest = _offsets(source.get("latestOffset"))
        end = _offsets(source.get("endOffset"))
        if latest is None or end is None:
            continue
        known = True
        for topic, parts in latest.items():
            for part, offset in parts.items():
                done = end.get(topic, {}).get(part, 0)
                total += max(0, offset - done)
    return total if known else None


@dataclass(frozen=True)
class Counts:
    """What happened to the records a query read, in one batch or over a run.

    ``None``: Spark did not report it (``written`` of a sink that reports -1; the observed counts
    under continuous and real-time modes, which have no ``observe``).
    """

    read: int = 0
    written: int | None = 0
    dlq: int | None = 0
    """Malformed records sent to the dead-letter topic (tombstones are in ``tombstones``)."""
    skipped: int | None = 0
    """Malformed records dropped (``on_error = 'skip'``)."""
    late: int = 0
    """Rows a state operator dropped as behind the watermark (``numRowsDroppedByWatermark``)."""
    tombstones: int | None = 0
    """Null values, whatever ``on_tombstone`` did with them."""

    def __add__(self, other: Counts) -> Counts:
        summed = {
            f.name: _plus(getattr(self, f.name), getattr(other, f.name)) for f in fields(self)
        }
        return Counts(**t.cast("dict[str, t.Any]", summed))

    def shown(self) -> list[tuple[str, int]]:
        """(label, number) of what is known, in the order of the progress line."""
        return [(f.name, v) for f in fields(self) if (v := getattr(self, f.name)) is not None]


def _plus(a: int | None, b: int | None) -> int | None:
    return None if a is None and b is None else (a or 0) + (b or 0)


_OBSERVED = (lower.COUNT_DLQ, lower.COUNT_SKIPPED, lower.COUNT_TOMBSTONES)


def observed(progress: dict[str, t.Any]) -> dict[str, int]:
    """The sources' counts of the batch (``dlq``, ``skipped``, ``tombstones``), summed by name
    over the query's sources; empty when the query observes none."""
    metrics = progress.get("observedMetrics") or {}
    out: dict[str, int] = {}
    for name, row in metrics.items():
        if not (isinstance(row, dict) and name.endswith("." + lower.METRIC_COUNTS)):
            continue
        for key in _OBSERVED:
            if key in row:
                out[key] = out.get(key, 0) + int(row.get(key) or 0)
    return out


TRANSACTIONAL_METRIC = "transactional"
"""``<query>.transactional``: the rows of a batch handed to the exactly-once writer, counted by
an ``observe`` (``foreachBatch`` reports no ``numOutputRows``: -1)."""


def written(progress: dict[str, t.Any]) -> int | None:
    """Rows the sink wrote: Spark 4.2's Kafka sink reports them (``sink.numOutputRows``), an
    exactly-once sink observes them; -1 or nothing means unknown."""
    rows = (progress.get("sink") or {}).get("numOutputRows")
    if isinstance(rows, (int, float)) and rows >= 0:
        return int(rows)
    for name, row in (progress.get("observedMetrics") or {}).items():
        if isinstance(row, dict) and name.endswith("." + TRANSACTIONAL_METRIC):
            return int(row.get("written") or 0)
    return None


def late(progress: dict[str, t.Any]) -> int:
    """Rows the query's state operators dropped as late; 0 for a stateless query, which drops
    none (Spark filters late rows only in front of state)."""
    return sum(
        int(op.get("numRowsDroppedByWatermark") or 0)
        for op in progress.get("stateOperators") or []
        if isinstance(op, dict)
    )


def counts(progress: t.Any) -> Counts:
    """The batch's counts, from its progress event."""
    p = as_dict(progress)
    seen = observed(p)
    # A batch that read nothing ran no observe: its counts are 0, not unknown; and Spark says
    # -1 for its sink's rows (the sink did not run), where it wrote none.
    metered = bool(seen) or not p.get("numInputRows")
    rows = written(p)
    return Counts(
        read=int(p.get("numInputRows") or 0),
        written=0 if rows is None and not p.get("numInputRows") else rows,
        dlq=seen.get(lower.COUNT_DLQ, 0) if metered else None,
        skipped=seen.get(lower.COUNT_SKIPPED, 0) if metered else None,
        late=late(p),
        tombstones=seen.get(lower.COUNT_TOMBSTONES, 0) if metered else None,
    )


def is_stateful(progress: t.Any) -> bool:
    """Whether the query keeps state (aggregates, joins, deduplication): one output row then
    stands for many records, so read = written + ... does not hold."""
    return bool(as_dict(progress).get("stateOperators"))


def counts_text(c: Counts, *, dlq_query: bool = False) -> str:
    """``read 12, written 8, dlq 1, skipped 0, late 2, tombstones 1``; a dead-letter query reads
    its source's records and writes the bad ones: ``read 12, written 3``."""
    shown = [(k, v) for k, v in c.shown() if not dlq_query or k in ("read", "written")]
    return ", ".join(f"{k} {v}" for k, v in shown)


def line(progress: t.Any, *, dlq_query: bool = False) -> str:
    """``spend_1  batch 3: read 1200, written 40, dlq 0, skipped 2, late 3, tombstones 1;
    400.0 rows/s, 850 ms, 0 behind``."""
    p = as_dict(progress)
    parts = [
        f"{float(p.get('processedRowsPerSecond') or 0.0):.1f} rows/s",
        f"{(p.get('durationMs') or {}).get('triggerExecution', 0)} ms",
    ]
    behind = lag(p)
    if behind is not None:
        parts.append(f"{behind} behind")
    what = counts_text(counts(p), dlq_query=dlq_query)
    return f"{p.get('name') or p.get('id')}  batch {p.get('batchId')}: {what}; {', '.join(parts)}"


def ran_a_batch(progress: t.Any) -> bool:
    """Whether the event is of a batch that ran. While a query finds no new data Spark reports
    its trigger every 10 s (``noDataProgressEventInterval``) under the id of the batch that has
    not run yet, with no ``addBatch`` time: printed as that batch, it read as a batch of 0 and
    then the same batch again when the data came."""
    p = as_dict(progress)
    return bool(p.get("numInputRows")) or "addBatch" in (p.get("durationMs") or {})


def idle_line(progress: t.Any) -> str:
    """``spend_1  idle, 0 behind``: a trigger that found no new data."""
    p = as_dict(progress)
    behind = lag(p)
    tail = f", {behind} behind" if behind is not None else ""
    return f"{p.get('name') or p.get('id')}  idle{tail}"
