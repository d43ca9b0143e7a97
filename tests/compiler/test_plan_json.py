"""plan.json is written by orjson (``Plan.to_json``): the bytes ``json.dumps(indent=2)`` wrote,
but for text outside ASCII, written as it is rather than as ``\\u`` escapes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sqlstream.compiler.facade import compile_project

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.usefixtures("clean_machine")

NON_ASCII = """CREATE STREAM commandes (id STRING KEY, montant DOUBLE)
FROM KAFKA (topic = 'entrée');
INSERT INTO KAFKA TOPIC 'sortie_€' KEY id SELECT id, montant AS `total_ß` FROM commandes;
"""


def test_the_example_plan_is_what_the_json_module_wrote(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    plan = compile_project().plan
    assert plan.to_json() == json.dumps(plan.to_dict(), indent=2)


def test_text_outside_ascii_is_written_as_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "q.sql").write_text(NON_ASCII, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    plan = compile_project(["q.sql"]).plan
    text = plan.to_json()
    assert json.loads(text) == plan.to_dict()
    assert "sortie_€" in text and "entrée" in text and "total_ß" in text
    assert text == json.dumps(plan.to_dict(), indent=2, ensure_ascii=False)
