"""A broken file blocks only what depends on it (issue 7, item 8).

``validate``, ``compile``, ``run`` and the other commands given PATHS or ``--select`` check the
selected statements and what they read, in whatever file that is defined; an error anywhere
else is one warning line and leaves the exit code alone. ``validate`` of the whole project still
refuses any error. Each test builds a project in a temporary directory and runs the CLI.
"""

from __future__ import annotations

import json
import sys
import textwrap
import types
import typing as t
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import sqlstream.kafka
import sqlstream.spark
from sqlstream.cli.main import cli
from sqlstream.compiler import peek

pytestmark = pytest.mark.usefixtures("clean_machine")

ORDERS = """\
CREATE STREAM orders (
    order_id   STRING,
    amount     DOUBLE,
    event_time TIMESTAMP
) FROM KAFKA (topic = 'orders');
"""

A_SQL = (
    ORDERS
    + """
INSERT INTO KAFKA TOPIC 'big' WITH (name = 'a_query')
SELECT order_id, amount FROM orders WHERE amount > 10;
"""
)

B_SQL = """\
INSERT INTO KAFKA TOPIC 'small'
SELECT order_id,
    x FROM orders;
"""
"""Reads a stream of a.sql, with an unknown column at 3:5."""

B_WARNING = (
    "queries/b.sql:3:5: warning: not checked: unknown column 'x' in orders "
    "(not read by the selection)"
)

C_SQL = "CREATE STREAM refunds (order_id STRING, amount DOUBLE FROM KAFKA (topic = 'refunds');\n"
"""Defines ``refunds``, but does not parse (the column list is not closed)."""


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def project(root: Path, files: dict[str, str]) -> Path:
    (root / "queries").mkdir(parents=True, exist_ok=True)
    (root / "sqlstream.yml").write_text("name: shop\nquery-paths: [queries]\n")
    for name, text in files.items():
        (root / name).write_text(textwrap.dedent(text))
    return root


