"""The summary ``sqlstream run`` prints when it ends: per query, what happened to every record.

The runtime adds each progress event once (``Tally.add``), as it prints its line, and once more
after the queries stopped, for the batches that ended meanwhile; ``lines`` is what the CLI shows,
after Ctrl-C / SIGTERM, a finite trigger or a failure alike. Pure Python, tested without a JVM.

For a stateless query every record read is accounted for: read = written + dlq + skipped + late +
tombstones + what the query's own WHERE filtered out; that last part is not observed but is what
remains, and is shown as ``filtered``. A stateful query (aggregation, join, deduplication) writes
one row for many records, so its ``written`` counts results, not records (docs/language.md).
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field

from sqlstream.spark import progress as progress_mod

NOTHING_YET = progress_mod.Counts(written=None, dlq=None, skipped=None, tombstones=None)
"""Before the first batch: only what every batch reports is 0 already."""


@dataclass
class QueryTally:
    """One query's counts so far, and what is needed to read them."""

    name: str
    dlq_of: str | None = None
    """For a dead-letter query: the source whose bad records it writes."""
    counts: progress_mod.Counts = field(default_factory=lambda: NOTHING_YET)
    stateful: bool = False
    seen: set[str] = field(default_factory=set)
    """The progress events already added (by their batch and timestamp)."""
    failed: bool = False


class Tally:
    """Counts per query, summed over the progress events of a run."""

    def __init__(self) -> None:
        self.queries: dict[str, QueryTally] = {}

    def register(self, name: str, dlq_of: str | None = None) -> None:
        """A query of the run, in the order the summary lists them (also one with no batch)."""
        self.queries.setdefault(name, QueryTally(name, dlq_of))

    def add(self, progress: t.Any) -> bool:
        """Add one progress event (a dict or PySpark's object); False when it was added before."""
        p = progress_mod.as_dict(progress)
        name = str(p.get("name") or p.get("id"))
        key = f"{p.get('runId')}/{p.get('batchId')}/{p.get('timestamp')}"
        query = self.queries.setdefault(name, QueryTally(name))
        if key in query.seen:
            return False
        query.seen.add(key)
        query.counts = query.counts + progress_mod.counts(p)
        query.stateful = query.stateful or progress_mod.is_stateful(p)
        return True

    def failed(self, name: str) -> None:
        """The query stopped with an error (its summary line says so)."""
        self.queries.setdefault(name, QueryTally(name)).failed = True

    def lines(self) -> list[str]:
        """``summary:`` and one line per query."""
        if not self.queries:
            return []
        width = max(len(n) for n in self.queries)
        return ["summary:"] + [
            f"  {q.name.ljust(width)}  {_text(q)}" for q in self.queries.values()
        ]


def _text(q: QueryTally) -> str:
    if not q.seen:
        return "failed before its first batch" if q.failed else "no batch ran"
    text = _counted(q)
    return f"{text}; then failed" if q.failed else text


def _counted(q: QueryTally) -> str:
    c = q.counts
    if q.dlq_of is not None:
        return f"{progress_mod.counts_text(c, dlq_query=True)} (dead-letter query of {q.dlq_of})"
    text = progress_mod.counts_text(c)
    if q.stateful:
        return f"{text} (stateful: written counts results, each of many records)"
    rest = remainder(c)
    return f"{text}, filtered {rest}" if rest else text


def remainder(c: progress_mod.Counts) -> int | None:
    """Records of a stateless query neither written nor counted otherwise: those its WHERE left
    out. None when unknown or not positive (a query that writes several rows per record)."""
    if c.written is None:
        return None
    rest = c.read - sum(v or 0 for v in (c.written, c.dlq, c.skipped, c.late, c.tombstones))
    return rest if rest > 0 else None
