"""Malformed records under each ``on_error``, and the command line as a user runs it.

Part 1 runs SQL on the session's SparkSession (``Pipeline``): one input topic with good records,
invalid JSON, a type mismatch, an undecodable key and a tombstone, read with ``skip``, ``dlq`` and
``fail``. Part 2 runs ``sqlstream`` in a subprocess (each starts a JVM, so there are few: a
finite run, a failing run, a SIGTERM) and in-process through click's runner for what needs no
process of its own (``explain``, a query refused before it starts). Part 3 runs the script that
``compile`` writes with ``spark-submit`` and compares its records with those of ``run``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import typing as t
import uuid
from pathlib import Path

import pytest
from cliproc import PROGRESS, RunningCli, finished, summary
from cliproc import env as cli_env
from pipeline import AVAILABLE_NOW, Pipeline

from sqlstream.local import client as kafkaclient
from sqlstream.local.client import Record
from sqlstream.spark import runtime

pytestmark = pytest.mark.e2e

VENV_BIN = Path(sys.executable).parent
ERROR_HEADERS = (
    "sqlstream.error.reason",
    "sqlstream.error.topic",
    "sqlstream.error.partition",
    "sqlstream.error.offset",
    "sqlstream.error.query",
)


def _uid() -> str:
    return uuid.uuid4().hex[:8]


def _read(bootstrap: str, topic: str) -> list[Record]:
    return kafkaclient.consume_all(bootstrap, topic, missing_ok=True)


def _content(records: t.Iterable[Record]) -> list[tuple[t.Any, ...]]:
    """Keys, values and headers, sorted: what two runs must agree on (not offsets)."""
    return sorted(
        ((r.key, r.value, tuple(r.headers)) for r in records),
        key=repr,
    )


# --------------------------------------------------------------------------------------------
# Part 1: malformed records under skip, dlq and fail
# --------------------------------------------------------------------------------------------

GOOD = [
    ("1", json.dumps({"id": "a", "amount": 1.5}), [("trace", "t-a")], 0),
    ("6", json.dumps({"id": "f", "amount": 6.0}), None, 1),
    # A missing field is not malformed: it is NULL.
    ("7", json.dumps({"id": "g"}), [("trace", "t-g"), ("empty", None)], 1),
]
BAD = {
    # name: (key, value, headers, partition)
    "invalid json": ("2", "not json {", [("trace", "t-b"), ("trace", "dup"), ("nil", None)], 0),
    "type mismatch": ("3", json.dumps({"id": "c", "amount": "abc"}), None, 1),
    "undecodable key": ("x", json.dumps({"id": "d", "amount": 4.0}), [("trace", "t-d")], 0),
}
TOMBSTONE = ("5", None, [("trace", "t-e")], 1)
JSON_NULL = ("8", "null", None, 0)  # for format json, the JSON text null is a tombstone too

EXPECTED_GOOD_VALUES = {
    b'{"k":1,"id":"a","amount":1.5}',
    b'{"k":6,"id":"f","amount":6.0}',
    b'{"k":7,"id":"g","amount":null}',
}


def _malformed_sql(
    src_topic: str, out_topic: str, on_error: str, dlq_topic: str | None = None
) -> str:
    dlq = f", dlq_topic = '{dlq_topic}'" if dlq_topic else ""
    # No HEADER column: the DLQ must still carry the original headers.
    return f"""
CREATE STREAM src (
    id     STRING,
    k      INT KEY,
    amount DOUBLE
) FROM KAFKA (topic = '{src_topic}', starting_offsets = 'earliest', on_error = '{on_error}'{dlq});

