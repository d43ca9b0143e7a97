"""The Flink engine of the Nexmark bench: Flink SQL in a local mini-cluster, Kafka to Kafka.

Apache Flink (PyPI ``apache-flink``) lives in a venv of its own, ``.venv-flink`` (``make
bench-setup``), because pyflink pins its own versions of libraries sqlstream's venv has too. So
this module, imported by the bench in sqlstream's venv, only prepares a job and starts
``flink_job.py`` with that venv's Python; the job runs in the JVM pyflink starts, a local
mini-cluster with parallelism = cores. The Kafka SQL connector's jar comes from Maven, through
the same cache as sqlstream's own jars (``sqlstream.spark.jars``).

Versions: Flink 2.2.x with ``flink-sql-connector-kafka`` 5.0.0-2.2, the newest connector
release, built for Flink 2.2 (a connector names the Flink minor version it is built against).
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import typing as t
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
QUERIES = HERE / "queries" / "flink"
JOB = HERE / "flink_job.py"

FLINK_VERSION = "2.2.1"
CONNECTOR = "org.apache.flink:flink-sql-connector-kafka:5.0.0-2.2"
VENV = Path(os.environ.get("FLINK_VENV", ROOT / ".venv-flink"))
"""The Flink venv; ``FLINK_VENV`` points elsewhere (the Makefile's ``FVENV``)."""

try:  # the bench's shared types, once nexmark10's engines.py is there
    from nexmark.engines import Engine, RunStats  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - a local stub of the same interface

    @dataclasses.dataclass
    class RunStats:  # type: ignore[no-redef]
        events: int
        seconds: float
        cpu_seconds: float | None
        peak_memory: int | None
        """Bytes: the engine JVM's peak resident set."""

    class Engine:  # type: ignore[no-redef]
        name: str

        def run(self, query: str, topics: t.Any, out_topic: str) -> RunStats:
            raise NotImplementedError


def python() -> Path:
    return VENV / "bin" / "python"


def available() -> str | None:
    """None when Flink can run here, else why not (for a skip or an error message)."""
    if not python().is_file():
        return f"no Flink venv at {VENV} (make bench-setup)"
    probe = subprocess.run(
        [str(python()), "-c", "import pyflink.version as v; print(v.__version__)"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        return f"pyflink is not importable in {VENV} (make bench-setup)"
    return None


def connector_jars() -> list[Path]:
    """The Kafka SQL connector (one shaded jar), fetched by Maven once and cached."""
    from sqlstream.spark import jars

    version = CONNECTOR.rsplit(":", 1)[1]
    return jars.resolve([CONNECTOR], f"flink-kafka-{version}")


def query_file(query: str) -> Path:
    path = QUERIES / f"{query}.sql"
    if not path.is_file():
        raise SystemExit(f"no Flink SQL for {query} ({path})")
    return path


def topic_names(topics: t.Any) -> dict[str, str]:
    """``{"person": ..., "auction": ..., "bid": ...}`` from a mapping or an object of three."""
    if isinstance(topics, t.Mapping):
        return {k: str(topics[k]) for k in ("person", "auction", "bid")}
    return {k: str(getattr(topics, k)) for k in ("person", "auction", "bid")}


def job_args(
    query: str, bootstrap: str, topics: t.Any, out_topic: str, *, bounded: bool, parallelism: int
) -> str:
    return json.dumps(
        {
            "query": str(query_file(query)),
            "bootstrap": bootstrap,
            "topics": topic_names(topics),
            "out_topic": out_topic,
            "jars": [str(j) for j in connector_jars()],
            "parallelism": parallelism,
            "bounded": bounded,
        }
    )


@dataclasses.dataclass
class FlinkRun:
    """What one bounded job measured (``flink_job.py``'s last line)."""

    seconds: float
    job_seconds: float
    cpu_seconds: float
    peak_rss_bytes: int


class FlinkEngine(Engine):
    """Runs ``queries/flink/<query>.sql`` over the three topics into ``out_topic``, bounded."""

    name = "flink"

    def __init__(self, bootstrap: str, events: int = 0, parallelism: int | None = None):
        self.bootstrap = bootstrap
        self.events = events
        """Input events in the topics, reported as ``RunStats.events``."""
        self.parallelism = parallelism or os.cpu_count() or 1
        self.last: FlinkRun | None = None

    def run(self, query: str, topics: t.Any, out_topic: str) -> RunStats:
        args = job_args(
            query, self.bootstrap, topics, out_topic, bounded=True, parallelism=self.parallelism
        )
        proc = subprocess.run(
            [str(python()), str(JOB), args],
            capture_output=True,
            text=True,
            check=False,
            cwd=ROOT,
        )
        if proc.returncode != 0:
            raise SystemExit(f"flink {query} failed:\n{flink_error(proc.stderr)}")
        stats = json.loads(proc.stdout.strip().splitlines()[-1])
        self.last = FlinkRun(**stats)
        return RunStats(
            events=self.events,
            seconds=self.last.seconds,
            cpu_seconds=self.last.cpu_seconds,
            peak_memory=self.last.peak_rss_bytes,
        )


def start_unbounded(query: str, bootstrap: str, topics: t.Any, out_topic: str) -> subprocess.Popen:
    """A job reading from the latest offsets until ``stop``; for latency runs."""
    args = job_args(
        query, bootstrap, topics, out_topic, bounded=False, parallelism=os.cpu_count() or 1
    )
    return subprocess.Popen(
        [str(python()), str(JOB), args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        start_new_session=True,  # its own process group: the JVM pyflink starts goes with it
    )


def stop(proc: subprocess.Popen) -> None:
    """End a job started by ``start_unbounded``: its process group (Python and the JVM)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def flink_error(stderr: str) -> str:
    """The cause of a failed job, not its Java stack: the last 'Caused by' or error line."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    causes = [ln for ln in lines if ln.startswith("Caused by:") or "Exception:" in ln]
    return causes[-1] if causes else "\n".join(lines[-5:])


if __name__ == "__main__":  # pragma: no cover - a manual check: python bench/nexmark/flink.py
    sys.exit(0 if available() is None else print(available()) or 1)
