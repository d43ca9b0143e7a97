"""``defaults.source`` and ``defaults.sink`` of sqlstream.yml: checked like the options they stand
for, located in sqlstream.yml (no JVM)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from sqlstream.compiler.facade import compile_project
from sqlstream.compiler.plan import Plan
from sqlstream.errors import UserError, UserErrors

QUERIES = """
CREATE STREAM events (UserId STRING KEY, Amount DOUBLE) FROM KAFKA (topic = 'events');
CREATE STREAM other (a STRING) FROM KAFKA (topic = 'other', on_error = 'skip',
    'kafka.max.poll.records' = '7');
INSERT INTO KAFKA TOPIC 'out' SELECT UserId, Amount FROM events;
INSERT INTO KAFKA TOPIC 'out2' WITH ('kafka.linger.ms' = '1', trigger = 'once') SELECT a FROM other;
"""


@pytest.fixture(autouse=True)
def in_tmp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def compile_with(tmp_path: Path, defaults: str) -> Plan:
    (tmp_path / "queries").mkdir(exist_ok=True)
    yml = "name: shop\ndefaults:\n" + textwrap.indent(textwrap.dedent(defaults).strip("\n"), "  ")
    (tmp_path / "sqlstream.yml").write_text(yml + "\n")
    (tmp_path / "queries" / "q.sql").write_text(QUERIES)
    return compile_project([]).plan


def errors_of(tmp_path: Path, defaults: str) -> list[str]:
    with pytest.raises((UserError, UserErrors)) as info:
        compile_with(tmp_path, defaults)
    err = info.value
    return [e.format() for e in (err.errors if isinstance(err, UserErrors) else [err])]


def test_kafka_keys_pass_through_and_the_statement_wins(tmp_path: Path) -> None:
    plan = compile_with(
        tmp_path,
        """
        source:
          kafka.max.poll.records: 100
          kafka.client.rack: rack-1
          fail_on_data_loss: false
        sink:
          kafka.linger.ms: 50
          kafka.compression.type: zstd
          trigger: 5 seconds
        """,
    )
    events, other = plan.source("events"), plan.source("other")
    assert events.read_options["kafka.max.poll.records"] == "100"
    assert events.read_options["kafka.client.rack"] == "rack-1"
    assert events.read_options["failOnDataLoss"] == "false"
    assert other.read_options["kafka.max.poll.records"] == "7"
    out, out2 = plan.sinks
    assert out.write_options == {"kafka.linger.ms": "50", "kafka.compression.type": "zstd"}
    assert out2.write_options == {"kafka.linger.ms": "1", "kafka.compression.type": "zstd"}
    assert out.trigger is not None and out.trigger.interval == "5 seconds"
    assert out2.trigger is not None and out2.trigger.kind == "once"


def test_a_default_dlq_topic_serves_the_streams_that_use_a_dlq(tmp_path: Path) -> None:
    plan = compile_with(
        tmp_path,
        """
        source:
          on_error: DLQ
          dlq_topic: shop.DLT
        """,
    )
    assert plan.source("events").dlq_topic == "shop.DLT"
    assert plan.source("events").on_error == "dlq"
    # 'other' skips malformed records: the default DLQ is not forced on it
    assert plan.source("other").on_error == "skip" and plan.source("other").dlq_topic is None


CASES = [
    pytest.param(
        """
        sink:
          kafka.key.serializer: org.apache.kafka.common.serialization.StringSerializer
        """,
        """\
sqlstream.yml:4:5: error: Spark does not allow the Kafka option 'kafka.key.serializer'
   4 |     kafka.key.serializer: org.apache.kafka.common.serialization.StringSerializer
     |     ^~~~~~~~~~~~~~~~~~~~
hint: Spark always writes keys as bytes; use KEY instead""",
        id="refused-sink-kafka-option",
    ),
    pytest.param(
        """
        source:
          kafka.auto.offset.reset: earliest
        """,
        """\
sqlstream.yml:4:5: error: Spark does not allow the Kafka option 'kafka.auto.offset.reset'
   4 |     kafka.auto.offset.reset: earliest
     |     ^~~~~~~~~~~~~~~~~~~~~~~
hint: set starting_offsets = 'earliest' or 'latest' instead""",
        id="refused-source-kafka-option",
    ),
    pytest.param(
        """
        source:
          kafka.bootstrap.servers: broker:9092
        """,
        """\
sqlstream.yml:4:5: error: the broker address comes from the target, not from defaults
   4 |     kafka.bootstrap.servers: broker:9092
     |     ^~~~~~~~~~~~~~~~~~~~~~~
hint: set bootstrap_servers in profiles.yml, or pass --bootstrap-servers to run""",
        id="bootstrap-servers",
    ),
    pytest.param(
        """
        sink:
          triger: 10 seconds
        """,
        """\
