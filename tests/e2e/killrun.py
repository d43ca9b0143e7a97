"""SIGKILL `sqlstream run` at random moments, restart it from its checkpoint, count the output.

Shared by the exactly-once end-to-end test and ``bench/exactly_once.py`` (the same harness at
the issue's sizes). One project holds a stateless query and a windowed one over the same input
of ``records`` events with unique ids; both write with ``delivery`` (a sqlstream.yml default).
Each kill takes the driver and its JVM at once, as a crashed machine would; a final run is then
left to finish and stopped with SIGTERM. The output is read as a downstream consumer reads it,
``isolation.level=read_committed``, and compared with what the input must give: each id once,
each window once with its count.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
import typing as t
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from cliproc import PROGRESS, RunningCli

from sqlstream.local import client as kafkaclient

WINDOW_S = 10
EVENTS_PER_S = 50
"""Event times advance by 1/EVENTS_PER_S s per record: 500 records per 10-second window."""
BASE_MS = 1_700_000_000_000

SQL = """\
CREATE STREAM events (
    id BIGINT,
    ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) FROM KAFKA (topic = '{input}', max_offsets_per_trigger = {per_batch});

INSERT INTO KAFKA TOPIC '{plain}' WITH (name = 'plain', trigger = '{trigger}')
SELECT id, ts FROM events;

