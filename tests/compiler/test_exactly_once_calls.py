"""The exactly-once writer without Kafka: its bound on a Kafka call (``_bounded``): librdkafka may
block past the timeout it is given (tests/e2e/test_exactly_once_broker_restart.py has the real
broker restart), so the writer waits for a call in a thread of its own, and no longer than this;
and its refusal of a Spark Connect target.
"""

from __future__ import annotations

import threading
import time
import typing as t
from pathlib import Path

import pytest

from sqlstream.compiler.facade import compile_project
from sqlstream.errors import UserErrors
from sqlstream.project.connection import Connection
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


SQL = """\
CREATE STREAM events (id BIGINT) FROM KAFKA (topic = 'in');

INSERT INTO KAFKA TOPIC 'plain' WITH (name = 'plain')
SELECT id FROM events;

INSERT INTO KAFKA TOPIC 'once'
    WITH (name = 'once',
          delivery = 'exactly_once')
SELECT id FROM events;
"""


def _plan(tmp_path: Path) -> t.Any:
    (tmp_path / "queries").mkdir()
    (tmp_path / "sqlstream.yml").write_text("name: p\n")
    (tmp_path / "queries" / "q.sql").write_text(SQL)
    return compile_project([str(tmp_path / "queries")]).plan


def test_an_exactly_once_sink_is_refused_on_spark_connect_at_its_delivery(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    remote = Connection(bootstrap_servers="k:9092", spark_remote="sc://server:15002")
    with pytest.raises(UserErrors) as caught:
        eo.refuse_on_connect(plan, remote)
    (err,) = caught.value.errors
    assert "query once: delivery = 'exactly_once' cannot run on Spark Connect" in str(err)
    assert err.location is not None
    assert (err.location.line, err.location.col) == (8, 11)  # `delivery` of the 'once' sink
    assert "at_least_once" in (err.hint or "")
    eo.refuse_on_connect(plan, remote, query="plain")  # the other query alone may run
    eo.refuse_on_connect(plan, Connection(bootstrap_servers="k:9092"))  # a driver of its own


def test_a_stopping_run_waits_for_a_call_only_a_grace_period() -> None:
    release = threading.Event()
    t0 = time.monotonic()
    with eo.stopping(), pytest.raises(eo._Wedged):
        eo._bounded(release.wait, 600.0)
    assert time.monotonic() - t0 < eo.STOP_GRACE_S + 5.0
    release.set()
    assert eo._bounded(lambda: "after", 1.0) == "after"  # the stop is over: calls as before
