"""Bounded runs (``run --from/--until``): the range, its checks, and the batch description
(no JVM)."""

from __future__ import annotations

import sys
import typing as t
from collections import Counter

import pytest
from test_codegen import FakeTarget, StandIn, fake_pyspark, make_plan

from sqlstream.errors import UserError
from sqlstream.project.connection import Connection
from sqlstream.spark import bounded
from sqlstream.spark import script as codegen
from sqlstream.spark import steps as st

BACKFILL = bounded.parse_range("earliest", '{"orders": {"0": 100}}')


@pytest.fixture
def connection() -> Connection:
    return Connection.from_target(FakeTarget())


# --- --from and --until ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "start, end, kinds",
    [
        (None, '{"t": {"0": 100}}', ("earliest", "offsets")),
        ("2024-05-01T10:00:00Z", "2024-05-01 11:00", ("timestamp", "timestamp")),
        ('{"t": {"0": -2}}', None, ("offsets", "latest")),
        ("EARLIEST", "latest", ("earliest", "latest")),
    ],
)
def test_bounds(start: str | None, end: str | None, kinds: tuple[str, str]) -> None:
    rng = bounded.parse_range(start, end)
    assert (rng.start.kind, rng.end.kind) == kinds


def test_a_timestamp_is_utc_without_a_zone() -> None:
    rng = bounded.parse_range("2024-05-01T10:00:00", "2024-05-01T13:00:00+02:00")
    assert rng.start.ms == 1714557600000
    assert rng.end.ms == rng.start.ms + 3_600_000


@pytest.mark.parametrize(
    "start, end, message",
    [
        ("2024-13-01", None, "--from 2024-13-01: '2024-13-01' is not an ISO timestamp"),
        (None, "yesterday", "--until yesterday: 'yesterday' is not an ISO timestamp"),
        ("latest", None, "--from latest reads nothing"),
        (None, "earliest", "--until earliest reads nothing"),
        ("2024-05-02", "2024-05-01", "--until 2024-05-01 is not after --from 2024-05-02"),
        ('{"t": {"0": 50}}', '{"t": {"0": 10}}', "--until offset 10 of t partition 0 is before"),
        (None, '{"t": {"0": -2}}', "offset -2 of t partition 0 is not an offset"),
        ('{"t": [1, 2]}', None, 'offsets are a JSON object {"topic"'),
        ("{t: 1}", None, "--from: not valid JSON"),
        ("100", None, "a bare number is not a position in every partition"),
    ],
)
def test_bad_bounds_are_one_line(start: str | None, end: str | None, message: str) -> None:
    with pytest.raises(UserError) as info:
        bounded.parse_range(start, end)
    assert message in info.value.message
    assert info.value.location is None and info.value.hint
    assert "\n" not in info.value.message
    refused = message.split()[1]  # the word refused is not offered back (--from latest)
    assert f" {refused}," not in info.value.hint


def test_offsets_of_a_topic_the_run_does_not_read() -> None:
    rng = bounded.parse_range(None, '{"ordres": {"0": 100}}')
    with pytest.raises(UserError) as info:
        bounded.check_range(rng, make_plan())
    assert info.value.message == "--until names topic 'ordres', which no selected query reads"
    assert info.value.hint == "the selected queries read: /clicks-.*/, orders, payments"
    # A topic a pattern source reads is one the run reads.
    bounded.check_range(bounded.parse_range(None, '{"clicks-eu": {"0": 5}}'), make_plan())
    with pytest.raises(UserError):  # ... but not when only another query reads it
        bounded.check_range(rng, make_plan(), "orders_1")


@pytest.mark.parametrize(
    "start, end, partitions, message, hint",
    [
        (
            None,
            '{"orders": {"0": 100}}',
            {"orders": [0, 1, 2]},
            "--until gives offsets of orders partition(s) 0, but the topic has partition(s)"
            " 0, 1, 2",
            "give every partition: 0, 1, 2 (-1 is latest)",
        ),
        (
            '{"orders": {"0": 1, "3": 2}}',
            None,
            {"orders": [0, 1]},
            "--from gives offsets of orders partition(s) 0, 3, but the topic has partition(s) 0, 1",
            "give every partition: 0, 1 (-2 is earliest)",
        ),
        (
            None,
            '{"orders": {"0": 5}}',
            {"orders": None},
            "--until gives offsets of topic 'orders', which does not exist",
            "`sqlstream topics list` shows the topics; check the name",
        ),
    ],
)
def test_offsets_of_every_partition(
    start: str | None,
    end: str | None,
    partitions: dict[str, list[int] | None],
    message: str,
    hint: str,
) -> None:
    """Spark's batch source takes offsets only of every partition of a topic; the run says so
    before Spark starts (it failed after the JVM's start, with Spark's assertion)."""
    rng = bounded.parse_range(start, end)
    assert bounded.offset_topics(rng) == ["orders"]
    with pytest.raises(UserError) as info:
        bounded.check_partitions(rng, partitions)
    assert (info.value.message, info.value.hint) == (message, hint)