@pytest.fixture
def broken_b(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """a.sql is fine, b.sql (which a.sql does not read) has an error; the cwd is the project."""
    monkeypatch.chdir(tmp_path)
    return project(tmp_path, {"queries/a.sql": A_SQL, "queries/b.sql": B_SQL})


@pytest.mark.parametrize(
    "selection", [["queries/a.sql"], ["--select", "a_query"], ["--select", "queries/a.sql"]]
)
def test_a_selection_is_not_refused_for_an_error_it_does_not_read(
    broken_b: Path, selection: list[str]
) -> None:
    result = invoke("validate", *selection)
    assert result.exit_code == 0, result.output
    assert result.stdout == "ok: 2 file(s), 1 query\n"
    assert result.stderr.splitlines() == [B_WARNING]


def test_validate_of_the_whole_project_still_refuses_any_error(broken_b: Path) -> None:
    result = invoke("validate")
    assert result.exit_code == 2
    assert result.stderr.startswith("queries/b.sql:3:5: error: unknown column 'x'")
    assert "warning" not in result.stderr


def test_the_selected_files_own_errors_refuse_it(broken_b: Path) -> None:
    for selection in (["queries/b.sql"], ["--select", "b_1"]):
        result = invoke("validate", *selection)
        assert result.exit_code == 2, selection
        assert result.stderr.startswith("queries/b.sql:3:5: error: unknown column 'x'")


def test_what_the_selection_reads_is_checked_in_any_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """a.sql reads ``big`` (derived in v.sql) which reads a column ``orders`` lacks: the error
    is in v.sql, and it is a.sql's error too."""
    monkeypatch.chdir(tmp_path)
    project(
        tmp_path,
        {
            "queries/s.sql": ORDERS,
            "queries/v.sql": "CREATE STREAM big AS SELECT order_id, amount, nope FROM orders;\n",
            "queries/a.sql": "INSERT INTO KAFKA TOPIC 'big' SELECT order_id FROM big;\n",
        },
    )
    result = invoke("validate", "queries/a.sql")
    assert result.exit_code == 2
    assert result.stderr.startswith("queries/v.sql:1:47: error: unknown column 'nope'")


def test_a_name_defined_twice_is_the_selections_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second definition of ``orders`` is in b.sql, which the selection does not pick; but
    which ``orders`` a.sql reads is ambiguous, so it is refused."""
    monkeypatch.chdir(tmp_path)
    project(tmp_path, {"queries/a.sql": A_SQL, "queries/b.sql": ORDERS})
    result = invoke("validate", "queries/a.sql")
    assert result.exit_code == 2
    assert result.stderr.startswith("queries/b.sql:1:15: error: stream 'orders' is defined twice")


def test_a_stream_of_a_file_that_does_not_parse_is_unknown_with_a_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    project(
        tmp_path,
        {
            "queries/a.sql": A_SQL,
            "queries/c.sql": C_SQL,
            "queries/d.sql": "INSERT INTO KAFKA TOPIC 'r' SELECT * FROM refunds;\n",
        },
    )
    for selection in (["queries/d.sql"], []):
        result = invoke("validate", *selection)
        assert result.exit_code == 2, selection
        assert "queries/d.sql:1:43: error: unknown stream 'refunds'" in result.stderr
        assert (
            "hint: 'refunds' may be defined in queries/c.sql (see queries/c.sql:1:55), "
            "which does not parse: fix it first"
        ) in result.stderr
    # a.sql does not read it: the broken file is a warning, and so is d.sql's unknown stream.
    result = invoke("validate", "queries/a.sql")
    assert result.exit_code == 0, result.output
    assert [line.split(": warning: ")[0] for line in result.stderr.splitlines()] == [
        "queries/c.sql:1:55",
        "queries/d.sql:1:43",
    ]


def test_compile_of_a_file_writes_its_outputs_only(broken_b: Path) -> None:
    result = invoke("compile", "queries/a.sql")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [B_WARNING]
    written = sorted(
        str(p.relative_to(broken_b / "target")) for p in (broken_b / "target").rglob("*.*")
    )
    assert written == ["plan.json", "rendered/a.sql", "scripts/a.py"]
    plan = json.loads((broken_b / "target" / "plan.json").read_text())
    assert [s["name"] for s in plan["sinks"]] == ["a_query"]


def test_ls_lists_the_selection(broken_b: Path) -> None:
    result = invoke("ls", "queries/a.sql", "-o", "json")
    assert result.exit_code == 0, result.output
    assert [s["name"] for s in json.loads(result.stdout)["sinks"]] == ["a_query"]
    assert result.stderr.splitlines() == [B_WARNING]


@pytest.fixture
def recorded_runs(monkeypatch: pytest.MonkeyPatch) -> list[t.Any]:
    """``sqlstream.spark.runtime.run`` and the broker preflight replaced: no JVM, no broker."""
    plans: list[t.Any] = []
    fake = types.ModuleType("sqlstream.spark.runtime")
    fake.run = lambda plan, connection, **kwargs: plans.append(plan) or 0  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sqlstream.spark.runtime", fake)
    monkeypatch.setattr(sqlstream.spark, "runtime", fake, raising=False)
    checks = types.ModuleType("sqlstream.kafka.preflight")
    checks.check = lambda plan, connection, **kwargs: []  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sqlstream.kafka.preflight", checks)
    monkeypatch.setattr(sqlstream.kafka, "preflight", checks, raising=False)
    return plans


def test_run_of_a_file_runs_it_despite_a_broken_file_and_a_bare_select(
    broken_b: Path, recorded_runs: list[t.Any]
) -> None:
    (broken_b / "queries" / "look.sql").write_text("SELECT * FROM orders;\n")
    result = invoke("run", "queries/a.sql")
    assert result.exit_code == 0, result.output
    assert B_WARNING in result.stderr.splitlines()
    (plan,) = recorded_runs
    assert [s.name for s in plan.sinks] == ["a_query"] and [s.name for s in plan.sources] == [
        "orders"
    ]


def test_peek_of_a_query_or_a_stream_despite_a_broken_file(broken_b: Path) -> None:
    options = peek.ProjectOptions()
    compiled, query = peek.peek_named(options, "a_query")
    assert query.name == "a_query" and query.sources == ["orders"]
    assert [str(e.location) for e in compiled.not_checked] == ["queries/b.sql:3:5"]
    compiled, query = peek.peek_named(options, "orders")
    assert query.place == "stream orders" and query.sources == ["orders"]
    assert [str(e.location) for e in compiled.not_checked] == ["queries/b.sql:3:5"]
