"""State and checkpoints, as a user meets them: ``sqlstream run`` as a process on the shared
broker, ``sqlstream state list`` over the checkpoints that run wrote, a changed aggregate refused
before anything starts, ``sqlstream state reset --yes``, and the run that then starts.
"""

from __future__ import annotations

import json
import subprocess
import typing as t
import uuid
from pathlib import Path

import pytest
from cliproc import finished
from pipeline import Pipeline

from sqlstream.local.client import consume_all, create_topic, produce

SQL = """
CREATE STREAM payments (
    user_id    STRING,
    amount     BIGINT,
    event_time TIMESTAMP,
    WATERMARK FOR event_time AS event_time - INTERVAL '10' MINUTES
) FROM KAFKA (topic = '{src}', starting_offsets = 'earliest');

INSERT INTO KAFKA TOPIC '{out}'
    WITH (name = 'spend')
SELECT window.start AS window_start, {agg}(amount) AS total
FROM payments
GROUP BY window(event_time, '5 minutes');

INSERT INTO KAFKA TOPIC '{copy}'
    WITH (name = 'big')
SELECT user_id, amount FROM payments WHERE amount > {threshold};
"""


def _event(minute: int, amount: int) -> tuple[None, bytes]:
    value = {"user_id": "u1", "amount": amount, "event_time": f"2020-01-01T10:{minute:02d}:00Z"}
    return (None, json.dumps(value).encode())


def _sqlstream(args: t.Sequence[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return finished(args, cwd, timeout=300)


def _list(root: Path) -> dict[str, dict[str, t.Any]]:
    proc = _sqlstream(["state", "list", "--output", "json"], root)
    assert proc.returncode == 0, proc.stderr
    return {row["query"]: row for row in json.loads(proc.stdout)}


@pytest.fixture
def project(kafka_bootstrap: str, tmp_path: Path) -> dict[str, t.Any]:
    uid = uuid.uuid4().hex[:8]
    names = {"src": f"state-in-{uid}", "out": f"state-out-{uid}", "copy": f"state-big-{uid}"}
    for name in names.values():
        create_topic(kafka_bootstrap, name, partitions=1)
    # 10:22 moves the watermark to 10:12: [10:00, 10:05) is final and written.
    produce(kafka_bootstrap, names["src"], [_event(1, 1), _event(3, 2), _event(22, 8)])
    pipeline = Pipeline.create(
        tmp_path, kafka_bootstrap, SQL.format(**names, agg="sum", threshold=1)
    )
    return {"root": tmp_path, "pipeline": pipeline, **names}


def test_list_refuse_a_changed_aggregate_reset_and_run_again(
    kafka_bootstrap: str, project: dict[str, t.Any]
) -> None:
    root: Path = project["root"]
    first = _sqlstream(["run", "--trigger", "available-now"], root)
    assert first.returncode == 0, first.stderr[-3000:]

    rows = _list(root)
    spend, big = rows["spend"], rows["big"]
    assert spend["exists"] and spend["stateful"] and spend["kind"] == "sink"
    assert spend["last_batch"] is not None and spend["last_batch"] >= 0
    assert spend["offsets"] == {project["src"]: {"0": 3}}
    assert spend["state_bytes"] > 0
    assert spend["path"] == str(root / "checkpoints" / "e2e" / "spend")
    assert big["exists"] and not big["stateful"] and big["state_bytes"] == 0
    assert big["offsets"] == {project["src"]: {"0": 3}}
    assert (root / "checkpoints" / "e2e" / "spend" / "sqlstream-state-shape.json").is_file()

    text = _sqlstream(["state", "list"], root)
    assert text.returncode == 0, text.stderr
    assert f"{project['src']} 0:3" in text.stdout

    # A changed aggregate (and a changed stateless filter): the run refuses before anything
    # starts, naming the query and the change; the stateless change alone would be fine.
    project["pipeline"].write(
        SQL.format(**{k: project[k] for k in ("src", "out", "copy")}, agg="avg", threshold=5)
    )
    refused = _sqlstream(["run", "--trigger", "available-now"], root)
    assert refused.returncode == 2, (refused.stdout, refused.stderr[-3000:])
    assert (
        "query spend cannot resume from its checkpoint: aggregate sum(amount) became avg(amount)"
        " in query spend" in refused.stderr
    ), refused.stderr
    assert "sqlstream state reset spend" in refused.stderr
    assert "WITH (name = 'spend_v2')" in refused.stderr
    assert "big" not in refused.stderr.split("hint:")[0]
    assert "schema" not in refused.stderr.lower()
    assert "started" not in refused.stdout
    assert _list(root)["spend"]["last_batch"] == spend["last_batch"]

    reset = _sqlstream(["state", "reset", "spend", "--yes"], root)
    assert reset.returncode == 0, reset.stderr
    assert reset.stdout.startswith(
        f"deleted {root / 'checkpoints' / 'e2e' / 'spend'} (query spend:"
    )
    assert not (root / "checkpoints" / "e2e" / "spend").exists()
    assert (root / "checkpoints" / "e2e" / "big").is_dir()

    again = _sqlstream(["run", "--trigger", "available-now"], root)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "started 2 queries" in again.stdout
    totals = [json.loads(r.value)["total"] for r in consume_all(kafka_bootstrap, project["out"])]
    assert totals == [3, 1.5]  # the first run's sum, then the new run's average, from offset 0
    assert _list(root)["spend"]["offsets"] == {project["src"]: {"0": 3}}


def test_reset_refuses_an_unknown_query_with_a_did_you_mean(project: dict[str, t.Any]) -> None:
    proc = _sqlstream(["state", "reset", "spnd", "--yes"], project["root"])
    assert proc.returncode == 2
    assert "error: no query named spnd in this project" in proc.stderr
    assert "did you mean spend?" in proc.stderr
