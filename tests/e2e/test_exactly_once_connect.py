"""``delivery = 'exactly_once'`` on a Spark Connect target: refused before anything starts.

The writer is the driver's Python, and on Spark Connect ``foreachBatch`` runs it on the server
(docs/lowering.md): ``sqlstream run`` says so at the sink's ``delivery``, exit 2, before it
makes a session (so no server is needed to see it: the port below has none).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cliproc import finished

from sqlstream.local import process
from sqlstream.local.client import create_topic

pytestmark = pytest.mark.e2e

SQL = """\
CREATE STREAM events (id BIGINT) FROM KAFKA (topic = 'eos-connect-in');

INSERT INTO KAFKA TOPIC 'eos-connect-out'
WITH (delivery = 'exactly_once')
SELECT id FROM events;
"""


def test_run_refuses_exactly_once_on_spark_connect(kafka_bootstrap: str, tmp_path: Path) -> None:
    create_topic(kafka_bootstrap, "eos-connect-in", partitions=1)  # the preflight needs it
    (tmp_path / "queries").mkdir()
    (tmp_path / "queries" / "q.sql").write_text(SQL)
    (tmp_path / "sqlstream.yml").write_text("name: c\nprofile: c\n")
    (tmp_path / "profiles.yml").write_text(
        f"c:\n  target: dev\n  outputs:\n    dev:\n      bootstrap_servers: '{kafka_bootstrap}'\n"
        f"      spark:\n        remote: 'sc://127.0.0.1:{process.free_port()}'\n"
    )
    proc = finished(["run"], tmp_path, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert (
        "q.sql:4:7: error: query q_1: delivery = 'exactly_once' cannot run on Spark Connect" in out
    )
    assert "hint: " in out and "Traceback" not in out
