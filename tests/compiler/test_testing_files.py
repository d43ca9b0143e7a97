"""`sqlstream test` without a JVM: finding, loading and checking YAML test files.

Every mistake in a test file is a located ``UserError`` (exit 2) found before Spark starts. The
cases are a table: a test file's text -> the message, where it points, and part of the hint.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap
import typing as t
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sqlstream.cli.main import cli
from sqlstream.compiler.facade import compile_project
from sqlstream.errors import UserError, UserErrors
from sqlstream.unittests import suite as testing

REPO = Path(__file__).resolve().parents[2]


pytestmark = pytest.mark.usefixtures("clean_machine")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh copy of the example project (queries, macros and its tests), as the cwd."""
    root = tmp_path / "demo"
    result = CliRunner().invoke(cli, ["init", str(root)])
    assert result.exit_code == 0, result.output
    monkeypatch.chdir(root)
    return root


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def load(root: Path, text: str | None = None) -> list[testing.UnitTest]:
    if text is not None:
        for old in (root / "tests").glob("*.yml"):
            old.unlink()
        write(root / "tests" / "t.yml", text)
    return testing.load_tests(compile_project())


def errors_of(root: Path, text: str) -> list[UserError]:
    with pytest.raises(UserErrors) as info:
        load(root, text)
    return info.value.errors


# --------------------------------------------------------------------------------------------
# The example project's tests


def test_the_example_tests_load_and_resolve(project: Path) -> None:
    tests = {x.name: x for x in load(project)}
    assert len(tests) == 6
    spend = tests["spend is summed per user and 5-minute window; refunds do not count"]
    assert (spend.kind, spend.target, spend.file) == ("query", "spend_1", "tests/spend.yml")
    assert spend.sql.startswith("SELECT window.start AS window_start")
    [inp] = spend.inputs
    assert (inp.name, inp.given, len(inp.rows)) == ("transactions", True, 5)
    assert inp.columns == [
        ("user_id", "STRING"),
        ("action", "STRING"),
        ("amount", "DOUBLE"),
        ("event_time", "TIMESTAMP"),
    ]
    assert spend.expect[0].values == {
        "user_id": "u1",
        "window_end": "2026-11-27 10:05:00",
        "total_spent": 15.0,
        "purchases": 2,
    }
    assert spend.expect[0].value_locations["total_spent"].line == 15

    stream = tests["amounts of 500 and more are high priority, the rest standard"]
    assert (stream.kind, stream.target) == ("stream", "prioritised")
    assert "CASE WHEN amount >= 500" in stream.sql

    routed = tests["every prioritised transaction is routed, with its priority"]
    # The given derived stream stands for what it reads: no source, no view to create.
    assert [(i.name, i.given) for i in routed.inputs] == [("prioritised", True)]
    assert routed.views == []


def test_a_query_through_a_derived_stream_creates_it_and_its_source_may_be_empty(
    project: Path,
) -> None:
    [x] = load(
        project,
        """\
        - name: routed
          query: routing_1
          expect: []
        """,
    )
    assert [(i.name, i.given, i.rows) for i in x.inputs] == [("transactions", False, [])]
    assert [v.name for v in x.views] == ["prioritised"]