sqlstream.yml:4:5: error: unknown sink option 'triger' in defaults.sink
   4 |     triger: 10 seconds
     |     ^~~~~~
hint: did you mean 'trigger'?""",
        id="misspelled-sink-option",
    ),
    pytest.param(
        """
        source:
          starting_offset: earliest
        """,
        """\
sqlstream.yml:4:5: error: unknown source option 'starting_offset' in defaults.source
   4 |     starting_offset: earliest
     |     ^~~~~~~~~~~~~~~
hint: did you mean 'starting_offsets'?""",
        id="misspelled-source-option",
    ),
    pytest.param(
        """
        source:
          topic: orders
        """,
        """\
sqlstream.yml:4:5: error: 'topic' cannot be a default of every source
   4 |     topic: orders
     |     ^~~~~
hint: each stream names its own topics: set topic in FROM KAFKA (...) of each one""",
        id="per-stream-option",
    ),
    pytest.param(
        """
        sink:
          name: q
        """,
        """\
sqlstream.yml:4:5: error: 'name' cannot be a default of every sink
   4 |     name: q
     |     ^~~~
hint: two queries cannot share a name: set name in WITH (...) of each one""",
        id="per-query-option",
    ),
    pytest.param(
        """
        sink:
          partitions: 6
        """,
        """\
sqlstream.yml:4:5: error: 'partitions' cannot be a default of every sink
   4 |     partitions: 6
     |     ^~~~~~~~~~
hint: each sink declares the topic it writes (and only a literal TOPIC can be declared): set """
        """partitions in WITH (...) of each one""",
        id="topic-declaration",
    ),
    pytest.param(
        """
        sink:
          topic.cleanup.policy: compact
        """,
        """\
sqlstream.yml:4:5: error: 'topic.cleanup.policy' cannot be a default of every sink
   4 |     topic.cleanup.policy: compact
     |     ^~~~~~~~~~~~~~~~~~~~
hint: each sink declares the topic it writes""",
        id="topic-config",
    ),
    pytest.param(
        """
        sink:
          trigger: every minute
        """,
        """\
sqlstream.yml:4:14: error: option 'trigger' in defaults.sink is not a trigger
   4 |     trigger: every minute
     |              ^~~~~~~~~~~~
hint: '<n> seconds' | once | available_now | continuous '<n> seconds' | real_time""",
        id="bad-trigger",
    ),
    pytest.param(
        """
        source:
          format: jsn
        """,
        """\
sqlstream.yml:4:13: error: option 'format' in defaults.source is 'jsn', not one of """
        """json, avro, csv, text, raw, avro-confluent, json-confluent, """
        """protobuf-confluent (did you mean 'json'?)
   4 |     format: jsn
     |             ^~~
hint: the value format""",
        id="bad-enum",
    ),
    pytest.param(
        """
        source:
          max_offsets_per_trigger: lots
        """,
        """\
sqlstream.yml:4:30: error: option 'max_offsets_per_trigger' in defaults.source must be a whole \
number, not 'lots'
   4 |     max_offsets_per_trigger: lots
     |                              ^~~~
hint: rate limit per micro-batch""",
        id="bad-int",
    ),
    pytest.param(
        """
        sorce:
          starting_offsets: earliest
        """,
        """\
sqlstream.yml:3:3: error: unknown key 'sorce' in defaults
   3 |   sorce:
     |   ^~~~~
hint: did you mean 'source'?""",
        id="misspelled-kind",
    ),
    pytest.param(
        """
        sink:
          trigger: [10 seconds]
        """,
        """\
sqlstream.yml:4:14: error: defaults.sink.trigger must be a single value
   4 |     trigger: [10 seconds]
     |              ^~~~~~~~~~~~""",
        id="not-a-single-value",
    ),
]


@pytest.mark.parametrize("defaults, expected", CASES)
def test_mistakes_are_located_in_sqlstream_yml(
    tmp_path: Path, defaults: str, expected: str
) -> None:
    errors = errors_of(tmp_path, defaults)
    assert len(errors) == 1, errors  # once, not once per statement the default reaches
    assert errors[0].startswith(expected), errors[0]


def test_every_mistake_in_defaults_is_reported_in_one_go(tmp_path: Path) -> None:
    errors = errors_of(
        tmp_path,
        """
        source:
          starting_offset: earliest
          kafka.value.deserializer: x
        sink:
          triger: once
        """,
    )
    assert [e.splitlines()[0] for e in errors] == [
        "sqlstream.yml:4:5: error: unknown source option 'starting_offset' in defaults.source",
        "sqlstream.yml:5:5: error: Spark does not allow the Kafka option"
        " 'kafka.value.deserializer'",
        "sqlstream.yml:7:5: error: unknown sink option 'triger' in defaults.sink",
    ]
