"""``validate`` compiles without the queries' Spark SQL text (``compile_project(spark_sql=False)``):
the same errors, warnings and plan as ``compile``, but for the text it does not show."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from sqlstream.compiler.facade import Compiled, compile_project
from sqlstream.compiler.plan import Plan
from sqlstream.errors import UserErrors

REPO = Path(__file__).resolve().parents[2]
INVALID = sorted((Path(__file__).parent / "invalid").glob("*.sql"))

pytestmark = pytest.mark.usefixtures("clean_machine")


def _without_text(plan: Plan) -> Plan:
    return dataclasses.replace(
        plan,
        views=[dataclasses.replace(v, sql="") for v in plan.views],
        sinks=[dataclasses.replace(s, sql="") for s in plan.sinks],
    )


def _outcome(compile_: Compiled | UserErrors) -> object:
    if isinstance(compile_, UserErrors):
        return [(e.location, e.message, e.hint) for e in compile_.errors]
    return _without_text(compile_.plan), [(w.location, w.message) for w in compile_.warnings]


def _compile(paths: list[str], spark_sql: bool) -> Compiled | UserErrors:
    try:
        return compile_project(paths, spark_sql=spark_sql)
    except UserErrors as e:
        return e


def test_the_example_plans_the_same_without_the_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    full, checked = _compile([], True), _compile([], False)
    assert isinstance(full, Compiled) and isinstance(checked, Compiled)
    assert all(s.sql for s in full.plan.sinks)
    assert [s.sql for s in checked.plan.sinks] == [""] * len(full.plan.sinks)
    assert [v.sql for v in checked.plan.views] == [""] * len(full.plan.views)
    assert _outcome(checked) == _outcome(full)


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_a_bad_input_gets_the_same_errors(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / path.name).write_text(path.read_text())
    monkeypatch.chdir(tmp_path)
    full, checked = _compile([path.name], True), _compile([path.name], False)
    assert isinstance(full, UserErrors)
    assert _outcome(checked) == _outcome(full)