INSERT INTO KAFKA TOPIC '{out_topic}' KEY k WITH (name = 'q_{on_error}')
SELECT k, id, amount FROM src;
"""


@pytest.fixture(scope="module")
def malformed_input(kafka_bootstrap: str) -> dict[str, t.Any]:
    """The input topic (2 partitions) and every record as the broker stored it."""
    topic = f"malformed-{_uid()}"
    kafkaclient.create_topic(kafka_bootstrap, topic, partitions=2)
    records = [
        *GOOD[:1],
        BAD["invalid json"],
        BAD["type mismatch"],
        TOMBSTONE,
        BAD["undecodable key"],
        *GOOD[1:],
        JSON_NULL,
    ]
    kafkaclient.produce(kafka_bootstrap, topic, records)
    stored = kafkaclient.consume_all(kafka_bootstrap, topic)
    assert len(stored) == len(records)

    def find(value: str | None, key: str) -> Record:
        want = value.encode() if value is not None else None
        (hit,) = [r for r in stored if r.value == want and r.key == key.encode()]
        return hit

    return {
        "topic": topic,
        "stored": stored,
        "bad": {name: find(v[1], v[0]) for name, v in BAD.items()},
        "good": [find(v[1], v[0]) for v in GOOD],
        "tombstone": find(None, TOMBSTONE[0]),
    }


def _malformed_counts(queries: t.Sequence[t.Any], name: str) -> int:
    q = next(q for q in queries if q.name == name)
    total = 0
    for p in q.recentProgress:
        metrics = p.observedMetrics or {}
        counts = metrics.get("src.counts")
        if counts is not None:
            total += int(counts["skipped"] if "skipped" in counts else counts["dlq"])
    return total


def test_skip_drops_malformed_records_and_counts_them(
    kafka_bootstrap: str, spark: t.Any, malformed_input: dict[str, t.Any], tmp_path: Path
) -> None:
    out = f"skip-out-{_uid()}"
    pipe = Pipeline.create(
        tmp_path, kafka_bootstrap, _malformed_sql(malformed_input["topic"], out, "skip")
    )

    queries = pipe.run(spark)

    assert [q.name for q in queries] == ["q_skip"]
    got = _read(kafka_bootstrap, out)
    assert {r.value for r in got} == EXPECTED_GOOD_VALUES
    assert sorted(r.key or b"" for r in got) == [b"1", b"6", b"7"]
    # invalid JSON, type mismatch, undecodable key; tombstones are not malformed.
    assert _malformed_counts(queries, "q_skip") == 3
    last = queries[0].lastProgress
    assert "src.counts" in (last.observedMetrics or {})


def test_dlq_keeps_original_bytes_and_adds_error_headers(
    kafka_bootstrap: str, spark: t.Any, malformed_input: dict[str, t.Any], tmp_path: Path
) -> None:
    out, dlq = f"dlq-out-{_uid()}", f"dlq-dlq-{_uid()}"
    src_topic = malformed_input["topic"]
    pipe = Pipeline.create(tmp_path, kafka_bootstrap, _malformed_sql(src_topic, out, "dlq", dlq))

    queries = pipe.run(spark)

    assert sorted(q.name for q in queries) == ["q_dlq", "src_dlq"]
    good = _read(kafka_bootstrap, out)
    assert {r.value for r in good} == EXPECTED_GOOD_VALUES
    dead = _read(kafka_bootstrap, dlq)
    assert len(dead) == len(BAD)
    # Nothing lost, nothing twice: good + DLQ = every record but the two tombstones.
    assert len(good) + len(dead) == len(malformed_input["stored"]) - 2

    by_value = {r.value: r for r in dead}
    expected_reason = {
        "invalid json": ("json",),
        "type mismatch": ("amount", '"abc"', "DOUBLE"),
        "undecodable key": ("key", '"x"', "INT"),
    }
    for name, original in malformed_input["bad"].items():
        record = by_value.get(original.value)
        assert record is not None, f"{name} is not in the DLQ"
        assert record.key == original.key
        n = len(original.headers)
        assert record.headers[:n] == original.headers, name
        added = record.headers[n:]
        assert [k for k, _ in added] == list(ERROR_HEADERS), name
        values = {k: (v or b"").decode() for k, v in added}
        reason = values["sqlstream.error.reason"]
        assert reason.strip(), name
        for word in expected_reason[name]:
            assert word.lower() in reason.lower(), (name, reason)
        assert values["sqlstream.error.topic"] == src_topic
        assert values["sqlstream.error.partition"] == str(original.partition)
        assert values["sqlstream.error.offset"] == str(original.offset)
        assert values["sqlstream.error.query"] == "src_dlq"
    # The null-valued original header stays a header with a null value.
    json_bad = by_value[malformed_input["bad"]["invalid json"].value]
    assert ("nil", None) in json_bad.headers
    assert _malformed_counts(queries, "q_dlq") == 3


def test_fail_stops_the_query_naming_stream_topic_partition_offset(
    kafka_bootstrap: str, spark: t.Any, malformed_input: dict[str, t.Any], tmp_path: Path
) -> None:
    out = f"fail-out-{_uid()}"
    src_topic = malformed_input["topic"]
    pipe = Pipeline.create(tmp_path, kafka_bootstrap, _malformed_sql(src_topic, out, "fail"))
    compiled = pipe.compile()

    queries = runtime.start(
        compiled.plan, spark, compiled.connection(), trigger_override=AVAILABLE_NOW
    )
    try:
        (q,) = queries
        with pytest.raises(Exception) as info:  # noqa: PT011 - StreamingQueryException
            q.awaitTermination(180)
        assert q.exception() is not None
    finally:
        for q in queries:
            if q.isActive:
                q.stop()
    message = runtime.reason(info.value)
    match = re.search(
        rf"malformed record in stream src at {re.escape(src_topic)}/(\d+)@(\d+): (.+)", message
    )
    assert match, message
    at = (int(match.group(1)), int(match.group(2)))
    bad = {(r.partition, r.offset): name for name, r in malformed_input["bad"].items()}
    assert at in bad, (at, bad)
    assert "\tat " not in message


# --------------------------------------------------------------------------------------------
# Part 2: the command line
# --------------------------------------------------------------------------------------------

# The profile's broker is one nobody listens on: every run must use --bootstrap-servers (and the
# script SQLSTREAM_BOOTSTRAP_SERVERS).
UNUSED_BROKER = "127.0.0.1:1"

ORDERS = [
    ("u1", json.dumps({"order_id": "o1", "amount": 10.0}), [("trace", "t1")]),
    ("u2", json.dumps({"order_id": "o2", "amount": 0.5}), None),
    ("u1", "{broken", [("trace", "t-bad"), ("x", None)]),
    ("u3", json.dumps({"order_id": "o3", "amount": 7.25}), [("trace", "t3"), ("trace", "t3b")]),
    ("u2", json.dumps({"order_id": "o4", "amount": 3.0}), [("other", "z")]),
]
EXPECTED_ORDERS_OUT = {
    (
        b"u1",
        b'{"user_id":"u1","order_id":"o1","doubled":20.0,"trace":"t1"}',
        (("trace", b"t1"), ("via", b"sqlstream")),
    ),
    # HEADER('trace') is the last 'trace' header.
    (
        b"u3",
        b'{"user_id":"u3","order_id":"o3","doubled":14.5,"trace":"t3b"}',
        (("trace", b"t3b"), ("via", b"sqlstream")),
    ),
    # No 'trace' header: NULL, written as a header with a null value.
    (
        b"u2",
        b'{"user_id":"u2","order_id":"o4","doubled":6.0,"trace":null}',
        (("trace", None), ("via", b"sqlstream")),
    ),
}

ORDERS_SQL = """
CREATE STREAM orders (
    order_id STRING,
    user_id  STRING KEY,
    amount   DOUBLE,
    trace    STRING HEADER('trace')
) FROM KAFKA (
    topic = '{topic}',
    starting_offsets = 'earliest',
    on_error = 'dlq',
    dlq_topic = '{{{{ var("dlq") }}}}'
);

