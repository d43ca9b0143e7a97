"""`run` checks its topics before anything starts, and fails in seconds saying why.

Part 1 calls the preflight in-process against real brokers: the session's (auto-create on) and a
second one started here with auto-create off, so that "a missing topic the broker would not
create" is the broker's own behaviour, not an assumption. Part 2 runs `sqlstream run` as a
process: a closed port, too few partitions, and an unknown function Spark refuses (its error at
the user's file and line on the terminal, its Java stack in the run's log file).
"""

from __future__ import annotations

import socket
import subprocess
import typing as t
import uuid
from pathlib import Path

import pytest
from cliproc import finished
from pipeline import Pipeline

from sqlstream.compiler.facade import compile_project
from sqlstream.errors import RunFailure
from sqlstream.kafka import preflight
from sqlstream.kafka.admin import Cluster
from sqlstream.local import client as kafkaclient
from sqlstream.project.clientconfig import client_config

pytestmark = pytest.mark.e2e


def _uid() -> str:
    return uuid.uuid4().hex[:8]


def _source(topic: str) -> str:
    return f"CREATE STREAM events (id BIGINT, action STRING) FROM KAFKA (topic = '{topic}');\n"


def _check(root: Path, bootstrap: str, sql: str) -> list[str]:
    Pipeline.create(root, bootstrap, sql)
    compiled = compile_project([str(root / "queries")])
    return preflight.check(compiled.plan, compiled.connection())


def _cluster(bootstrap: str) -> Cluster:
    return Cluster(client_config(bootstrap, {}))


