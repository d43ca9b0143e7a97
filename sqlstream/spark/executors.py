"""Executors that a run lost, as one progress line each: ``lost executor 1 (127.0.0.1:41689):
worker lost: 127.0.0.1:50105 got disassociated; 1 executor left``.

On a cluster a query outlives a lost worker: Spark runs the lost tasks again on the executors
left, and the batch's progress line only shows it took longer. The user needs to know why, and
how much of the cluster is left (with none, the query waits for a worker to come back).

A ``SparkListener`` cannot be written in PySpark. Spark's public status tracker
(``getExecutorInfos``) lists only live executors by ``host:port``, without their ids or why one
went away; its REST API needs the web UI, which runs are without. So the watch reads the
driver's status store (``SparkContext.statusStore``, the data behind that REST API; a JVM-public
method, Scala-private) through py4j: two cheap calls per poll, the whole list only when the
counts change. Where there is no such store (Spark Connect: no ``SparkContext`` here; another
Spark) the watch reports nothing.
"""

from __future__ import annotations

import contextlib
import threading
import typing as t
from dataclasses import dataclass

DRIVER = "driver"


@dataclass(frozen=True)
class Executor:
    """One executor as the status store keeps it (``v1.ExecutorSummary``)."""

    id: str
    host_port: str
    active: bool
    reason: str | None = None
    """Why it was removed (``removeReason``), when it was."""


def lost_lines(before: t.Iterable[str], executors: t.Sequence[Executor]) -> list[str]:
    """A line per executor that is not active and was not in ``before`` (the ids reported)."""
    left = sum(1 for e in executors if e.active and e.id != DRIVER)
    noun = "executor" if left == 1 else "executors"
    seen = set(before)
    return [
        f"lost executor {e.id} ({e.host_port}): {e.reason or 'no reason given'}; {left} {noun} left"
        for e in executors
        if not e.active and e.id != DRIVER and e.id not in seen
    ]


class Watch:
    """Polled by the run loop: the lines of the executors lost since the last poll."""

    def __init__(self, spark: t.Any) -> None:
        self._store: t.Any = None
        self._counts: tuple[int, int] = (0, 0)
        self._reported: set[str] = set()
        with contextlib.suppress(Exception):  # no SparkContext (Spark Connect) or no store
            self._store = spark.sparkContext._jsc.sc().statusStore()
            self._counts = self._sizes()
            self._reported = {e.id for e in self._executors() if not e.active}

    def news(self) -> list[str]:
        """Lines for the executors lost since the last call; [] when none or unknown."""
        if self._store is None:
            return []
        try:
            counts = self._sizes()
            if counts == self._counts:
                return []
            self._counts = counts
            executors = self._executors()
        except Exception:  # noqa: BLE001 - the JVM may be going away: nothing to report
            return []
        lines = lost_lines(self._reported, executors)
        self._reported |= {e.id for e in executors if not e.active}
        return lines

    def _sizes(self) -> tuple[int, int]:
        """(all executors ever, active ones): a change in either means something to read."""
        return int(self._store.executorList(False).size()), int(
            self._store.executorList(True).size()
        )

    def _executors(self) -> list[Executor]:
        listed = self._store.executorList(False)
        out = []
        for i in range(int(listed.size())):
            e = listed.apply(i)
            reason = e.removeReason()
            out.append(
                Executor(
                    id=str(e.id()),
                    host_port=str(e.hostPort()),
                    active=bool(e.isActive()),
                    reason=str(reason.get()) if reason.isDefined() else None,
                )
            )
        return out


@contextlib.contextmanager
def reported(spark: t.Any, out: t.Callable[[str], t.Any], every: float = 1.0) -> t.Iterator[None]:
    """The lost-executor lines, printed by a thread of their own while the block runs.

    A bounded run writes each query with one blocking batch action (``save``): no loop of ours
    runs meanwhile to poll a ``Watch``, as the streaming run's does, so a thread polls it."""
    watch = Watch(spark)
    done = threading.Event()

    def poll() -> None:
        while not done.wait(every):
            for line in watch.news():
                out(line)

    thread = threading.Thread(target=poll, name="sqlstream-executors", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=every + 5)
        for line in watch.news():
            out(line)