INSERT INTO KAFKA TOPIC '{{{{ var("out") }}}}'
    KEY user_id
    HEADERS ('trace' = trace, 'via' = 'sqlstream')
    WITH (trigger = '{trigger}', name = 'orders_out')
SELECT user_id, order_id, amount * 2 AS doubled, trace
FROM orders
WHERE amount > 1;
"""


def _sqlstream(
    args: t.Sequence[str], cwd: Path, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return finished(args, cwd, timeout=timeout)


def _vars(out: str, dlq: str) -> str:
    return json.dumps({"out": out, "dlq": dlq})


@pytest.fixture(scope="module")
def orders_project(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, t.Any]:
    """A project over an input topic, run once with ``sqlstream run --trigger available-now``."""
    topic = f"cli-orders-{_uid()}"
    kafkaclient.create_topic(kafka_bootstrap, topic, partitions=2)
    kafkaclient.produce(kafka_bootstrap, topic, ORDERS)
    root = tmp_path_factory.mktemp("cli-project")
    Pipeline.create(root, UNUSED_BROKER, ORDERS_SQL.format(topic=topic, trigger="available_now"))
    out, dlq = f"cli-out-{_uid()}", f"cli-dlq-{_uid()}"
    started = time.monotonic()
    proc = _sqlstream(
        [
            "run",
            "queries",
            "--trigger",
            "available-now",
            "--bootstrap-servers",
            kafka_bootstrap,
            "--vars",
            _vars(out, dlq),
        ],
        cwd=root,
    )
    return {
        "root": root,
        "topic": topic,
        "out": out,
        "dlq": dlq,
        "proc": proc,
        "seconds": time.monotonic() - started,
    }


def test_cli_run_available_now_prints_progress_and_writes_records(
    kafka_bootstrap: str, orders_project: dict[str, t.Any]
) -> None:
    proc = orders_project["proc"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr

    lines = proc.stdout.splitlines()
    assert lines[0] == "started 2 queries: orders_dlq, orders_out", proc.stdout
    progress = [m for m in map(PROGRESS.match, lines) if m]
    assert progress, proc.stdout
    # Nothing else is printed but the summary (tests/e2e/test_record_counts.py reads it).
    assert len(progress) == lines.index("summary:") - 1, proc.stdout
    assert set(summary(lines)) == {"orders_dlq", "orders_out"}, proc.stdout
    for name in ("orders_dlq", "orders_out"):
        mine = [m for m in progress if m["name"] == name]
        batches = [int(m["batch"]) for m in mine]
        # One line per batch: every batch once, in order.
        assert batches == list(range(len(batches))), (name, proc.stdout)
        assert sum(int(m["rows"]) for m in mine) == len(ORDERS), (name, proc.stdout)
        assert mine[-1]["behind"] == "0", proc.stdout
    # The stream's query counts what it dropped (the DLQ query writes it and counts nothing).
    out_lines = [m for m in progress if m["name"] == "orders_out"]
    assert sum(int(m["dlq"] or 0) for m in out_lines) == 1, proc.stdout

    assert _content(_read(kafka_bootstrap, orders_project["out"])) == sorted(
        EXPECTED_ORDERS_OUT, key=repr
    )
    (dead,) = _read(kafka_bootstrap, orders_project["dlq"])
    assert (dead.key, dead.value) == (b"u1", b"{broken")
    assert dead.headers[:2] == [("trace", b"t-bad"), ("x", None)]
    assert (orders_project["root"] / "checkpoints" / "e2e" / "orders_out").is_dir()


def test_cli_run_failure_exits_1_with_sparks_reason_and_no_traceback(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topic = f"cli-fail-{_uid()}"
    kafkaclient.create_topic(kafka_bootstrap, topic, partitions=1)
    kafkaclient.produce(kafka_bootstrap, topic, [ORDERS[0], ORDERS[2], ORDERS[3]])
    sql = ORDERS_SQL.format(topic=topic, trigger="available_now").replace(
        "on_error = 'dlq',\n    dlq_topic = '{{ var(\"dlq\") }}'", "on_error = 'fail'"
    )
    assert "on_error = 'fail'" in sql
    Pipeline.create(tmp_path, UNUSED_BROKER, sql)
    out = f"cli-fail-out-{_uid()}"

    proc = _sqlstream(
        [
            "run",
            "--trigger",
            "available-now",
            "--bootstrap-servers",
            kafka_bootstrap,
            "--vars",
            json.dumps({"out": out}),
        ],
        cwd=tmp_path,
    )

    assert proc.returncode == 1, (proc.stdout, proc.stderr[-3000:])
    assert f"malformed record in stream orders at {topic}/0@1" in proc.stderr, proc.stderr[-3000:]
    # sqlstream's own last words: the reason on one line, then what to do about it; no Java stack.
    error, hint = proc.stderr.strip().splitlines()[-2:]
    assert error.startswith(
        "error: query orders_out failed: [USER_RAISED_EXCEPTION] malformed record"
    ), error
    assert hint.startswith("hint: ") and "on_error" in hint, hint
    assert "\tat org.apache" not in proc.stderr, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    assert "internal error" not in proc.stderr
    # The details are in the log the run named: the query's failure with its Java stack (the
    # log held only the JVM's banner).
    logged = re.search(r"^Spark's log: (\S+)$", proc.stderr, re.MULTILINE)
    assert logged, proc.stderr
    log = (tmp_path / logged.group(1)).read_text()
    assert "query orders_out failed:" in log and "malformed record" in log
    assert "\tat org.apache.spark" in log, log[-3000:]


def _children(pid: int) -> set[int]:
    """Child processes of ``pid`` (Linux /proc), e.g. the JVM that pyspark launched."""
    kids: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids |= {int(x) for x in (task / "children").read_text().split()}
        except OSError:
            pass
    return kids


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_cli_run_stops_cleanly_on_sigterm(kafka_bootstrap: str, tmp_path: Path) -> None:
    import signal

    topic = f"cli-term-{_uid()}"
    kafkaclient.create_topic(kafka_bootstrap, topic, partitions=1)
    kafkaclient.produce(kafka_bootstrap, topic, ORDERS)
    Pipeline.create(tmp_path, UNUSED_BROKER, ORDERS_SQL.format(topic=topic, trigger="1 second"))
    out, dlq = f"cli-term-out-{_uid()}", f"cli-term-dlq-{_uid()}"

    cli = RunningCli.start(
        ["run", "--bootstrap-servers", kafka_bootstrap, "--vars", _vars(out, dlq)],
        tmp_path,
        query="orders_out",
    )
    try:
        cli.wait_for_rows(240)
        lines = cli.lines
        assert any(PROGRESS.match(x) for x in lines), f"no progress: {lines}"
        jvms = _children(cli.proc.pid)
        assert jvms, "no child process (the JVM)"
        rc, stderr = cli.stop(signal.SIGTERM)
    finally:
        cli.kill()
    assert rc == 0, (lines, stderr[-3000:])
    assert "stopping (SIGTERM)" in lines, lines
    # The summary after a stop: o2 is below the WHERE's amount, {broken went to the DLQ.
    assert summary(cli.lines)["orders_out"] == (
        "read 5, written 3, dlq 1, skipped 0, late 0, tombstones 0, filtered 1"
    ), cli.lines
    assert "Traceback" not in stderr
    deadline = time.monotonic() + 60
    while any(_alive(p) for p in jvms) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not any(_alive(p) for p in jvms), "the JVM outlived sqlstream run"
    assert _content(_read(kafka_bootstrap, out)) == sorted(EXPECTED_ORDERS_OUT, key=repr)


@pytest.fixture
def cli_in_process(
    spark_confs_restored: None, monkeypatch: pytest.MonkeyPatch
) -> t.Iterator[t.Any]:
    """click's runner for commands that need Spark but no process of their own.

    ``sqlstream explain`` / ``run`` call ``SparkSession.builder.getOrCreate()``, which returns the
    test session's SparkSession (its JVM is already up) and sets sqlstream's session confs on
    it; they are put back afterwards so other tests see the session as the fixture made it.
    """
    from click.testing import CliRunner

    from sqlstream.cli.main import cli

    runner = CliRunner()

    def invoke(args: t.Sequence[str], cwd: Path) -> t.Any:
        monkeypatch.chdir(cwd)
        return runner.invoke(cli, list(args), catch_exceptions=False)

    yield invoke


def test_cli_explain_prints_sparks_plan_of_each_query(
    kafka_bootstrap: str, spark: t.Any, cli_in_process: t.Any, tmp_path: Path
) -> None:
    Pipeline.create(
        tmp_path, UNUSED_BROKER, ORDERS_SQL.format(topic="explain-in", trigger="available_now")
    )

    result = cli_in_process(
        [
            "explain",
            "queries/q.sql",
            "--bootstrap-servers",
            kafka_bootstrap,
            "--vars",
            _vars("explain-out", "explain-dlq"),
        ],
        tmp_path,
    )

    assert result.exit_code == 0, result.output
    text = result.stdout
    headers = re.findall(r"^== Query (\S+) \((.+)\) ==$", text, re.MULTILINE)
    assert [name for name, _ in headers] == ["orders_dlq", "orders_out"], text
    assert headers[1][1].endswith("q.sql:14"), headers
    for section in (
        "== Parsed Logical Plan ==",
        "== Analyzed Logical Plan ==",
        "== Optimized Logical Plan ==",
        "== Physical Plan ==",
    ):
        assert text.count(section) == 2, (section, text)
    assert "kafka" in text.lower() and "explain-in" in text
    # Spark's streaming explain: every plan is a plan, none an error in its place
    assert "Exception" not in text and "writeStream.start()" not in text, text
    physical = [part.split("== Physical Plan ==")[1] for part in text.split("== Query ")[1:]]
    assert all("StreamingRelation kafka" in plan for plan in physical), physical
    assert not spark.streams.active
    assert not (tmp_path / "checkpoints").exists()


REFUSED_SQL = """
CREATE STREAM clicks (
    user_id STRING KEY,
    page    STRING,
    ts      TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '1' MINUTE
) FROM KAFKA (topic = '{topic}', starting_offsets = 'earliest');

