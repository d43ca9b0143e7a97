"""`sqlstream test` on real Spark: the example project's tests pass, a wrong expectation fails
with a readable diff, and the CLI's exit codes (0 / 1 / 2).

Everything runs on the session fixture ``spark``; the CLI, run in-process, gets that same
session from ``getOrCreate`` (no second JVM). No Kafka broker is involved.
"""

from __future__ import annotations

import os
import textwrap
import typing as t
from pathlib import Path

import pytest
from click.testing import CliRunner

from sqlstream.cli.main import cli
from sqlstream.compiler.facade import compile_project
from sqlstream.project.scaffold import init_project
from sqlstream.unittests import suite as testing

pytestmark = pytest.mark.usefixtures("clean_machine")

REPO = Path(__file__).resolve().parents[2]

WRONG = """\
- name: a wrong total
  query: spend_1
  given:
    transactions:
      - {user_id: u1, action: purchase, amount: 10.5, event_time: "2026-11-27 10:01:00"}
      - {user_id: u1, action: purchase, amount: 1,    event_time: "2026-11-27 10:02:00"}
  expect:
    - {user_id: u1, total_spent: 10.5, window_end: "2026-11-27 10:05:00"}
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh copy of the example project, as the cwd."""
    root = tmp_path / "demo"
    init_project(root)
    monkeypatch.chdir(root)
    return root


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def run(spark: t.Any, **kwargs: t.Any) -> list[testing.TestResult]:
    compiled = compile_project()
    return testing.run_tests(testing.load_tests(compiled, **kwargs), spark, compiled.plan.settings)


