"""One line per micro-batch per query: what ``sqlstream run`` prints while it runs.

Pure Python over Spark's progress JSON (``StreamingQueryProgress``), so it is tested without a
JVM. How far a query is behind is the sum, over the Kafka partitions it reads, of the latest
offset Spark saw minus the offset the batch ended at.
"""

from __future__ import annotations

import json
import typing as t

from sqlstream.spark.steps import METRIC_MALFORMED


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
    """``{"values": [1], "schema": {"fields": [{"name": "malformed"}]}}`` -> ``{"malformed": 1}``."""
    if not (isinstance(row, dict) and set(row) == {"values", "schema"}):
        return row
    fields = (row.get("schema") or {}).get("fields") if isinstance(row.get("schema"), dict) else None
    values = row.get("values")
    if not isinstance(fields, list) or not isinstance(values, list) or len(fields) != len(values):
        return row
    return {str(f.get("name")) if isinstance(f, dict) else str(f): v for f, v in zip(fields, values)}


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


def malformed(progress: dict[str, t.Any]) -> int | None:
    """Malformed records the batch skipped (or sent to a DLQ), from the observed metrics."""
    metrics = progress.get("observedMetrics") or {}
    counts = [
        int(row.get(METRIC_MALFORMED) or 0)
        for name, row in metrics.items()
        if isinstance(row, dict) and name.endswith("." + METRIC_MALFORMED)
    ]
    return sum(counts) if counts else None


def line(progress: t.Any) -> str:
    """``spend_1  batch 3: 1200 rows, 400.0 rows/s, 850 ms, 0 behind, 2 malformed``."""
    p = as_dict(progress)
    parts = [
        f"{p.get('numInputRows', 0)} rows",
        f"{float(p.get('processedRowsPerSecond') or 0.0):.1f} rows/s",
        f"{(p.get('durationMs') or {}).get('triggerExecution', 0)} ms",
    ]
    behind = lag(p)
    if behind is not None:
        parts.append(f"{behind} behind")
    bad = malformed(p)
    if bad:
        parts.append(f"{bad} malformed")
    return f"{p.get('name') or p.get('id')}  batch {p.get('batchId')}: {', '.join(parts)}"
