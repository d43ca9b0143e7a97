"""``delivery = 'exactly_once'`` under faults: `sqlstream run` SIGKILLed (driver and JVM at once)
at a random moment, restarted from its checkpoint, for a stateless and a windowed query.

CI sizes: 1,500 records in batches of at most 150, two kills. ``bench/exactly_once.py`` runs the
same harness (``killrun``) with 100,000 records, five kills and both delivery modes. Every record
is read back with ``isolation.level=read_committed``: none lost, none twice, each window once
with its count.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from killrun import Project, run_with_kills

pytestmark = pytest.mark.e2e


def test_no_record_is_lost_or_written_twice_across_kills(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    seed = random.randrange(1_000_000)
    project = Project.create(tmp_path, kafka_bootstrap, "exactly_once", per_batch=150)
    outcome = run_with_kills(
        project, 1500, 2, "exactly_once", rng=random.Random(seed), max_kill_delay=4
    )
    assert outcome.windows_expected == 3
    assert not outcome.failed_runs, outcome.failed_runs  # no run ended but by the kills
    assert outcome.exact, (seed, outcome)
