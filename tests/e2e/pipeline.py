"""Run a SQL project end to end inside the test session: compile it, start it on the session's
SparkSession against the session's broker, wait for the finite trigger to finish.

Shared by the end-to-end tests so each reads as: produce records, run SQL, assert the records.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass
from pathlib import Path

from sqlstream import runtime
from sqlstream.compiler import Compiled, compile_project
from sqlstream.plan import Trigger

AVAILABLE_NOW = Trigger("available_now")


@dataclass
class Pipeline:
    """A temporary sqlstream project: one query file plus sqlstream.yml and profiles.yml."""

    root: Path
    bootstrap: str

    @classmethod
    def create(cls, root: Path, bootstrap: str, sql: str, name: str = "e2e", file: str = "q.sql") -> Pipeline:
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

    def run(self, spark: t.Any, trigger: Trigger | None = AVAILABLE_NOW, timeout: float = 180) -> list[t.Any]:
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
