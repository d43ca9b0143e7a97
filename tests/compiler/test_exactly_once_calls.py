"""The exactly-once writer's bound on a Kafka call (``_bounded``), without Kafka: librdkafka may
block past the timeout it is given (tests/e2e/test_exactly_once_broker_restart.py has the real
broker restart), so the writer waits for a call in a thread of its own, and no longer than this.
"""

from __future__ import annotations

import threading
import time

import pytest

from sqlstream.spark import exactly_once as eo


def test_a_call_that_returns_gives_its_value() -> None:
    assert eo._bounded(lambda: 42, 5.0) == 42


def test_a_call_that_raises_raises_in_the_callers_thread() -> None:
    def fail() -> None:
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        eo._bounded(fail, 5.0)


def test_a_call_that_blocks_is_left_behind_after_the_bound() -> None:
    release = threading.Event()
    t0 = time.monotonic()
    with pytest.raises(eo._Wedged):
        eo._bounded(release.wait, 0.2)
    assert time.monotonic() - t0 < 5.0
    release.set()


def test_a_batch_is_retried_longer_than_one_call_may_take() -> None:
    """A wedged call is found (CALL_TIMEOUT_S) well before the batch is given up."""
    assert eo.TIMEOUT_S < eo.CALL_TIMEOUT_S < eo.WRITE_TIMEOUT_S / 3