def test_loading_needs_no_pyspark() -> None:
    code = (
        "import sys; from sqlstream.compiler.facade import compile_project; "
        "from sqlstream.unittests import suite as testing;"
        "testing.load_tests(compile_project()); assert 'pyspark' not in sys.modules, 'pyspark'"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_the_repo_root_links_the_template_tests() -> None:
    for name in ("spend.yml", "routing.yml"):
        link = REPO / "tests" / name
        assert link.is_symlink(), name
        assert (
            link.read_text()
            == (
                REPO / "sqlstream" / "project" / "templates" / "project" / "tests" / name
            ).read_text()
        )


# --------------------------------------------------------------------------------------------
# Mistakes, located

MISTAKES: list[tuple[str, str, str, tuple[int, int], str]] = [
    (
        "unknown query",
        """\
        - name: a
          query: spend_2
          expect: []
        """,
        "no query named 'spend_2'",
        (2, 10),
        "did you mean 'spend_1'?",
    ),
    (
        "a derived stream named as a query",
        """\
        - name: a
          query: prioritised
          expect: []
        """,
        "no query named 'prioritised'",
        (2, 10),
        "write `stream: prioritised`",
    ),
    (
        "unknown stream",
        """\
        - name: a
          stream: prioritized
          expect: []
        """,
        "no derived stream named 'prioritized'",
        (2, 11),
        "did you mean 'prioritised'?",
    ),
    (
        "a query named as a stream",
        """\
        - name: a
          stream: spend_1
          expect: []
        """,
        "no derived stream named 'spend_1'",
        (2, 11),
        "write `query: spend_1`",
    ),
    (
        "a given the query does not read",
        """\
        - name: a
          query: spend_1
          given:
            transaction: []
          expect: []
        """,
        "query spend_1 does not read 'transaction'",
        (4, 5),
        "did you mean 'transactions'?",
    ),
    (
        "unknown column in a given row",
        """\
        - name: a
          query: spend_1
          given:
            transactions:
              - {user_id: u1, amont: 3}
          expect: []
        """,
        "stream transactions has no column 'amont'",
        (5, 23),
        "did you mean 'amount'?",
    ),
    (
        "unknown column in an expected row",
        """\
        - name: a
          query: spend_1
          expect:
            - user_id: u1
              total: 3
        """,
        "the output of query spend_1 has no column 'total'",
        (5, 7),
        "did you mean 'total_spent'?",
    ),
    (
        "unknown key",
        """\
        - name: a
          query: spend_1
          expected: []
        """,
        "unknown key 'expected' in a test",
        (3, 3),
        "did you mean 'expect'?",
    ),
    (
        "no expect",
        """\
        - name: a
          query: spend_1
        """,
        "test 'a' has no expect",
        (1, 3),
        "expect: []",
    ),
    (
        "no target",
        """\
        - name: a
          expect: []
        """,
        "test 'a' names no query",
        (1, 3),
        "query: <query name>",
    ),
    (
        "both targets",
        """\
        - name: a
          query: spend_1
          stream: prioritised
          expect: []
        """,
        "a test has both query and stream",
        (3, 3),
        "one query",
    ),
    (
        "no name",
        """\
        - query: spend_1
          expect: []
        """,
        "a test needs a name",
        (1, 3),
        "name:",
    ),
    (
        "not a list",
        """\
        name: a
        query: spend_1
        """,
        "a test file holds a list of tests",
        (1, 1),
        "- name:",
    ),
    (
        "rows not a list",
        """\
        - name: a
          query: spend_1
          given:
            transactions: {user_id: u1}
          expect: []
        """,
        "rows of stream transactions must be a list",
        (4, 19),
        "one row per line",
    ),
    (
        "a list for a scalar column",
        """\
        - name: a
          query: spend_1
          given:
            transactions:
              - {user_id: [u1]}
          expect: []
        """,
        "column 'user_id': a list is not a STRING",
        (5, 19),
        "single STRING",
    ),
    (
        "a column twice in a row",
        """\
        - name: a
          query: spend_1
          expect:
            - {user_id: u1, user_id: u2}
        """,
        "key 'user_id' appears twice in a row",
        (4, 21),
        "first set on line 4",
    ),
    (
        "a stream given with what it reads",
        """\
        - name: a
          query: routing_1
          given:
            prioritised: []
            transactions: []
          expect: []
        """,
        "the rows given for 'transactions' are not used",
        (5, 5),
        "'prioritised' is given too",
    ),
    (
        "two tests with one name",
        """\
        - {name: a, query: spend_1, expect: []}
        - {name: a, query: routing_1, expect: []}
        """,
        "two tests are named 'a' in this file",
        (2, 3),
        "the other is at tests/t.yml:1:3",
    ),
    (
        "invalid YAML",
        """\
        - name: a
          query: [spend_1
        """,
        "invalid YAML",
        (3, 1),
        "",
    ),
]


@pytest.mark.parametrize(
    "text, message, at, hint", [m[1:] for m in MISTAKES], ids=[m[0] for m in MISTAKES]
)
def test_a_mistake_in_a_test_file_is_located(
    project: Path, text: str, message: str, at: tuple[int, int], hint: str
) -> None:
    errors = errors_of(project, text)
    first = errors[0]
    assert first.message.startswith(message), first.message
    assert first.location is not None
    assert (first.location.path, first.location.line, first.location.col) == ("tests/t.yml", *at)
    assert hint in (first.hint or ""), first.hint


def test_every_mistake_of_a_file_is_reported(project: Path) -> None:
    errors = errors_of(
        project,
        """\
        - name: a
          query: spend_2
          expect: []
        - name: b
          query: spend_1
          given:
            transactions:
              - {user: u1}
          expect:
            - {totl: 1}
        """,
    )
    assert [(e.location.line if e.location else 0) for e in errors] == [2, 8, 10]


def test_the_cli_exits_2_on_a_mistake_before_starting_spark(project: Path) -> None:
    write(
        project / "tests" / "bad.yml",
        """\
        - name: a
          query: spend_2
          expect: []
        """,
    )
    result: Result = CliRunner().invoke(cli, ["test"])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("tests/bad.yml:2:10: error: no query named 'spend_2'")
    assert "hint: did you mean 'spend_1'?" in result.stderr
    assert "Traceback" not in result.output


def test_the_cli_says_so_when_there_are_no_tests(project: Path) -> None:
    for old in (project / "tests").glob("*.yml"):
        old.unlink()
    result = CliRunner().invoke(cli, ["test"])
    assert result.exit_code == 0, result.output
    assert "no tests found" in result.stdout
    result = CliRunner().invoke(cli, ["test", "--select", "nothing_like_it"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --select nothing_like_it matches no test")


# --------------------------------------------------------------------------------------------
# Finding and selecting


def test_test_paths_setting_and_its_alias(project: Path) -> None:
    write(
        project / "checks" / "deep" / "more.yaml",
        """\
        - {name: deep, query: spend_1, expect: []}
        """,
    )
    write(project / "checks" / ".hidden" / "skip.yml", "- nonsense\n")
    (project / "sqlstream.yml").write_text(
        (project / "sqlstream.yml").read_text() + "test-paths: [checks]\n"
    )
    assert [x.name for x in load(project)] == ["deep"]
    text = (project / "sqlstream.yml").read_text().replace("test-paths", "test_paths")
    (project / "sqlstream.yml").write_text(text)
    assert [x.name for x in load(project)] == ["deep"]
    (project / "sqlstream.yml").write_text(text + "test-paths: [tests]\n")
    with pytest.raises(UserError, match="both test-paths and test_paths are set"):
        compile_project()


def test_select_by_query_stream_file_and_test_file(project: Path) -> None:
    compiled = compile_project()

    def names(*select: str) -> list[str]:
        return sorted(x.target for x in testing.load_tests(compiled, select=select))

    assert names("spend_1") == ["spend_1", "spend_1"]
    assert names("prioritised") == ["prioritised", "routing_1"]
    assert names("queries/spend.sql") == ["spend_1", "spend_1"]
    # prioritised is defined in routing.sql: its test belongs to the file too.
    assert names("queries/routing.sql") == ["prioritised", "routing_1"]
    assert names("tests/routing.yml") == ["prioritised", "routing_1"]
    assert names("tests") == [
        "enrichment_1",
        "enrichment_2",
        "prioritised",
        "routing_1",
        "spend_1",
        "spend_1",
    ]
    assert names("queries/enrichment.sql") == ["enrichment_1", "enrichment_2"]
    explicit = testing.load_tests(compiled, paths=["tests/spend.yml"])
    assert {x.file for x in explicit} == {"tests/spend.yml"}


# --------------------------------------------------------------------------------------------
# Values as Spark SQL


@pytest.mark.parametrize(
    "value, type_, sql",
    [
        (None, "DOUBLE", "CAST(NULL AS DOUBLE)"),
        ("u1", "STRING", "CAST('u1' AS STRING)"),
        ("it's", "STRING", "CAST('it\\'s' AS STRING)"),
        (10.5, "DOUBLE", "CAST(10.5D AS DOUBLE)"),
        (3, "BIGINT", "CAST(3 AS BIGINT)"),
        (True, "BOOLEAN", "CAST(true AS BOOLEAN)"),
        ("2026-11-27 10:01:00", "TIMESTAMP", "CAST('2026-11-27 10:01:00' AS TIMESTAMP)"),
        (dt.datetime(2026, 11, 27, 10, 1), "TIMESTAMP", "CAST('2026-11-27 10:01:00' AS TIMESTAMP)"),
        (
            dt.datetime(2026, 11, 27, 11, 1, tzinfo=dt.timezone(dt.timedelta(hours=1))),
            "TIMESTAMP",
            "CAST('2026-11-27 10:01:00' AS TIMESTAMP)",
        ),
        (
            [{"key": "k", "value": "dg=="}],
            "ARRAY<STRUCT<key: STRING, value: BINARY>>",
            'from_json(\'[{"key": "k", "value": "dg=="}]\', '
            "'ARRAY<STRUCT<key: STRING, value: BINARY>>')",
        ),
        (7, "UNKNOWN", "7"),
    ],
)
def test_sql_value(value: t.Any, type_: str, sql: str) -> None:
    assert testing.sql_value(value, type_) == sql


def test_rows_sql() -> None:
    columns = [("a", "STRING"), ("b", "DOUBLE")]
    assert testing.rows_sql(columns, [{"a": "x"}, {"b": 1}]) == (
        "SELECT * FROM VALUES (CAST('x' AS STRING), CAST(NULL AS DOUBLE)), "
        "(CAST(NULL AS STRING), CAST(1 AS DOUBLE)) AS t(`a`, `b`)"
    )
    assert testing.rows_sql(columns, []) == (
        "SELECT CAST(NULL AS STRING) AS `a`, CAST(NULL AS DOUBLE) AS `b` WHERE false"
    )