def test_offsets_of_every_partition_pass() -> None:
    rng = bounded.parse_range('{"orders": {"1": -2, "0": 3}}', '{"orders": {"0": 9, "1": -1}}')
    bounded.check_partitions(rng, {"orders": [0, 1]})
    bounded.check_partitions(rng, {})  # not checked: the cluster did not say


# --- the batch description --------------------------------------------------------------------


def test_batch_description(connection: Connection) -> None:
    """read instead of readStream, the range instead of the streaming start, write ... save()
    instead of writeStream ... start(), and no checkpoint, trigger or query name anywhere."""
    plan = make_plan()
    plan.sources[0].read_options["maxOffsetsPerTrigger"] = "10"
    steps = bounded.steps(plan, connection=connection, rng=BACKFILL)
    calls = [c for s in steps for chain in s.chains for c in chain.calls]
    names = {c.name for c in calls}
    # The v2 Kafka write, whose observations Spark fills (the v1 one leaves them empty).
    assert st.SetConf(bounded.V1_SOURCES, "avro,csv,json,orc,parquet,text") in steps
    assert {"read", "write", "save"} <= names
    assert not names & {"readStream", "writeStream", "start", "trigger", "outputMode", "queryName"}
    options = [c.args for c in calls if c.name == "option"]
    assert not [o for o in options if o[0] in ("checkpointLocation", "maxOffsetsPerTrigger")]
    orders = next(s for s in steps if isinstance(s, st.ReadSource) and s.name == "orders")
    read = [c.args for c in orders.chains[0].calls if c.name == "option"]
    assert ("startingOffsets", "earliest") in read and (
        "endingOffsets",
        '{"orders":{"0":100}}',
    ) in read
    payments = next(s for s in steps if isinstance(s, st.ReadSource) and s.name == "payments")
    assert ("endingOffsets", "latest") in [c.args for c in payments.chains[0].calls]
    saves = [s for s in steps if isinstance(s, bounded.SaveQuery)]
    assert [(s.name, s.kind) for s in saves] == [
        ("payments_dlq", "dlq"),
        ("orders_1", "sink"),
        ("clicks_1", "sink"),
    ]
    assert all(
        s.chains[1].calls[-2:] == (st.call("mode", "append"), st.call("save")) for s in saves
    )
    # Every query and every source is counted with an Observation.
    observed = [a.name for c in calls for a in c.args if isinstance(a, st.Observed)]
    assert Counter(observed) == Counter(
        [
            "orders.counts",
            "clicks.counts",
            "payments.counts",
            "payments_dlq.written",
            "orders_1.written",
            "clicks_1.written",
        ]
    )


def test_a_timestamp_range_and_a_watermark(connection: Connection) -> None:
    rng = bounded.parse_range("2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z")
    steps = bounded.steps(make_plan(), "orders_1", connection=connection, rng=rng)
    orders = next(s for s in steps if isinstance(s, st.ReadSource))
    read = [c.args for c in orders.chains[0].calls if c.name == "option"]
    assert ("startingTimestamp", "1714557600000") in read
    assert ("startingOffsetsByTimestampStrategy", "latest") in read
    assert ("endingTimestamp", "1714561200000") in read
    # Spark ignores the watermark in batch; the description keeps the query's SQL as it is.
    assert st.call("withWatermark", "event_time", "10 minutes") in orders.chains[1].calls


def _bounded_run_log(
    connection: Connection, monkeypatch: pytest.MonkeyPatch
) -> list[tuple[t.Any, ...]]:
    log: list[tuple[t.Any, ...]] = []
    fake_pyspark(monkeypatch, log)
    sys.modules["pyspark.sql"].Observation = StandIn(log, ("Observation",))  # type: ignore[attr-defined]
    bounded.execute(make_plan(), t.cast(t.Any, StandIn(log, ("spark",))), connection, BACKFILL)
    return log


