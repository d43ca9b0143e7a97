"""What a command imports: the modules a compile or a validate does not need stay unimported.

Imports are most of a cold ``validate`` (bench/compile_speed.py); these tests keep the lazy
ones lazy, and the table of lazy commands in step with the commands themselves.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import typing as t
from pathlib import Path

import click
import pytest

from sqlstream.cli.main import LAZY_COMMANDS, cli

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", sorted(LAZY_COMMANDS))
def test_a_lazy_command_loads_under_its_name(name: str) -> None:
    command = cli.get_command(click.Context(cli), name)
    assert command is not None and command.name == name


def test_the_help_lists_every_command() -> None:
    listed = cli.list_commands(click.Context(cli))
    assert set(LAZY_COMMANDS) <= set(listed) and {"compile", "validate"} <= set(listed)


def _at_exit(args: list[str], cwd: Path, expression: str) -> t.Any:
    """The value of ``expression`` (JSON) when ``sqlstream ARGS``, run as a new process, exits."""
    code = (
        "import atexit, gc, json, sys\n"
        f"atexit.register(lambda: print('AT_EXIT=' + json.dumps({expression})))\n"
        "from sqlstream.cli.main import main\n"
        f"sys.argv = ['sqlstream', *{args!r}]\n"
        "main()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True
    )
    line = next(x for x in proc.stdout.splitlines() if x.startswith("AT_EXIT="))
    return json.loads(line.removeprefix("AT_EXIT="))


def _modules_after(args: list[str], cwd: Path) -> set[str]:
    """The modules loaded by the end of ``sqlstream ARGS``, run as a new process."""
    return set(_at_exit(args, cwd, "sorted(sys.modules)"))


def test_validate_imports_no_other_command(tmp_path: Path) -> None:
    (tmp_path / "sqlstream.yml").write_text("name: p\n")
    (tmp_path / "queries").mkdir()
    (tmp_path / "queries" / "a.sql").write_text(
        "CREATE STREAM s (id STRING) FROM KAFKA (topic = 't');\n"
        "INSERT INTO KAFKA TOPIC 'o' SELECT id FROM s;\n"
    )
    loaded = _modules_after(["validate"], tmp_path)
    assert "sqlstream.compiler.facade" in loaded  # it did validate
    lazy = {f"sqlstream.cli.{module}" for module, _ in LAZY_COMMANDS.values()}
    assert not loaded & lazy
    assert not {m for m in loaded if m.startswith(("pyspark", "sqlstream.spark"))}


def _plain_project(root: Path) -> Path:
    (root / "sqlstream.yml").write_text("name: p\n")
    (root / "queries").mkdir()
    (root / "queries" / "a.sql").write_text(
        "CREATE STREAM s (id STRING) FROM KAFKA (topic = 't');\n"
        "INSERT INTO KAFKA TOPIC 'o' SELECT id FROM s;\n"
    )
    return root


def test_a_project_without_jinja_imports_no_jinja2(tmp_path: Path) -> None:
    loaded = _modules_after(["compile"], _plain_project(tmp_path))
    assert "sqlstream.compiler.planner" in loaded and (tmp_path / "target").is_dir()
    assert not {m for m in loaded if m.startswith("jinja2")}


def test_a_file_with_jinja_still_renders(tmp_path: Path) -> None:
    root = _plain_project(tmp_path)
    (root / "queries" / "b.sql").write_text(
        "INSERT INTO KAFKA TOPIC '{{ 1 + 1 }}' SELECT id FROM s;\n"
    )
    assert "jinja2" in _modules_after(["compile"], root)
    assert "TOPIC '2'" in (root / "target" / "rendered" / "b.sql").read_text()


def test_a_broken_macro_file_is_reported_when_no_query_uses_jinja(tmp_path: Path) -> None:
    root = _plain_project(tmp_path)
    (root / "sqlstream.yml").write_text("name: p\nmacro-paths: [macros]\n")
    (root / "macros").mkdir()
    (root / "macros" / "m.sql").write_text("{% macro m() %}\nno end\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "sqlstream.cli.main", "validate"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "macros/m.sql:" in proc.stderr + proc.stdout


@pytest.mark.parametrize("size", [0, 1, 100, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, 3 << 20])
def test_a_file_is_read_whole_up_to_the_limit(tmp_path: Path, size: int) -> None:
    from sqlstream.compiler import reading

    path = tmp_path / "f.sql"
    path.write_bytes(b"x" * size)
    with path.open("rb") as f:
        assert reading._read_limited(f) == b"x" * min(size, reading.MAX_FILE_BYTES + 1)


def test_a_pipe_is_read_to_the_limit() -> None:
    from sqlstream.compiler import reading

    read_end, write_end = os.pipe()
    with os.fdopen(write_end, "wb") as w:
        w.write(b"SELECT 1")
    with os.fdopen(read_end, "rb") as f:
        assert reading._read_limited(f) == b"SELECT 1"


@pytest.mark.parametrize(
    ("args", "frozen"),
    [
        (["validate"], True),
        (["--debug", "compile", "--target-dir", "out"], True),
        (["validate", "queries/missing.sql"], True),  # refused (exit 2): frozen all the same
        (["kafka", "--help"], False),  # a command that may hold a broker's or Spark's objects
    ],
)
def test_the_collector_is_frozen_at_exit_after_a_project_command(
    tmp_path: Path, args: list[str], frozen: bool
) -> None:
    """A project command skips the exit's collection over its trees (``FROZEN_AT_EXIT``)."""
    count = _at_exit(args, _plain_project(tmp_path), "gc.get_freeze_count()")
    assert (count > 0) is frozen
