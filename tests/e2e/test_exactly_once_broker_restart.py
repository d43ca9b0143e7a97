"""``delivery = 'exactly_once'`` across a broker restart in the middle of a run.

After a restart, librdkafka may keep waiting on the group coordinator it had cached, past the
timeout it was given (``send_offsets_to_transaction``): before the fix the query stopped for
more than 10 minutes. Now a batch ends in progress once the broker is back, or in one clear
failure line (a run the harness then restarts, as a supervisor would). A broker of the test's
own, because it is stopped and started again (same port, same data); 1,500 records in batches
of at most 150, read back with ``isolation.level=read_committed``: none lost, none twice.
"""

from __future__ import annotations

import random
import typing as t
from pathlib import Path

import pytest
from killrun import Project, run_with_kills

pytestmark = pytest.mark.e2e


@pytest.fixture
def own_broker(tmp_path: Path) -> t.Iterator[t.Any]:
    from sqlstream.local import broker as localkafka

    state_dir = tmp_path / "kafka"
    broker = localkafka.up(port=0, state_dir=state_dir)
    try:
        yield broker
    finally:
        localkafka.down(state_dir)


def test_a_broker_restart_loses_and_duplicates_nothing(own_broker: t.Any, tmp_path: Path) -> None:
    from sqlstream.local import broker as localkafka

    def restart() -> None:
        """a broker restart"""
        localkafka.down(own_broker.state_dir)
        localkafka.up(port=own_broker.port, state_dir=own_broker.state_dir)

    seed = random.randrange(1_000_000)
    project = Project.create(
        tmp_path / "project", own_broker.bootstrap, "exactly_once", per_batch=150
    )
    outcome = run_with_kills(
        project,
        1500,
        0,
        "exactly_once",
        rng=random.Random(seed),
        max_kill_delay=3,
        timeout=300,
        during_last_run=restart,
    )
    assert outcome.windows_expected == 3
    # A run that failed said why in one line of its own, not a stack.
    assert all("Traceback" not in f and " at " not in f for f in outcome.failed_runs), outcome
    assert outcome.exact, (seed, outcome)