INSERT INTO KAFKA TOPIC '{out}' KEY user_id
SELECT user_id, page FROM clicks;

-- The planner's rules hold, but Spark's analyser checks the types of a function's arguments,
-- which validate does not: explode() of a STRING is refused by Spark when the run starts.
INSERT INTO KAFKA TOPIC '{out}-parts'
SELECT user_id, explode(page) AS part
FROM clicks;
"""


def test_cli_run_refuses_what_spark_refuses_before_any_query_starts(
    kafka_bootstrap: str, spark: t.Any, cli_in_process: t.Any, tmp_path: Path
) -> None:
    topic, out = f"refused-in-{_uid()}", f"refused-out-{_uid()}"
    kafkaclient.create_topic(kafka_bootstrap, topic)
    kafkaclient.produce(
        kafka_bootstrap, topic, [("u1", json.dumps({"page": "/", "ts": "2024-01-01T00:00:00Z"}))]
    )
    Pipeline.create(tmp_path, UNUSED_BROKER, REFUSED_SQL.format(topic=topic, out=out))
    validated = _sqlstream(["validate"], cwd=tmp_path, timeout=60)
    assert validated.returncode == 0, validated.stderr  # the planner lets it through

    result = cli_in_process(
        ["run", "--trigger", "available-now", "--bootstrap-servers", kafka_bootstrap], tmp_path
    )

    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert re.search(r"q\.sql:14: query q_2: .*explode", result.stderr, re.I | re.S), result.stderr
    assert "started" not in result.stdout
    assert not spark.streams.active
    assert not (tmp_path / "checkpoints").exists()
    assert _read(kafka_bootstrap, out) == []  # the valid query did not start either


# --------------------------------------------------------------------------------------------
# Part 3: the compiled script under spark-submit
# --------------------------------------------------------------------------------------------


def test_compiled_script_under_spark_submit_writes_what_run_writes(
    kafka_bootstrap: str, orders_project: dict[str, t.Any], tmp_path: Path
) -> None:
    import pyspark

    from sqlstream.spark import jars

    assert orders_project["proc"].returncode == 0, orders_project["proc"].stderr[-3000:]
    root = orders_project["root"]
    out, dlq = f"submit-out-{_uid()}", f"submit-dlq-{_uid()}"
    target = tmp_path / "target"
    compiled = _sqlstream(
        ["compile", "--vars", _vars(out, dlq), "--target-dir", str(target)], cwd=root, timeout=60
    )
    assert compiled.returncode == 0, compiled.stderr
    script = target / "scripts" / "q.py"
    text = script.read_text()
    assert "trigger(availableNow=True)" in text
    assert kafka_bootstrap not in text and UNUSED_BROKER in text

    spark_submit = Path(pyspark.__file__).parent / "bin" / "spark-submit"
    kafka_jars = ",".join(str(p) for p in jars.spark_kafka_jars(pyspark.__version__))
    env = cli_env(
        SQLSTREAM_BOOTSTRAP_SERVERS=kafka_bootstrap,
        SQLSTREAM_CHECKPOINT_ROOT=str(tmp_path / "checkpoints"),
        SQLSTREAM_SPARK_MASTER="local[2]",
    )
    env.pop("SQLSTREAM_SPARK_JARS", None)
    proc = subprocess.run(
        [
            str(spark_submit),
            "--master",
            "local[2]",
            "--jars",
            kafka_jars,
            "--conf",
            "spark.ui.enabled=false",
            str(script),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "checkpoints" / "e2e" / "orders_out").is_dir()
    by_run = _content(_read(kafka_bootstrap, orders_project["out"]))
    assert by_run == sorted(EXPECTED_ORDERS_OUT, key=repr)
    assert _content(_read(kafka_bootstrap, out)) == by_run
    dlq_by_run = _content(_read(kafka_bootstrap, orders_project["dlq"]))
    assert len(dlq_by_run) == 1
    assert _content(_read(kafka_bootstrap, dlq)) == dlq_by_run
