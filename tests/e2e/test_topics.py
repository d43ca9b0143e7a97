"""`sqlstream topics ...` against the session's real broker, as a user types it.

Commands run in-process through click's runner (no JVM is needed), in a temporary directory with
no project unless a test writes one, and with --bootstrap-servers pointing at the broker. Records
are checked with the independent client of ``sqlstream.local.client``.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import typing as t
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from cliproc import SQLSTREAM
from cliproc import env as cli_env

from sqlstream.cli.main import cli
from sqlstream.local import client as kafkaclient

pytestmark = pytest.mark.e2e

TS = 1714557600000  # 2024-05-01T10:00:00Z


@pytest.fixture
def topics(
    kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_machine: None
) -> t.Callable[..., Result]:
    """``topics(args..., input=...)``: ``sqlstream topics ARGS --bootstrap-servers BROKER``."""
    monkeypatch.chdir(tmp_path)

    def run(
        *args: str, input: str | bytes | None = None, broker: str | None = kafka_bootstrap
    ) -> Result:
        extra = ["--bootstrap-servers", broker] if broker else []
        return CliRunner().invoke(
            cli, ["topics", *args, *extra], input=input, catch_exceptions=False
        )

    return run


def _ok(result: Result) -> str:
    assert result.exit_code == 0, (result.exit_code, result.output)
    return result.stdout


def test_create_describe_list_delete(topics: t.Callable[..., Result], topic_name: str) -> None:
    out = _ok(
        topics(
            "create",
            topic_name,
            "--partitions",
            "3",
            "--config",
            "retention.ms=86400000",
            "--config",
            "cleanup.policy=compact",
        )
    )
    assert out == f"created topic {topic_name}: 3 partitions\n"

    described = _ok(topics("describe", topic_name)).splitlines()
    assert described[0] == f"topic {topic_name}: 3 partitions, replication factor 1"
    assert described[1].split() == [
        "partition",
        "leader",
        "replicas",
        "in-sync",
        "earliest",
        "end",
        "records",
    ]
    assert [line.split()[0] for line in described[2:5]] == ["0", "1", "2"]
    assert all(line.split()[4:] == ["0", "0", "0"] for line in described[2:5])
    assert "  cleanup.policy = compact" in described and "  retention.ms = 86400000" in described

    listed = [line.split() for line in _ok(topics("list")).splitlines()]
    assert [topic_name, "3", "partitions"] in listed

    again = topics("create", topic_name, "--partitions", "1")
    assert again.exit_code == 1
    assert (
        f"error: topic '{topic_name}' already exists on" in again.stderr and "hint:" in again.stderr
    )
    too_many = topics("create", topic_name + "-r", "--partitions", "1", "--replication-factor", "3")
    assert too_many.exit_code == 1
    assert (
        "replication factor 3 needs 3 brokers" in too_many.stderr
        and "--replication-factor 1" in too_many.stderr
    )
    bad_config = topics(
        "create", topic_name + "-c", "--partitions", "1", "--config", "retention.mss=1"
    )
    assert bad_config.exit_code == 1 and "invalid --config" in bad_config.stderr

    assert _ok(topics("delete", topic_name, "--yes")) == f"deleted topic {topic_name}\n"
    assert topic_name not in _ok(topics("list"))
    assert "Traceback" not in again.output + too_many.output + bad_config.output


RECORDS = [
    {
        "key": "u1",
        "value": {"amount": 5},
        "headers": {"src": "test", "empty": None},
        "partition": 0,
        "timestamp": TS,
    },
    {"key": "u2", "value": "plain text", "partition": 1, "timestamp": "2024-05-01T10:00:01Z"},
    {"value": {"amount": 7.5, "tags": ["a", "b"]}, "partition": 1, "timestamp": TS + 2000},
    {"key": "u1", "value": None, "partition": 0, "timestamp": TS + 3000},
]


def _jsonl(records: t.Sequence[dict[str, t.Any]]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def test_produce_from_a_file_then_consume_json_round_trips(
    topics: t.Callable[..., Result], topic_name: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    _ok(topics("create", topic_name, "--partitions", "2"))
    (tmp_path / "in.jsonl").write_text(_jsonl(RECORDS))
    out = _ok(topics("produce", topic_name, "in.jsonl"))
    assert out == f"wrote 4 records to {topic_name} (partition 0: 2, partition 1: 2)\n"

    stored = kafkaclient.consume_all(kafka_bootstrap, topic_name)
    assert [(r.partition, r.key, r.value, r.timestamp) for r in stored] == [
        (0, b"u1", b'{"amount":5}', TS),
        (0, b"u1", None, TS + 3000),
        (1, b"u2", b"plain text", TS + 1000),
        (1, None, b'{"amount":7.5,"tags":["a","b"]}', TS + 2000),
    ]
    assert stored[0].headers == [("src", b"test"), ("empty", None)]

    lines = _ok(topics("consume", topic_name, "--output", "json")).splitlines()
    got = sorted((json.loads(line) for line in lines), key=lambda r: (r["partition"], r["offset"]))
    assert got[0] == {
        "key": "u1",
        "value": {"amount": 5},
        "headers": {"src": "test", "empty": None},
        "partition": 0,
        "offset": 0,
        "timestamp": TS,
    }
    assert got[2] == {
        "key": "u2",
        "value": "plain text",
        "partition": 1,
        "offset": 0,
        "timestamp": TS + 1000,
    }

    copy = topic_name + "-copy"
    _ok(topics("create", copy, "--partitions", "2"))
    _ok(topics("produce", copy, input="\n".join(lines) + "\n"))  # consume | produce, through stdin
    copied = kafkaclient.consume_all(kafka_bootstrap, copy)
    assert _fields(copied) == _fields(stored)


def _fields(records: t.Sequence[kafkaclient.Record]) -> list[tuple[t.Any, ...]]:
    return [(r.partition, r.offset, r.key, r.value, r.headers, r.timestamp) for r in records]


def test_produce_from_stdin_value_only_and_csv(
    topics: t.Callable[..., Result], topic_name: str, kafka_bootstrap: str
) -> None:
    _ok(topics("create", topic_name, "--partitions", "1"))
    _ok(topics("produce", topic_name, "--value-only", input='{"a": 1}\nnot json\n'))
    out = _ok(
        topics("produce", topic_name, "-", "--format", "csv", input="user,amount\nu1,5\nu2,007\n")
    )
    assert out == f"wrote 2 records to {topic_name} (partition 0: 2)\n"
    assert [r.value for r in kafkaclient.consume_all(kafka_bootstrap, topic_name)] == [
        b'{"a": 1}',
        b"not json",
        b'{"user":"u1","amount":5}',
        b'{"user":"u2","amount":"007"}',
    ]


def test_consume_from_an_offset_a_timestamp_and_at_most_max(
    topics: t.Callable[..., Result], topic_name: str
) -> None:
    _ok(topics("create", topic_name, "--partitions", "1"))
    records = [{"key": f"k{i}", "value": {"i": i}, "timestamp": TS + i * 1000} for i in range(10)]
    _ok(topics("produce", topic_name, input=_jsonl(records)))

    def offsets(*args: str) -> list[int]:
        return [
            json.loads(x)["offset"]
            for x in _ok(topics("consume", topic_name, "-o", "json", *args)).splitlines()
        ]

    assert offsets() == list(range(10))
    assert offsets("--from", "7") == [7, 8, 9]
    assert offsets("--from", "2024-05-01T10:00:04Z") == [4, 5, 6, 7, 8, 9]
    assert offsets("--from", "2024-05-01T12:00:06.500+02:00") == [7, 8, 9]
    assert offsets("--from", "latest") == []
    assert offsets("--from", "3", "--max", "2") == [3, 4]

    text = topics("consume", topic_name, "--from", "9")
    assert text.stdout.splitlines() == [
        "partition 0  offset 9  2024-05-01T10:00:09.000Z",
        "  key      k9",
        '  value    {"i":9}',
    ]
    assert text.stderr == f"read 1 record from {topic_name}\n"
    bad = topics("consume", topic_name, "--from", "yesterday")
    assert bad.exit_code == 2 and "--from 'yesterday' is not a place in a topic" in bad.stderr


def test_a_bad_line_is_located_and_nothing_is_written(
    topics: t.Callable[..., Result], topic_name: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    _ok(topics("create", topic_name, "--partitions", "2"))
    (tmp_path / "in.jsonl").write_text(
        '{"value": 1}\n{"value": 2,}\n{"vaule": 3}\n{"value": 4, "partition": 5}\n'
    )
    result = topics("produce", topic_name, "in.jsonl")
    assert result.exit_code == 2
    assert result.stderr.startswith("in.jsonl:2:13: error: not valid JSON")
    assert (
        "in.jsonl:3:2: error: unknown field 'vaule'" in result.stderr
        and "did you mean 'value'?" in result.stderr
    )
    assert '   2 | {"value": 2,}' in result.stderr and "^" in result.stderr
    # A line that parses is checked against the topic in the same run: every bad line at once.
    assert f"in.jsonl:4:14: error: topic '{topic_name}' has no partition 5" in result.stderr
    assert "3 errors found" in result.stderr
    assert kafkaclient.consume_all(kafka_bootstrap, topic_name) == []

    (tmp_path / "in.jsonl").write_text('{"value": 1}\n{"value": 4, "partition": 5}\n')
    result = topics("produce", topic_name, "in.jsonl")
    assert result.exit_code == 2
    assert f"in.jsonl:2:14: error: topic '{topic_name}' has no partition 5" in result.stderr
    assert kafkaclient.consume_all(kafka_bootstrap, topic_name) == []


def test_a_late_bad_record_is_refused_before_any_record_is_written(
    topics: t.Callable[..., Result], topic_name: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    """What only the producer or the broker used to refuse, one record in, after the records
    before it were sent: each is now a located error of the check before the first write."""
    _ok(topics("create", topic_name, "--partitions", "2", "--config", "max.message.bytes=3000"))
    good = [{"key": f"k{i}", "value": {"i": i}, "partition": i % 2} for i in range(3000)]
    bad = [
        {"value": "late", "timestamp": 2**64},  # more than the producer's 64 bits
        {"value": "\ud800"},  # half of a UTF-16 pair: no UTF-8 text
        {"value": "x" * 4000},  # more than the topic's max.message.bytes
        {"value": "p", "partition": 2},
    ]
    (tmp_path / "in.jsonl").write_text(_jsonl(good + bad))
    for args, name, text in (
        (["in.jsonl"], "in.jsonl", None),
        ([], "<stdin>", _jsonl(good + bad)),
    ):
        result = topics("produce", topic_name, *args, input=text)
        assert result.exit_code == 2, result.output
        errors = [line for line in result.stderr.splitlines() if ": error: " in line]
        assert [e.split(": error: ")[0] for e in errors] == [
            f"{name}:3001:19",
            f"{name}:3002:2",
            f"{name}:3003:1",
            f"{name}:3004:16",
        ]
        assert "outside Kafka's timestamps" in errors[0] and "half of a UTF-16 pair" in errors[1]
        assert "3000 bytes, the topic's max.message.bytes" in errors[2]
        assert "has no partition 2" in errors[3]
        assert result.stderr.count("hint: ") == 4 and "4 errors found" in result.stderr
        assert "Traceback" not in result.output and "internal error" not in result.output
        assert kafkaclient.consume_all(kafka_bootstrap, topic_name) == []

    rows = "user,note\n" + "".join(f"u{i},n\n" for i in range(100)) + "u,"
    result = topics("produce", topic_name, "--format", "csv", input=rows + "x" * 200_000 + "\n")
    assert result.exit_code == 2 and "<stdin>:102:1: error: not a CSV row" in result.stderr
    assert "Traceback" not in result.output and "internal error" not in result.output
    assert kafkaclient.consume_all(kafka_bootstrap, topic_name) == []

    # The good records go in batches the topic takes (3000 of them are more than one).
    (tmp_path / "in.jsonl").write_text(_jsonl(good))
    out = _ok(topics("produce", topic_name, "in.jsonl"))
    assert out == f"wrote 3000 records to {topic_name} (partition 0: 1500, partition 1: 1500)\n"


def test_consume_shows_bytes_that_are_not_text_as_base64(
    topics: t.Callable[..., Result], topic_name: str, kafka_bootstrap: str
) -> None:
    _ok(topics("create", topic_name, "--partitions", "1"))
    avro_like = b"\x00\x00\x00\x00\x01\x02\xff"  # magic byte, schema id 1, Avro bytes
    kafkaclient.produce(
        kafka_bootstrap,
        topic_name,
        [
            (b"\x00\x00\x00\x00\x01\x04u1", avro_like, [("h", b"\x1b[2J"), ("src", b"test")]),
            ("k", b"\x00\x00\x00\x00\x01\x02u1", None, 0, 2**62),  # UTF-8, but NULs in it
        ],
    )
    result = topics("consume", topic_name)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1:4] == [
        "  key      AAAAAAEEdTE=  (not text; base64)",
        "  headers  h=G1sySg==  (not text; base64), src=test",
        "  value    AAAAAAEC/w==  (not text; base64)",
    ]
    assert result.stdout.splitlines()[4:] == [
        f"partition 0  offset 1  {2**62} ms since the epoch",
        "  key      k",
        "  value    AAAAAAECdTE=  (not text; base64)",
    ]
    assert not any(b in result.stdout_bytes for b in (b"\x00", b"\xff", b"\x1b"))


def test_an_unknown_topic_says_which_was_meant(
    topics: t.Callable[..., Result], topic_name: str
) -> None:
    _ok(topics("create", topic_name, "--partitions", "1"))
    for command in (["describe"], ["consume"], ["delete", "--yes"], ["produce"]):
        result = topics(*command, topic_name + "x", input='{"value": 1}\n')
        assert result.exit_code == 1, command
        assert result.stderr.splitlines()[0].startswith(f"error: no topic '{topic_name}x' on ")
        assert f"hint: did you mean '{topic_name}'?" in result.stderr
    assert topic_name + "x" not in _ok(topics("list"))  # asking did not auto-create it


def test_an_unreachable_broker_fails_naming_the_address(topics: t.Callable[..., Result]) -> None:
    from sqlstream.local.broker import free_port

    address = f"127.0.0.1:{free_port()}"
    result = topics("list", broker=address)
    assert result.exit_code == 1
    first, hint = result.stderr.splitlines()
    assert first.startswith(f"error: cannot reach the Kafka broker at {address}: ")
    assert "Connection refused" in first
    assert hint.startswith("hint: is the broker running") and "bootstrap_servers" in hint


def _project(root: Path, bootstrap: str, topic: str, sql: str) -> None:
    (root / "queries").mkdir()
    (root / "sqlstream.yml").write_text("name: topics_test\n")
    (root / "profiles.yml").write_text(
        f"topics_test:\n  outputs:\n    dev:\n      bootstrap_servers: '{bootstrap}'\n"
    )
    (root / "queries" / "s.sql").write_text(sql.replace("TOPIC", topic))


def test_values_are_decoded_with_the_format_of_the_projects_stream(
    topics: t.Callable[..., Result], topic_name: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    _project(
        tmp_path,
        kafka_bootstrap,
        topic_name,
        "CREATE STREAM orders (amount DOUBLE) FROM KAFKA (topic = 'TOPIC', format = 'json');\n",
    )
    _ok(topics("create", topic_name, "--partitions", "1", broker=None))  # the profile's broker
    _ok(topics("produce", topic_name, input='{"value": {"amount": 5}}\n', broker=None))
    result = topics("consume", topic_name, broker=None)
    assert result.stdout.splitlines()[-3:] == [
        "  value    {",
        '             "amount": 5',
        "           }",
    ]
    assert "values decoded as json, the format of stream orders (queries/s.sql)" in result.stderr

    (tmp_path / "queries" / "s.sql").write_text(
        "CREATE STREAM broken (amount DOUBEL) FROM KAFKA (topic = 'x');\n"
    )
    result = topics("consume", topic_name, broker=None)
    assert result.exit_code == 0
    assert result.stderr.splitlines()[0].startswith("warning: the project does not compile")
    assert '  value    {"amount":5}' in result.stdout


def test_follow_shows_records_written_after_it_started(
    topics: t.Callable[..., Result], topic_name: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    _ok(topics("create", topic_name, "--partitions", "1"))
    proc = subprocess.Popen(
        [
            str(SQLSTREAM),
            "topics",
            "consume",
            topic_name,
            "--follow",
            "-o",
            "json",
            "--bootstrap-servers",
            kafka_bootstrap,
        ],
        cwd=tmp_path,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(2)
        kafkaclient.produce(kafka_bootstrap, topic_name, [("k", "late")])
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert json.loads(line)["value"] == "late"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
        assert (
            proc.stderr is not None and proc.stderr.read() == f"read 1 record from {topic_name}\n"
        )
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


PROFILES = """\
topics_test:
  outputs:
    sasl:
      bootstrap_servers: '{bootstrap}'
      security_protocol: SASL_PLAINTEXT
      sasl_username: someone
      sasl_password: not-their-password
    tls:
      bootstrap_servers: '{bootstrap}'
      security_protocol: SSL
      ssl_truststore_location: missing/ca.pem
"""


@pytest.mark.parametrize(
    "target, message, hint",
    [
        ("sasl", "refused the SASL handshake", "check security_protocol and sasl_mechanism"),
        (
            "tls",
            "ssl_truststore_location of target 'tls' names missing/ca.pem, which does not exist",
            "fix the path",
        ),
    ],
)
def test_a_security_setting_the_broker_refuses_is_one_line(
    topics: t.Callable[..., Result],
    kafka_bootstrap: str,
    tmp_path: Path,
    target: str,
    message: str,
    hint: str,
) -> None:
    (tmp_path / "sqlstream.yml").write_text("name: topics_test\n")
    (tmp_path / "profiles.yml").write_text(PROFILES.format(bootstrap=kafka_bootstrap))
    result = topics("list", "--target", target, broker=None)
    assert result.exit_code == 1
    first, second = result.stderr.splitlines()
    assert first.startswith("error: ") and message in first
    assert second.startswith("hint: ") and hint in second
    assert "not-their-password" not in result.output