@pytest.fixture(scope="module")
def strict_broker(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[str]:
    """A second local broker, with ``auto.create.topics.enable=false`` (as managed clusters)."""
    from sqlstream.local import broker as localkafka

    state_dir = tmp_path_factory.mktemp("strict-kafka")
    broker = localkafka.up(
        port=0, state_dir=state_dir, heap="256m", settings={"auto.create.topics.enable": "false"}
    )
    try:
        yield broker.bootstrap
    finally:
        localkafka.down(state_dir)


# --------------------------------------------------------------------------------------------
# Part 1: the preflight on real brokers
# --------------------------------------------------------------------------------------------


def test_a_missing_undeclared_topic_stops_the_run_on_a_broker_without_auto_create(
    strict_broker: str, tmp_path: Path
) -> None:
    source, out = f"in-{_uid()}", f"out-{_uid()}"
    kafkaclient.create_topic(strict_broker, source, partitions=1)
    sql = _source(source) + f"INSERT INTO KAFKA TOPIC '{out}' SELECT id, action FROM events;\n"
    with pytest.raises(RunFailure) as info:
        _check(tmp_path, strict_broker, sql)
    text = str(info.value)
    assert f"topic '{out}', which does not exist on {strict_broker}" in text
    assert "does not create topics on its own" in text
    assert "WITH (partitions = N) on the sink" in text and f"topics create {out}" in text
    assert out not in _cluster(strict_broker).topic_names()


def test_a_missing_dlq_topic_is_declared_on_its_stream(strict_broker: str, tmp_path: Path) -> None:
    source, out, dlq = f"in-{_uid()}", f"out-{_uid()}", f"dlq-{_uid()}"
    for topic in (source, out):
        kafkaclient.create_topic(strict_broker, topic, partitions=1)
    sql = (
        "CREATE STREAM events (id BIGINT, action STRING) FROM KAFKA "
        f"(topic = '{source}', on_error = 'dlq', dlq_topic = '{dlq}');\n"
        f"INSERT INTO KAFKA TOPIC '{out}' SELECT id, action FROM events;\n"
    )
    with pytest.raises(RunFailure) as info:
        _check(tmp_path, strict_broker, sql)
    text = str(info.value)
    assert f"the DLQ of stream events writes to topic '{dlq}', which does not exist" in text
    assert "declare dlq_partitions = N in the stream's FROM KAFKA (...)" in text  # not the sink


def test_a_declared_topic_is_created_with_its_partitions_and_config(
    strict_broker: str, tmp_path: Path
) -> None:
    source, out = f"in-{_uid()}", f"out-{_uid()}"
    kafkaclient.create_topic(strict_broker, source, partitions=1)
    sql = _source(source) + (
        f"INSERT INTO KAFKA TOPIC '{out}' KEY action PARTITION pmod(id, 6)\n"
        "WITH (partitions = 6, replication_factor = 1, 'topic.cleanup.policy' = 'compact')\n"
        "SELECT id, action FROM events;\n"
    )
    notes = _check(tmp_path, strict_broker, sql)
    assert f"created topic '{out}' with 6 partition(s) (cleanup.policy=compact)" in notes
    info = _cluster(strict_broker).describe(out)
    assert len(info.partitions) == 6 and info.configs.get("cleanup.policy") == "compact"
    # The second run finds it: nothing to create, nothing to say about it.
    assert not [n for n in _check(tmp_path / "again", strict_broker, sql) if out in n]


def test_a_partition_clause_on_a_topic_with_too_few_partitions(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    source, out = f"in-{_uid()}", f"out-{_uid()}"
    kafkaclient.create_topic(kafka_bootstrap, source, partitions=1)
    kafkaclient.create_topic(kafka_bootstrap, out, partitions=2)
    sql = _source(source) + (
        f"INSERT INTO KAFKA TOPIC '{out}' PARTITION id % 4 SELECT id, action FROM events;\n"
        f"INSERT INTO KAFKA TOPIC '{out}' PARTITION hash(action) WITH (name = 'q2')\n"
        "SELECT id, action FROM events;\n"
    )
    with pytest.raises(RunFailure) as info:
        _check(tmp_path, kafka_bootstrap, sql)
    (message, hint) = str(info.value).splitlines()
    assert message.endswith(
        f"q.sql:2: query q_1 writes PARTITION id % 4 to topic '{out}', which needs 4 "
        "partitions, but it has 2"
    ), message
    assert "partitions = 4" in hint


def test_an_auto_created_topic_is_checked_against_the_brokers_default(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """The session broker creates missing topics with one partition: too few for PARTITION 1."""
    source, out = f"in-{_uid()}", f"out-{_uid()}"
    kafkaclient.create_topic(kafka_bootstrap, source, partitions=1)
    sql = (
        _source(source)
        + f"INSERT INTO KAFKA TOPIC '{out}' PARTITION 1 SELECT id, action FROM events;\n"
    )
    with pytest.raises(RunFailure) as info:
        _check(tmp_path, kafka_bootstrap, sql)
    assert "needs 2 partitions, but it does not exist and the broker would create it with 1" in str(
        info.value
    )


def test_a_missing_input_stops_the_run_and_creates_nothing(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """Spark's Kafka source fails on a topic that is not there ("This server does not host this
    topic-partition", after the JVM's start): the preflight says so first, and creates none of
    the run's declared outputs for a run that does not start."""
    source, out = f"in-{_uid()}", f"out-{_uid()}"
    sql = _source(source) + (
        f"INSERT INTO KAFKA TOPIC '{out}' WITH (partitions = 2) SELECT id, action FROM events;\n"
    )
    with pytest.raises(RunFailure) as info:
        _check(tmp_path, kafka_bootstrap, sql)
    assert str(info.value).replace(str(tmp_path) + "/", "") == (
        f"stream events (queries/q.sql) reads topic '{source}', which does not exist on"
        f" {kafka_bootstrap}\nhint: Spark's Kafka source fails on a missing topic; check the name"
        f" (`sqlstream topics list`), or create it: `sqlstream topics create {source}"
        " --partitions N`"
    )
    names = _cluster(kafka_bootstrap).topic_names()
    assert source not in names and out not in names  # asking created nothing


def test_a_pattern_matching_nothing_and_unbounded_partitions_are_notes(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    source, out = f"in-{_uid()}", f"out-{_uid()}"
    kafkaclient.create_topic(kafka_bootstrap, source, partitions=1)
    kafkaclient.create_topic(kafka_bootstrap, out, partitions=3)
    sql = (
        _source(source)
        + f"CREATE STREAM any_of (id BIGINT) FROM KAFKA (topic_pattern = 'nothing-{_uid()}-.*');\n"
        + (
            f"INSERT INTO KAFKA TOPIC '{out}' PARTITION CAST(id AS INT) "
            "SELECT id, action FROM events;\n"
        )
        + (
            f"INSERT INTO KAFKA TOPIC '{out}' WITH (name = 'q2') "
            "SELECT id, 'x' AS action FROM any_of;\n"
        )
    )
    notes = _check(tmp_path, kafka_bootstrap, sql)
    text = "\n".join(notes)
    assert "topic_pattern 'nothing-" in text and "matches no topic" in text
    assert (
        f"each value of PARTITION CAST(id AS INT) must be below 3, the partitions of topic '{out}'"
        in text
    )
    assert "does not exist" not in text


# --------------------------------------------------------------------------------------------
# Part 2: `sqlstream run` as a process
# --------------------------------------------------------------------------------------------


def _run(root: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return _sqlstream(root, "run", "queries", *args, timeout=timeout)


def _sqlstream(root: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return finished(args, root, timeout=timeout)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the block ends: nothing listens


@pytest.mark.parametrize(
    "command", [["run", "queries"], ["peek", "--sql", "SELECT id FROM events"]], ids=["run", "peek"]
)
def test_an_unreachable_broker_is_one_line_naming_the_address(
    tmp_path: Path, command: list[str]
) -> None:
    address = f"127.0.0.1:{_closed_port()}"
    Pipeline.create(
        tmp_path,
        address,
        _source("events") + "INSERT INTO KAFKA TOPIC 'o' SELECT id FROM events;\n",
    )
    proc = _sqlstream(tmp_path, *command, timeout=60)  # peek waited on Spark's client for ever
    assert proc.returncode == 1, proc
    assert "started" not in proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert lines[0] == (
        f"error: cannot reach the Kafka broker at {address}: "
        f"Connect to ipv4#{address} failed: Connection refused"
    )
    assert lines[1].startswith("hint: is the broker running")
    assert len(lines) == 2


def test_too_few_partitions_stops_the_run_before_spark(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    source, out = f"in-{_uid()}", f"out-{_uid()}"
    kafkaclient.create_topic(kafka_bootstrap, out, partitions=1)
    Pipeline.create(
        tmp_path,
        kafka_bootstrap,
        _source(source)
        + (f"INSERT INTO KAFKA TOPIC '{out}' PARTITION pmod(id, 3) SELECT id FROM events;\n"),
    )
    proc = _run(tmp_path)
    assert proc.returncode == 1, proc
    assert (
        f"error: queries/q.sql:2: query q_1 writes PARTITION PMOD(id, 3) to topic '{out}'"
        in proc.stderr
    )
    assert "Spark's log" not in proc.stderr  # no JVM was started


def test_a_spark_analysis_error_is_at_the_users_line_and_the_stack_in_the_log(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    source = f"in-{_uid()}"
    kafkaclient.create_topic(kafka_bootstrap, source, partitions=1)
    Pipeline.create(
        tmp_path,
        kafka_bootstrap,
        _source(source)
        + (
            f"\nINSERT INTO KAFKA TOPIC 'out-{_uid()}'\n"
            "SELECT id,\n"
            "       find_in_set(action) AS loud\n"
            "FROM events;\n"
        ),
    )
    proc = _run(tmp_path)
    assert proc.returncode == 2, proc
    # validate cannot know find_in_set's arity (an unknown function, `upperr`, it refuses itself):
    # Spark's analyser does, and its position in the generated SQL is mapped to the user's line.
    head, source_line, caret = proc.stderr.splitlines()[-3:]
    assert head == (
        "queries/q.sql:5:8: error: query q_1: [WRONG_NUM_ARGS.WITHOUT_SUGGESTION] The "
        "`find_in_set` requires 2 parameters but the actual number is 1."
    )
    assert source_line == "   5 |        find_in_set(action) AS loud"
    assert caret.startswith("     |        ^")
    (log_line,) = [ln for ln in proc.stderr.splitlines() if ln.startswith("Spark's log: ")]
    assert (
        "\tat " not in proc.stderr and '{"ts"' not in proc.stderr and "WARNING" not in proc.stderr
    )
    log = tmp_path / log_line.removeprefix("Spark's log: ")
    assert log.parent == tmp_path / ".sqlstream" / "logs"
    text = log.read_text()
    assert "WRONG_NUM_ARGS" in text and "\\tat org.apache.spark" in text  # PySpark's JSON line
