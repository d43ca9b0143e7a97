"""``facade.subsets``: the part of the plan each file's script needs, indexed once."""

from __future__ import annotations

from pathlib import Path

from sqlstream.compiler.facade import compile_project, subsets
from sqlstream.compiler.plan import Plan

STREAM = "CREATE STREAM {n} (id STRING KEY, amount DOUBLE) FROM KAFKA (topic = '{n}');\n"
FILES = {
    "a.sql": STREAM.format(n="a") + STREAM.format(n="b"),
    "b.sql": "CREATE STREAM v AS SELECT id, amount FROM b WHERE amount > 0;\n"
    + STREAM.format(n="c"),
    "c.sql": "INSERT INTO KAFKA TOPIC 'o1' KEY id SELECT id, amount FROM v;\n"
    "INSERT INTO KAFKA TOPIC 'o2' KEY id SELECT id, amount FROM a;\n",
    "d.sql": "INSERT INTO KAFKA TOPIC 'o3' KEY id SELECT id, amount FROM c;\n",
}


def _plan(root: Path) -> Plan:
    (root / "queries").mkdir()
    (root / "sqlstream.yml").write_text("name: p\n")
    for name, text in FILES.items():
        (root / "queries" / name).write_text(text)
    return compile_project(project_dir=root).plan


def test_each_group_gets_what_its_sinks_read_in_the_plans_order(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    by_topic = {k.topic: k for k in plan.sinks}
    groups = [[by_topic["o2"], by_topic["o1"]], [by_topic["o3"]], []]
    got = subsets(plan, groups)
    assert [[s.name for s in p.sources] for p in got] == [["a", "b"], ["c"], []]
    assert [[v.name for v in p.views] for p in got] == [["v"], [], []]
    assert [[k.topic for k in p.sinks] for p in got] == [["o2", "o1"], ["o3"], []]
    assert all(p.project == "p" and p.settings == plan.settings for p in got)
