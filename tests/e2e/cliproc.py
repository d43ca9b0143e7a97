"""`sqlstream run` as a user runs it: a real process, its progress lines read as they come.

Shared by the end-to-end tests that need a process of its own (signals, exit codes, a JVM that
must end with it).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

SQLSTREAM = Path(sys.executable).parent / "sqlstream"
PROGRESS = re.compile(
    r"^(?P<name>\S+)  batch (?P<batch>\d+): read (?P<rows>\d+)(?:, written (?P<written>\d+))?"
    r"(?:, dlq (?P<dlq>\d+), skipped (?P<skipped>\d+))?(?:, late (?P<late>\d+))?"
    r"(?:, tombstones (?P<tombstones>\d+))?; \d+\.\d rows/s, \d+ ms, (?P<behind>\d+) behind$"
)
"""A progress line; a dead-letter query's shows only read and written."""
SUMMARY = re.compile(r"^  (?P<name>\S+)\s+(?P<text>.+)$")
"""A line of the summary after ``summary:``: the query's name, then its counts."""


def summary(lines: t.Sequence[str]) -> dict[str, str]:
    """The run's summary: query name -> its counts as printed; {} when there is none."""
    if "summary:" not in lines:
        return {}
    after = lines[lines.index("summary:") + 1 :]
    return {m["name"]: m["text"] for m in map(SUMMARY.match, after) if m}


def env(**extra: str) -> dict[str, str]:
    """The test's environment, without anything that would point sqlstream elsewhere."""
    e = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    for key in ("SQLSTREAM_BOOTSTRAP_SERVERS", "SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED"):
        e.pop(key, None)
    e.update(extra)
    return e


def finished(
    args: t.Sequence[str], cwd: Path, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``sqlstream ARGS`` in ``cwd`` as a process, to its end: its exit code and all its output."""
    return subprocess.run(
        [str(SQLSTREAM), *args],
        cwd=cwd,
        env=env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class RunningCli:
    """A ``sqlstream`` process whose stdout lines are collected by a reader thread."""

    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    _wrote: threading.Event = field(default_factory=threading.Event)
    _reader: threading.Thread | None = None
    _stderr: str | None = None

    @classmethod
    def start(cls, args: t.Sequence[str], cwd: Path, query: str) -> RunningCli:
        """Start ``sqlstream ARGS``; ``wait_for_rows`` waits for a batch of ``query`` with rows."""
        proc = subprocess.Popen(
            [str(SQLSTREAM), *args],
            cwd=cwd,
            env=env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        running = cls(proc)

        def read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                running.lines.append(line.rstrip("\n"))
                m = PROGRESS.match(running.lines[-1])
                if m and m["name"] == query and int(m["rows"]) > 0:
                    running._wrote.set()
            running._wrote.set()  # the end of its output: the process exited

        running._reader = threading.Thread(target=read, daemon=True)
        running._reader.start()
        return running

    def wait_for_rows(self, timeout: float) -> None:
        """Until the query wrote a batch with rows; fails if the process ended instead."""
        self._wrote.wait(timeout)
        assert self.proc.poll() is None, (self.proc.returncode, self.lines, self.stderr())

    def stop(self, signal: int, timeout: float = 120) -> tuple[int, str]:
        """Send ``signal``; (exit code, stderr). The process is killed if it does not end."""
        try:
            self.proc.send_signal(signal)
            rc = self.proc.wait(timeout)
        finally:
            self.kill()
        return rc, self.stderr()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self._reader is not None:
            self._reader.join(10)

    def stderr(self) -> str:
        """All it wrote to stderr, once it has ended ("" while it runs)."""
        if self._stderr is None:
            if self.proc.poll() is None or self.proc.stderr is None:
                return ""
            self._stderr = self.proc.stderr.read()
        return self._stderr