def test_the_example_projects_tests_pass(spark: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    before = {v.name for v in spark.catalog.listTables() if v.isTemporary}
    results = run(spark)
    assert len(results) == 6
    for r in results:
        assert r.passed, testing.format_result(r)
    # Nothing left behind in the shared session (other tests may have views of their own).
    after = {v.name for v in spark.catalog.listTables() if v.isTemporary}
    assert after <= before, after - before


def test_a_wrong_expectation_fails_with_the_rows_that_differ(spark: t.Any, project: Path) -> None:
    write(project / "tests" / "wrong.yml", WRONG)
    [result] = run(spark, paths=["tests/wrong.yml"])
    assert not result.passed and result.failure is None and not result.errors
    assert [r.values for r in result.missing] == [
        {"user_id": "u1", "total_spent": 10.5, "window_end": "2026-11-27 10:05:00"}
    ]
    assert result.unexpected == [
        {"window_end": "2026-11-27T10:05:00.000Z", "user_id": "u1", "total_spent": 11.5}
    ]
    assert testing.format_result(result) == textwrap.dedent("""\
        FAIL a wrong total (tests/wrong.yml:1, query spend_1)
          expected 1 row, got 1; compared columns: window_end, user_id, total_spent
          missing (expected, not produced):
            - {window_end: "2026-11-27 10:05:00", user_id: "u1", total_spent: 10.5}    # line 8
          unexpected (produced, not expected):
            + {window_end: "2026-11-27 10:05:00", user_id: "u1", total_spent: 11.5}""")


def test_rows_are_a_multiset_and_each_expected_row_lists_its_own_columns(
    spark: t.Any, project: Path
) -> None:
    write(
        project / "tests" / "t.yml",
        """\
        - name: duplicates count, subsets compare
          stream: prioritised
          given:
            transactions:
              - {user_id: u1, amount: 1}
              - {user_id: u1, amount: 1}
              - {user_id: u2, amount: 900, event_time: 2026-11-27 10:00:00}
          expect:
            - {user_id: u1}
            - {user_id: u1, priority: standard, event_time: null}
            - {user_id: u2, amount: 900, priority: high, event_time: "2026-11-27 10:00:00"}
        - name: one duplicate too few
          stream: prioritised
          given:
            transactions:
              - {user_id: u1, amount: 1}
              - {user_id: u1, amount: 1}
          expect:
            - {user_id: u1}
        """,
    )
    ok, short = run(spark, paths=["tests/t.yml"])
    assert ok.passed, testing.format_result(ok)
    assert not short.passed and not short.missing
    assert short.unexpected == [{"user_id": "u1"}]


def test_every_kind_of_source_column_can_be_given(
    spark: t.Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "kinds"
    write(root / "sqlstream.yml", "name: kinds\n")
    write(
        root / "queries" / "orders.sql",
        """\
        CREATE STREAM orders (
            order_id    STRING,
            user_id     STRING KEY,
            trace_id    STRING HEADER('trace-id'),
            all_headers ARRAY<STRUCT<key STRING, value BINARY>> HEADERS,
            kafka_ts    TIMESTAMP METADATA FROM 'timestamp',
            part        INT METADATA FROM 'partition'
        ) FROM KAFKA (topic = 'orders', format = 'avro',
                      avro_schema = '{"type": "record", "name": "o", "fields": \
[{"name": "order_id", "type": "string"}]}');

        INSERT INTO KAFKA TOPIC 'out'
        SELECT order_id, user_id, trace_id, cast(all_headers[0].value AS STRING) AS first_header,
               kafka_ts, part
        FROM orders;
        """,
    )
    write(
        root / "tests" / "t.yml",
        """\
        - name: value, key, header, headers and metadata columns alike
          query: orders_1
          given:
            orders:
              - {order_id: o1, user_id: u1, trace_id: abc, \
all_headers: [{key: trace-id, value: YWJj}],
                 kafka_ts: "2026-11-27 10:00:00", part: 3}
          expect:
            - {order_id: o1, user_id: u1, trace_id: abc, first_header: abc,
               kafka_ts: "2026-11-27 10:00:00", part: 3}
        """,
    )
    monkeypatch.chdir(root)
    [result] = run(spark)
    assert result.passed, testing.format_result(result)


def test_a_value_of_the_wrong_type_is_a_located_mistake(spark: t.Any, project: Path) -> None:
    write(
        project / "tests" / "t.yml",
        """\
        - name: bad values
          query: spend_1
          given:
            transactions:
              - {user_id: u1, amount: ten, event_time: "2026-11-27 10:01:00"}
          expect: []
        - name: bad expectation
          query: spend_1
          expect:
            - {window_end: "not a time"}
        """,
    )
    given, expected = run(spark, paths=["tests/t.yml"])
    [e] = given.errors
    assert e.message == "column 'amount': \"ten\" is not a DOUBLE"
    assert e.location is not None and (e.location.line, e.location.col) == (5, 31)
    [e] = expected.errors
    assert e.message == "column 'window_end': \"not a time\" is not a TIMESTAMP"
    assert e.location is not None and (e.location.line, e.location.col) == (10, 20)


def test_a_query_that_fails_on_spark_fails_its_test(spark: t.Any, project: Path) -> None:
    write(
        project / "queries" / "ids.sql",
        """\
        INSERT INTO KAFKA TOPIC 'ids'
        SELECT user_id, assert_true(amount > 0, 'amount must be positive') AS ok FROM transactions;
        """,
    )
    write(
        project / "tests" / "t.yml",
        """\
        - name: a negative amount
          query: ids_1
          given:
            transactions:
              - {user_id: u1, amount: -1}
          expect: []
        """,
    )
    [result] = run(spark, paths=["tests/t.yml"])
    assert not result.passed and result.failure is not None
    assert "amount must be positive" in result.failure
    assert "the query failed on Spark" in testing.format_result(result)


def test_the_session_time_zone_is_utc_while_tests_run_and_restored_after(
    spark: t.Any, project: Path
) -> None:
    old = spark.conf.get("spark.sql.session.timeZone")
    spark.conf.set("spark.sql.session.timeZone", "America/New_York")
    try:
        results = run(spark)
        assert all(r.passed for r in results), [testing.format_result(r) for r in results]
        assert spark.conf.get("spark.sql.session.timeZone") == "America/New_York"
    finally:
        spark.conf.set("spark.sql.session.timeZone", old)


def test_the_cli_exits_0_when_all_pass_and_1_when_one_fails(
    spark: t.Any, spark_confs_restored: None, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    result = CliRunner().invoke(cli, ["test"])
    assert result.exit_code == 0, result.output
    assert "6 passed, 0 failed" in result.stdout
    assert result.stdout.count("PASS ") == 6

    monkeypatch.chdir(project)
    write(project / "tests" / "wrong.yml", WRONG)
    result = CliRunner().invoke(cli, ["test"])
    assert result.exit_code == 1, result.output
    assert "FAIL a wrong total (tests/wrong.yml:1, query spend_1)" in result.stdout
    assert (
        '+ {window_end: "2026-11-27 10:05:00", user_id: "u1", total_spent: 11.5}' in result.stdout
    )
    assert "6 passed, 1 failed" in result.stdout

    result = CliRunner().invoke(cli, ["test", "--select", "prioritised"])
    assert result.exit_code == 0, result.output
    assert "2 passed, 0 failed" in result.stdout

    # A test file given by path, from outside the project: its project is found from it.
    monkeypatch.chdir(project.parent)
    result = CliRunner().invoke(cli, ["test", os.path.join("demo", "tests", "wrong.yml")])
    assert result.exit_code == 1, result.output
    assert "0 passed, 1 failed" in result.stdout
    # The session is the fixture's: still alive.
    assert spark.range(1).count() == 1
