"""Where ``sqlstream kafka up/down/status`` keep the local broker's state: the project's
``.sqlstream/kafka`` from any folder of the project (no JVM, no broker: the broker itself is
started from a subfolder in tests/e2e/test_infrastructure.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from sqlstream.cli.main import cli
from sqlstream.local import broker

pytestmark = pytest.mark.usefixtures("clean_machine")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A project (``proj``, with queries/sub) and a folder outside any project (``loose``)."""
    root = tmp_path / "proj"
    (root / "queries" / "sub").mkdir(parents=True)
    (root / "sqlstream.yml").write_text("name: shop\n")
    (tmp_path / "loose" / "deeper").mkdir(parents=True)
    return tmp_path


@pytest.mark.parametrize(
    "cwd, state_dir",
    [
        ("proj", "proj/.sqlstream/kafka"),
        ("proj/queries", "proj/.sqlstream/kafka"),
        ("proj/queries/sub", "proj/.sqlstream/kafka"),
        ("loose", "loose/.sqlstream/kafka"),
        ("loose/deeper", "loose/deeper/.sqlstream/kafka"),
    ],
)
def test_the_state_dir_is_the_projects_from_any_folder(
    tree: Path, monkeypatch: pytest.MonkeyPatch, cwd: str, state_dir: str
) -> None:
    monkeypatch.chdir(tree / cwd)
    assert broker.default_state_dir() == tree / state_dir
    assert broker.default_state_dir(tree / cwd) == tree / state_dir


def test_kafka_down_from_a_subfolder_clears_the_projects_state(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``down`` reads the state at the project root: a stale state there (a pid that runs no
    broker) is found and cleared, which it would not be if ``queries/`` were looked in."""
    state = tree / "proj" / ".sqlstream" / "kafka"
    state.mkdir(parents=True)
    stale = {
        "bootstrap": "127.0.0.1:1",
        "port": 1,
        "controller_port": 2,
        "pid": os.getpid(),
        "version": "4.0.0",
    }
    (state / "broker.json").write_text(json.dumps(stale))
    monkeypatch.chdir(tree / "proj" / "queries")

    result = CliRunner().invoke(cli, ["kafka", "down"])

    assert (result.exit_code, result.output) == (0, "kafka was not running\n")
    assert not (state / "broker.json").exists()
    assert not (tree / "proj" / "queries" / ".sqlstream").exists()


def test_an_explicit_state_dir_is_relative_to_the_current_folder(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tree / "proj" / "queries")
    result = CliRunner().invoke(cli, ["kafka", "down", "--state-dir", "here"])
    assert result.exit_code == 0, result.output
    assert not (tree / "proj" / ".sqlstream").exists()