def _bounded_script_log(
    connection: Connection, monkeypatch: pytest.MonkeyPatch
) -> list[tuple[t.Any, ...]]:
    log: list[tuple[t.Any, ...]] = []
    fake_pyspark(monkeypatch, log)
    sys.modules["pyspark.sql"].Observation = StandIn(log, ("Observation",))  # type: ignore[attr-defined]
    for key in connection.secret_options:
        monkeypatch.setenv(codegen.env_name(key), connection.kafka_options[key])
    for name in (
        codegen.ENV_BOOTSTRAP,
        codegen.ENV_CHECKPOINT_ROOT,
        codegen.ENV_MASTER,
        codegen.ENV_JARS,
    ):
        monkeypatch.delenv(name, raising=False)
    text = bounded.script(make_plan(), BACKFILL, connection=connection)
    exec(compile(text, "backfill.py", "exec"), {})
    return [
        e
        for e in log
        if e[0][0] in ("spark", "F", "Observation")
        and e[0][:2] != ("spark", "sparkContext")
        and e[:2] != (("spark",), ".sparkContext")
    ]


def test_the_bounded_script_makes_the_calls_the_bounded_run_makes(
    connection: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran = _bounded_run_log(connection, monkeypatch)
    printed = _bounded_script_log(connection, monkeypatch)
    assert Counter(map(repr, printed)) == Counter(map(repr, ran))
    assert sum(1 for e in ran if e[1] == ".read") == 3
    assert sum(1 for e in ran if e[1] == ".save") == 3
    assert not any(e[1] in (".readStream", ".writeStream") for e in ran)
    assert not any("checkpoint" in repr(e) for e in ran)
    first_write = next(i for i, e in enumerate(ran) if e[1] == ".write")
    assert all(e[0] != ("spark",) for e in ran[first_write:])  # every frame built before a write


def test_summary(connection: Connection) -> None:
    metrics = {
        "orders.counts": {"read": 100, "skipped": 0, "tombstones": 0},
        "clicks.counts": {"read": 7, "skipped": 1, "tombstones": 0},
        "payments.counts": {"read": 5, "dlq": 2, "tombstones": 0},
        "payments_dlq.written": {"written": 2},
        "orders_1.written": {"written": 4},
        "clicks_1.written": {"written": 3},
    }
    assert bounded.summary(make_plan(), metrics, BACKFILL, connection) == [
        "dead-letter query payments_dlq: wrote 2 malformed records of payments",
        "query orders_1 (queries/orders.sql:14): read 100 from orders; wrote 4",
        "query clicks_1 (queries/clicks.sql:3): read 7 from clicks, 5 from payments, 3 malformed;"
        " wrote 3",
    ]


# --- the command line: mistakes before any JVM ------------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--until", '{"ordres": {"0": 100}}'],
            "error: --until names topic 'ordres', which no selected query reads",
        ),
        (
            ["--from", "2024-05-01T25:00"],
            "error: --from 2024-05-01T25:00: '2024-05-01T25:00' is not an ISO timestamp",
        ),
        (
            ["--from", "2024-05-02", "--until", "2024-05-01"],
            "error: --until 2024-05-01 is not after --from 2024-05-02",
        ),
        (
            ["--until", "latest", "--trigger", "once"],
            "error: --trigger does not apply to a bounded run",
        ),
        (
            ["--trigger", "once"],
            "error: --trigger once ignores max_offsets_per_trigger of stream orders",
        ),
    ],
)
def test_run_refuses_a_bad_range_in_one_line(
    tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    from click.testing import CliRunner

    from sqlstream.cli.main import cli

    monkeypatch.chdir(tmp_path)
    (tmp_path / "q.sql").write_text(
        "CREATE STREAM orders (n INT) FROM KAFKA (topic = 'orders', max_offsets_per_trigger = 5);\n"
        "INSERT INTO KAFKA TOPIC 'out' SELECT n FROM orders;\n"
    )
    monkeypatch.setitem(sys.modules, "pyspark", None)  # importing pyspark would fail: no JVM
    result = CliRunner().invoke(cli, ["run", "q.sql", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    # One message, as a mistake in the arguments is everywhere: no "1 error found" under it.
    assert result.output.count("error: ") == 1 and "found" not in result.output
