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
import re
import signal
import subprocess
import sys
import typing as t
from pathlib import Path

from nexmark.engines import Engine, EngineMissing, RunStats, count_records

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
QUERIES = HERE / "queries" / "flink"
JOB = HERE / "flink_job.py"

FLINK_VERSION = "2.2.1"
CONNECTOR = "org.apache.flink:flink-sql-connector-kafka:5.0.0-2.2"
VENV = Path(os.environ.get("FLINK_VENV", ROOT / ".venv-flink"))
"""The Flink venv; ``FLINK_VENV`` points elsewhere (the Makefile's ``FVENV``)."""


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
    if probe.stdout.strip() != FLINK_VERSION:
        return f"{VENV} has Flink {probe.stdout.strip()}, not {FLINK_VERSION} (make bench-setup)"
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
    query: str,
    bootstrap: str,
    topics: t.Any,
    out_topic: str,
    *,
    bounded: bool,
    parallelism: int,
    params: t.Any = None,
) -> str:
    """``flink_job.py``'s argument; ``params``: the bench's ``Params`` (window sizes, watermark)."""
    values = dataclasses.asdict(params) if dataclasses.is_dataclass(params) else {}
    return json.dumps(
        {
            "query": str(query_file(query)),
            "bootstrap": bootstrap,
            "topics": topic_names(topics),
            "out_topic": out_topic,
            "jars": [str(j) for j in connector_jars()],
            "parallelism": parallelism,
            "bounded": bounded,
            "params": {k: v or 0 for k, v in values.items() if k.endswith("_ms")},
        }
    )


_READS = re.compile(r"\b(?:FROM|JOIN|TABLE)\s+(person|auction|bid)\b", re.IGNORECASE)


def reads(query: str) -> list[str]:
    """The streams (person, auction, bid) a query's SQL reads."""
    return sorted({m.lower() for m in _READS.findall(query_file(query).read_text())})


@dataclasses.dataclass
class FlinkRun:
    """What one bounded job measured (``flink_job.py``'s last line)."""

    seconds: float
    job_seconds: float
    cpu_seconds: float
    peak_rss_bytes: int


class FlinkEngine(Engine):
    """Runs ``queries/flink/<query>.sql`` over the three topics into ``out_topic``, bounded.

    The jobs run one after another in one process (``flink_job.py --serve``) and its JVM,
    started at the first job and kept to the end of the bench: warm, as the Spark engines' one
    SparkSession is, and as a Flink cluster that runs a user's jobs is.

    ``RunStats``: events = the records of the topics the query reads; seconds = wall clock from
    submitting the job to its end (the mini-cluster's start included: a new one per job, about
    a second on a quiet machine; ``last.job_seconds`` is Flink's own run time without it); CPU
    and peak memory (VmHWM, started again at each job) of the JVM that runs the mini-cluster.
    """

    name = "flink"
    queries = frozenset(p.stem for p in QUERIES.glob("q*.sql")) - {"q12"}
    """q12's processing-time windows never fire in a bounded run (queries/flink/q12.sql)."""
    closes_windows_at_end = True
    """A bounded Flink source ends with the watermark at its maximum: every window still open
    fires at the end of the input, where Spark's available-now run leaves the windows that its
    last watermark has not closed."""

    def __init__(self, ctx: t.Any):
        missing = available()
        if missing is not None:
            raise EngineMissing(missing)
        super().__init__(ctx)
        self.last: FlinkRun | None = None
        self.server: subprocess.Popen | None = None
        self.log = Path(ctx.work) / "flink-serve.log"

    def run(self, query: str, topics: t.Any, out_topic: str) -> RunStats:
        names = topic_names(topics)
        args = job_args(
            query,
            self.ctx.bootstrap,
            topics,
            out_topic,
            bounded=True,
            parallelism=self.ctx.cores,
            params=getattr(self.ctx, "params", None),
        )
        figures = self.submit(args)
        if "error" in figures:
            raise SystemExit(f"flink {query} failed: {figures['error']}")
        self.last = FlinkRun(**figures)
        return RunStats(
            events=sum(count_records(self.ctx.bootstrap, names[k]) for k in reads(query)),
            seconds=self.last.seconds,
            cpu_seconds=self.last.cpu_seconds,
            peak_memory=self.last.peak_rss_bytes,
            output=count_records(self.ctx.bootstrap, out_topic),
        )

    def submit(self, args: str) -> dict:
        """One job on the serving process (started at the first job, kept to the end), its
        figures: the job's last JSON line on stdout (the JVM may print lines of its own)."""
        if self.server is None:
            with open(self.log, "w") as log:
                self.server = subprocess.Popen(
                    [str(python()), str(JOB), "--serve"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=log,
                    text=True,
                    cwd=ROOT,
                    start_new_session=True,  # its own process group: the JVM goes with it
                )
        assert self.server.stdin is not None and self.server.stdout is not None
        self.server.stdin.write(args + "\n")
        self.server.stdin.flush()
        for line in self.server.stdout:
            if line.startswith(('{"seconds"', '{"error"')):
                return t.cast(dict, json.loads(line))
        self.server.wait()
        self.server = None
        return {"error": flink_error(self.log.read_text())}

    def close(self) -> None:
        if self.server is not None:
            assert self.server.stdin is not None
            self.server.stdin.close()
            try:
                self.server.wait(30)
            except subprocess.TimeoutExpired:
                stop(self.server)
            self.server = None


def start_unbounded(
    query: str, bootstrap: str, topics: t.Any, out_topic: str, log: Path
) -> subprocess.Popen:
    """A job reading from the latest offsets until ``stop``, for latency runs; its output and
    errors go to ``log`` (a pipe nobody reads while the job runs could fill and stall it)."""
    args = job_args(
        query, bootstrap, topics, out_topic, bounded=False, parallelism=os.cpu_count() or 1
    )
    with open(log, "w") as out:
        return subprocess.Popen(
            [str(python()), str(JOB), args],
            stdout=out,
            stderr=subprocess.STDOUT,
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
    why = available()
    print(why or f"Flink {FLINK_VERSION} in {VENV}; connector {connector_jars()[0]}")
    sys.exit(1 if why else 0)