INSERT INTO KAFKA TOPIC '{windows}' WITH (name = 'windows', trigger = '{trigger}')
SELECT window.start AS window_start, count(*) AS n
FROM events
GROUP BY window(ts, '{window} seconds');
"""


@dataclass
class Outcome:
    """What a downstream consumer read, against what the input must give."""

    delivery: str
    kills: int
    records: int
    lost: int
    duplicates: int
    windows_expected: int
    windows_lost: int
    windows_duplicated: int
    windows_wrong: int
    """Windows emitted (once or more) with another count than the input gives."""
    seconds: float
    restarts_seconds: list[float] = field(default_factory=list)
    failed_runs: list[str] = field(default_factory=list)
    """Runs that ended on their own (restarted): their last words."""

    @property
    def exact(self) -> bool:
        return not (
            self.lost
            or self.duplicates
            or self.windows_lost
            or self.windows_duplicated
            or self.windows_wrong
        )


def events(n: int) -> list[tuple[bytes, bytes]]:
    """``n`` events, ids 0..n-1; then one event a window later, which closes the last window."""
    out = []
    for i in range(n + 1):
        ms = BASE_MS + (i * 1000) // EVENTS_PER_S + (2 * WINDOW_S * 1000 if i == n else 0)
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"
        out.append((str(i).encode(), json.dumps({"id": i, "ts": ts}).encode()))
    return out


def expected_windows(n: int) -> Counter[int]:
    """window start (ms) -> records in it, of the ``n`` events (the closing one left out)."""
    return Counter(
        (BASE_MS + (i * 1000) // EVENTS_PER_S) // (WINDOW_S * 1000) * WINDOW_S * 1000
        for i in range(n)
    )


@dataclass
class Project:
    root: Path
    bootstrap: str
    input: str
    plain: str
    windows: str

    @classmethod
    def create(
        cls,
        root: Path,
        bootstrap: str,
        delivery: str,
        *,
        per_batch: int,
        trigger: str = "1 second",
        partitions: int = 2,
    ) -> Project:
        uid = uuid.uuid4().hex[:8]
        p = cls(root, bootstrap, f"eos-in-{uid}", f"eos-plain-{uid}", f"eos-win-{uid}")
        (root / "queries").mkdir(parents=True, exist_ok=True)
        (root / "sqlstream.yml").write_text(
            "name: eos\nprofile: eos\ndefaults:\n  source:\n    starting_offsets: earliest\n"
            f"  sink:\n    delivery: {delivery}\n"
        )
        (root / "profiles.yml").write_text(
            "eos:\n  target: dev\n  outputs:\n    dev:\n"
            f"      bootstrap_servers: '{bootstrap}'\n"
            f"      checkpoint_root: {root / 'checkpoints'}\n"
            "      spark:\n        master: 'local[2]'\n"
            "        conf: {spark.sql.shuffle.partitions: '2', spark.ui.enabled: 'false'}\n"
        )
        sql = SQL.format(
            input=p.input,
            plain=p.plain,
            windows=p.windows,
            per_batch=per_batch,
            trigger=trigger,
            window=WINDOW_S,
        )
        (root / "queries" / "eos.sql").write_text(sql)
        for topic in (p.input, p.plain, p.windows):
            kafkaclient.create_topic(bootstrap, topic, partitions=partitions)
        return p

    def start(self) -> RunningCli:
        return RunningCli.start(
            ["run", "--bootstrap-servers", self.bootstrap], self.root, query="plain"
        )

    def read(self) -> tuple[Counter[int], Counter[tuple[int, int]]]:
        """Ids written by ``plain`` (with their counts), (window start, n) pairs of ``windows``."""
        plain = Counter(
            json.loads(r.value)["id"]
            for r in kafkaclient.consume_all(self.bootstrap, self.plain, timeout=60)
            if r.value
        )
        windows = Counter(
            (_ms(json.loads(r.value)["window_start"]), int(json.loads(r.value)["n"]))
            for r in kafkaclient.consume_all(self.bootstrap, self.windows, timeout=60)
            if r.value
        )
        return plain, windows


def _ms(text: str) -> int:
    import datetime as dt

    when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return int(when.timestamp() * 1000)


def kill_hard(cli: RunningCli) -> None:
    """SIGKILL the driver and every process under it (the JVM) at once: a crashed machine."""
    pids = [cli.proc.pid, *_descendants(cli.proc.pid)]
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    cli.kill()


def _descendants(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids = [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            continue
        for kid in kids:
            out += [kid, *_descendants(kid)]
    return out


def _batches_done(cli: RunningCli) -> int:
    return sum(1 for line in cli.lines if (m := PROGRESS.match(line)) and int(m["rows"]) > 0)


def run_with_kills(
    project: Project,
    records: int,
    kills: int,
    delivery: str,
    *,
    rng: random.Random,
    max_kill_delay: float = 6.0,
    timeout: float = 600,
    log: t.Callable[[str], t.Any] = lambda _: None,
    during_last_run: t.Callable[[], t.Any] | None = None,
) -> Outcome:
    """Produce, then ``kills`` times: start, wait for a batch with rows and a random while
    more, SIGKILL; then a last run until the output is complete (or ``timeout``), during which
    ``during_last_run`` (a broker restart, say) is called at a random moment."""
    kafkaclient.produce(project.bootstrap, project.input, events(records))
    started = time.monotonic()
    restarts: list[float] = []
    for k in range(kills):
        t0 = time.monotonic()
        cli = project.start()
        try:
            cli.wait_for_rows(240)
            restarts.append(time.monotonic() - t0)
            delay = rng.uniform(0, max_kill_delay)
            time.sleep(delay)
            log(f"kill {k + 1}: after {_batches_done(cli)} batches with rows (+{delay:.1f} s)")
        finally:
            kill_hard(cli)
    windows = expected_windows(records)
    cli = project.start()
    failures: list[str] = []
    try:
        if during_last_run is not None:
            cli.wait_for_rows(240)
            time.sleep(rng.uniform(0, max_kill_delay))
            log(f"{during_last_run.__doc__ or 'fault'} after {_batches_done(cli)} batches")
            during_last_run()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if cli.proc.poll() is not None:
                # A run that failed (the broker gone too long) is restarted, as a supervisor
                # would; what it wrote before still counts.
                failures.append(cli.stderr().strip().splitlines()[-1:][0] if cli.stderr() else "")
                log(f"the run ended ({cli.proc.returncode}): {failures[-1][:200]}; restarted")
                assert len(failures) <= 3, failures
                cli = project.start()
            plain, got = project.read()
            if len(plain) >= records and len({w for w, _ in got}) >= len(windows):
                break
            time.sleep(2)
        time.sleep(3)  # a duplicate written late would show in the count below
        cli.stop(signal.SIGTERM)
    finally:
        cli.kill()
    plain, got = project.read()
    starts = Counter(w for w, _ in got)
    return Outcome(
        delivery=delivery,
        kills=kills,
        records=records,
        lost=sum(1 for i in range(records) if plain[i] == 0),
        duplicates=sum(c - 1 for c in plain.values() if c > 1),
        windows_expected=len(windows),
        windows_lost=sum(1 for w in windows if starts[w] == 0),
        windows_duplicated=sum(c - 1 for c in starts.values() if c > 1),
        windows_wrong=sum(1 for (w, n) in got if windows.get(w) != n),
        seconds=time.monotonic() - started,
        restarts_seconds=restarts,
        failed_runs=failures,
    )
