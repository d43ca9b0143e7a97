"""Run a SQL project end to end inside the test session: compile it, start it on the session's
SparkSession against the session's broker, wait for the finite trigger to finish, or (``running``)
keep a non-finite trigger's queries running while the test produces and reads, then stop them.

Shared by the end-to-end tests so each reads as: produce records, run SQL, assert the records.
"""

from __future__ import annotations

import contextlib
import time
import typing as t
from dataclasses import dataclass
from pathlib import Path

from sqlstream.compiler.facade import Compiled, compile_project
from sqlstream.compiler.plan import Trigger
from sqlstream.local import client as kafkaclient
from sqlstream.spark import runtime

AVAILABLE_NOW = Trigger("available_now")


@dataclass
class Pipeline:
    """A temporary sqlstream project: one query file plus sqlstream.yml and profiles.yml."""

    root: Path
    bootstrap: str

    @classmethod
    def create(
        cls, root: Path, bootstrap: str, sql: str, name: str = "e2e", file: str = "q.sql"
    ) -> Pipeline:
        (root / "queries").mkdir(parents=True, exist_ok=True)
        (root / "sqlstream.yml").write_text(f"name: {name}\nprofile: {name}\n")
        (root / "profiles.yml").write_text(
            f"{name}:\n  target: dev\n  outputs:\n    dev:\n"
            f"      bootstrap_servers: '{bootstrap}'\n"
            f"      checkpoint_root: {root / 'checkpoints'}\n"
        )
        (root / "queries" / file).write_text(sql)
        return cls(root, bootstrap)

    def write(self, sql: str, file: str = "q.sql") -> None:
        (self.root / "queries" / file).write_text(sql)

    def compile(self) -> Compiled:
        return compile_project([str(self.root / "queries")])

    def run(
        self, spark: t.Any, trigger: Trigger | None = AVAILABLE_NOW, timeout: float = 180
    ) -> list[t.Any]:
        """Start every query of the project and wait until each has finished; return them."""
        compiled = self.compile()
        connection = compiled.connection()
        queries = runtime.start(compiled.plan, spark, connection, trigger_override=trigger)
        try:
            for q in queries:
                q.awaitTermination(timeout)
            for q in queries:
                if q.exception() is not None:
                    raise AssertionError(f"query {q.name} failed: {q.exception()}")
                assert not q.isActive, f"query {q.name} still running after {timeout} s"
        finally:
            for q in queries:
                if q.isActive:
                    q.stop()
        return queries

    @contextlib.contextmanager
    def running(self, spark: t.Any, trigger: Trigger) -> t.Iterator[list[t.Any]]:
        """Start every query with ``trigger`` (processing time, continuous, real time...), yield
        them while the test produces and waits for output, then stop them.

        A query that failed meanwhile fails the test with its exception, at exit or in
        ``wait_for``.
        """
        compiled = self.compile()
        queries = runtime.start(
            compiled.plan, spark, compiled.connection(), trigger_override=trigger
        )
        try:
            yield queries
            _raise_if_failed(queries)
        finally:
            for q in queries:
                if q.isActive:
                    q.stop()

    def wait_for(
        self, topic: str, count: int, queries: t.Sequence[t.Any] = (), timeout: float = 60
    ) -> list[kafkaclient.Record]:
        """The records of ``topic`` once it holds at least ``count`` (polled until ``timeout``).

        Fails at once if one of ``queries`` failed or ended, rather than waiting the timeout out.
        """
        deadline = time.monotonic() + timeout
        while True:
            got = kafkaclient.consume_all(self.bootstrap, topic, missing_ok=True)
            if len(got) >= count:
                return got
            _raise_if_failed(queries)
            for q in queries:
                assert q.isActive, (
                    f"query {q.name} ended while waiting for {count} records in {topic}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{topic} holds {len(got)} records after {timeout:.0f} s, expected {count}"
                )
            time.sleep(0.5)


def _raise_if_failed(queries: t.Sequence[t.Any]) -> None:
    for q in queries:
        if not q.isActive and q.exception() is not None:
            raise AssertionError(f"query {q.name} failed: {q.exception()}")
