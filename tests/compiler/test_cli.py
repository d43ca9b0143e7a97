"""The command line, end to end without a JVM: init, validate, compile, ls, errors, secrets.

Each test builds a project in a temporary directory (or uses the example project at the repo
root, writing its output elsewhere), runs the CLI with click's ``CliRunner`` and asserts on the
exit code, on what was printed and on the files in ``target/``.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import textwrap
import types
import typing as t
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

import sqlstream
import sqlstream.kafka
import sqlstream.spark
from sqlstream.cli.console import console
from sqlstream.cli.main import cli
from sqlstream.compiler import facade
from sqlstream.errors import RunFailure, UserError, UserErrors
from sqlstream.project.connection import Connection

pytestmark = pytest.mark.usefixtures("clean_machine")

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_FILES = {
    "queries/spend.sql": "spend",
    "queries/routing.sql": "routing",
    "queries/enrichment.sql": "enrichment",
}

SOURCE = """\
CREATE STREAM orders (
    order_id   STRING,
    amount     DOUBLE,
    event_time TIMESTAMP,
    WATERMARK FOR event_time AS event_time - INTERVAL '1' MINUTES
) FROM KAFKA (topic = 'orders');
"""

# `path:line:col: error: message`, as a compiler prints it.
DIAGNOSTIC = re.compile(r"^(?P<path>[^\s:][^:]*):(?P<line>\d+):(?P<col>\d+): error: ", re.MULTILINE)


@pytest.fixture(autouse=True)
def in_tmp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from an empty directory (HOME and the environment: tests/compiler/conftest.py)."""
    monkeypatch.chdir(tmp_path)


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def make_project(root: Path, files: dict[str, str]) -> Path:
    """A minimal project: sqlstream.yml and the given files (relative to the root)."""
    write(root / "sqlstream.yml", "name: shop\nquery-paths: [queries]\n")
    (root / "queries").mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        write(root / name, text)
    return root


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh copy of the example project (what `sqlstream init` writes), as the cwd."""
    root = tmp_path / "demo"
    result = invoke("init", str(root))
    assert result.exit_code == 0, result.output
    monkeypatch.chdir(root)
    return root


def assert_user_error(result: Result) -> list[re.Match[str]]:
    """Exit 2, compiler-style diagnostics on stderr, nothing on stdout, never a traceback."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""
    return list(DIAGNOSTIC.finditer(result.stderr))


# --------------------------------------------------------------------------------------------
# init


def test_init_creates_a_project_that_validates_and_compiles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = invoke("init", "fresh")
    assert result.exit_code == 0, result.output
    for name in (
        "sqlstream.yml",
        "profiles.yml",
        "queries/spend.sql",
        "queries/routing.sql",
        "macros/priority.sql",
    ):
        assert (tmp_path / "fresh" / name).is_file(), name
    monkeypatch.chdir(tmp_path / "fresh")
    assert invoke("validate").exit_code == 0
    result = invoke("compile")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "fresh" / "target" / "plan.json").is_file()


def test_init_is_the_example_at_the_repo_root(tmp_path: Path) -> None:
    """The repo's example project and the template `init` copies are the same files."""
    assert invoke("init", "copy").exit_code == 0
    for name in ("profiles.yml", *EXAMPLE_FILES, "macros/priority.sql"):
        assert (tmp_path / "copy" / name).read_text() == (REPO / name).read_text(), name
    copied = (tmp_path / "copy" / "sqlstream.yml").read_text()
    assert copied == (REPO / "sqlstream.yml").read_text().replace("name: demo", "name: copy")


@pytest.mark.parametrize(
    ("folder", "name"),
    [("My Pipelines", "my_pipelines"), ("spend-2026", "spend_2026"), ("__", "pipelines")],
)
def test_init_names_the_project_after_its_folder(tmp_path: Path, folder: str, name: str) -> None:
    """Two projects made by init must not share checkpoints, which live under the name."""
    assert invoke("init", folder).exit_code == 0
    assert f"\nname: {name}\n" in (tmp_path / folder / "sqlstream.yml").read_text()


def test_init_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    write(tmp_path / "taken" / "notes.txt", "mine\n")
    result = invoke("init", "taken")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")
    assert "hint:" in result.stderr
    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine\n"
    assert not (tmp_path / "taken" / "sqlstream.yml").exists()


# --------------------------------------------------------------------------------------------
# validate and compile on the example


def test_validate_and_compile_the_example_at_the_repo_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    result = invoke("validate")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ok: 3 file(s), 4 queries")

    out = tmp_path / "out"
    result = invoke("compile", "--target-dir", str(out))
    assert result.exit_code == 0, result.output
    assert "1 source(s), 1 derived stream(s), 4 queries" in result.stdout
    for stem in EXAMPLE_FILES.values():
        rendered = out / "rendered" / f"{stem}.sql"
        assert "{{" not in rendered.read_text() and "INSERT INTO KAFKA" in rendered.read_text()
        script = out / "scripts" / f"{stem}.py"
        compile(script.read_text(), str(script), "exec")  # valid Python
    plan = json.loads((out / "plan.json").read_text())
    assert [s["name"] for s in plan["sinks"]] == [
        "enrichment_1",
        "enrichment_2",
        "routing_1",
        "spend_1",
    ]


def test_compile_writes_under_the_project_root_from_a_subdirectory(
    example: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(example / "queries")
    result = invoke("compile")
    assert result.exit_code == 0, result.output
    assert (example / "target" / "scripts" / "spend.py").is_file()
    assert not (example / "queries" / "target").exists()


def test_compile_output_is_the_same_from_any_directory(
    example: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """target/ names files relative to the project root, not to wherever compile ran."""
    assert invoke("compile").exit_code == 0
    first = {
        p.relative_to(example / "target"): p.read_bytes()
        for p in (example / "target").rglob("*")
        if p.is_file()
    }
    monkeypatch.chdir(tmp_path)
    result = invoke("compile", str(example / "queries"))
    assert result.exit_code == 0, result.output
    again = {
        p.relative_to(example / "target"): p.read_bytes()
        for p in (example / "target").rglob("*")
        if p.is_file()
    }
    assert again == first
    assert str(tmp_path).encode() not in b"".join(again.values())


# --------------------------------------------------------------------------------------------
# user mistakes


def test_a_user_mistake_is_a_diagnostic_with_line_caret_and_hint(tmp_path: Path) -> None:
    make_project(
        tmp_path,
        {
            "queries/bad.sql": SOURCE
            + "\nINSERT INTO KAFKA TOPIC 'out'\nSELECT order_idd FROM orders;\n"
        },
    )
    result = invoke("validate")
    assert len(assert_user_error(result)) == 1
    assert result.stderr.startswith("queries/bad.sql:9:8: error: ")
    assert "unknown column 'order_idd'" in result.stderr
    lines = result.stderr.splitlines()
    assert lines[1] == "   9 | SELECT order_idd FROM orders;"
    assert lines[2] == "     |        ^~~~~~~~~"
    assert lines[3].startswith("hint: ") and "order_id" in lines[3]


@pytest.mark.parametrize(
    "args",
    [("--debug", "validate"), ("validate", "--debug"), ("validate", "queries", "--debug")],
    ids=["before", "after", "last"],
)
def test_debug_shows_the_traceback_and_keeps_the_exit_code(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    make_project(
        tmp_path,
        {"queries/bad.sql": SOURCE + "INSERT INTO KAFKA TOPIC 'out' SELECT nope FROM orders;\n"},
    )
    result = invoke(*args)
    assert result.exit_code == 2
    assert "Traceback" in result.stderr
    assert "queries/bad.sql:7:" in result.stderr


# What the one error handler (sqlstream/cli/errors.py) makes of what the library raises:
# (exception, --debug, exit code, stderr as a regex matched from its start, traceback shown).
HANDLED = [
    (RunFailure("Kafka said no"), False, 1, r"error: Kafka said no\n\Z", False),
    (RunFailure("Kafka said no"), True, 1, r"Traceback .*\nerror: Kafka said no\n\Z", True),
    (
        PermissionError(13, "Permission denied"),
        False,
        2,
        r"error: \[Errno 13\] Permission denied\n\Z",
        False,
    ),
    (
        ZeroDivisionError("boom"),
        False,
        1,
        r"internal error: ZeroDivisionError: boom\n"
        r"hint: this is a bug in sqlstream; run again with --debug",
        False,
    ),
    (ZeroDivisionError("boom"), True, 1, r"Traceback .*ZeroDivisionError: boom\n\Z", True),
    (KeyboardInterrupt(), False, 130, r"\Z", False),
]


@pytest.mark.parametrize(("error", "debug", "code", "stderr", "traceback"), HANDLED)
def test_the_error_handler_maps_each_kind_of_error_to_a_message_and_an_exit_code(
    example: Path,
    monkeypatch: pytest.MonkeyPatch,
    error: BaseException,
    debug: bool,
    code: int,
    stderr: str,
    traceback: bool,
) -> None:
    def compile_project(*args: t.Any, **kwargs: t.Any) -> t.NoReturn:
        raise error

    monkeypatch.setattr(facade, "compile_project", compile_project)
    result = invoke(*(["--debug"] if debug else []), "validate")
    assert result.exit_code == code, result.output
    assert re.match(stderr, result.stderr, re.DOTALL), result.stderr
    assert ("Traceback" in result.stderr) == traceback
    assert result.stdout == ""


def leaf_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> t.Iterator[tuple[str, ...]]:
    ctx = click.Context(group)  # the public listing: the root group loads commands lazily
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if isinstance(command, click.Group):
            yield from leaf_commands(command, (*prefix, name))
        else:
            yield (*prefix, name)


#: What a command needs on its command line to get as far as the library.
ARGUMENTS = {
    ("init",): ["new"],
    ("peek",): ["spend_1"],
    ("topics", "create"): ["t", "--partitions", "1"],
    **{("topics", c): ["t"] for c in ("describe", "delete", "produce", "consume")},
}


def test_every_command_runs_inside_the_error_handler(
    example: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug below any command, nested groups too, is an `internal error`, never a traceback."""

    def broken(*args: t.Any, **kwargs: t.Any) -> t.NoReturn:
        raise ZeroDivisionError("boom")

    from sqlstream.cli import topics
    from sqlstream.local import broker, cluster, registry
    from sqlstream.project import scaffold

    monkeypatch.setattr(facade, "compile_project", broken)
    monkeypatch.setattr(scaffold, "init_project", broken)
    monkeypatch.setattr(topics, "_target", broken)
    for name in ("up", "down", "status"):
        monkeypatch.setattr(broker, name, broken)
        monkeypatch.setattr(cluster, name, broken)
        monkeypatch.setattr(registry, name, broken)
    commands = sorted(leaf_commands(cli))
    assert {("validate",), ("test",), ("kafka", "status"), ("topics", "list")} <= set(commands)
    for command in commands:
        result = invoke(*command, *ARGUMENTS.get(command, []))
        assert result.exit_code == 1, (command, result.output)
        assert result.stderr.startswith("internal error: ZeroDivisionError: boom\n"), command
        assert "Traceback" not in result.stderr


def test_click_still_reports_its_own_usage_errors() -> None:
    result = invoke("validate", "--no-such-option")
    assert result.exit_code == 2
    assert "Error: No such option '--no-such-option'" in result.stderr
    assert "internal error" not in result.stderr


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("tty", [True, False])
def test_diagnostics_are_coloured_only_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, tty: bool
) -> None:
    stream = Terminal() if tty else io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    console.diagnostics(UserErrors([UserError("bad", None, "fix it")]))
    assert ("\x1b[1;31merror:\x1b[0m bad" in stream.getvalue()) == tty
    assert ("\x1b[" in stream.getvalue()) == tty


def test_every_mistake_in_every_file_is_reported_in_one_run(tmp_path: Path) -> None:
    make_project(
        tmp_path,
        {
            "queries/a_source.sql": SOURCE
            + "INSERT INTO KAFKA TOPIC 'out' SELECT amount FROM orderz;\n",
            "queries/b_sinks.sql": (
                "INSERT INTO KAFKA TOPIC 'x' SELECT order_id FROM orders ORDER BY order_id;\n"
                "\n"
                "CREATE STREAM big AS SELECT * FROM orders WHERE amount > {{ var('limit', 10) }};\n"
                "INSERT INTO KAFKA TOPIC 'y' WITH (trigger = 'sometimes') SELECT * FROM big;\n"
            ),
            "queries/c_options.sql": (
                "CREATE STREAM s (a STRING) FROM KAFKA (topic = 'x', fromat = 'json');\n"
            ),
        },
    )
    result = invoke("validate")
    found = [(m["path"], int(m["line"])) for m in assert_user_error(result)]
    assert found == [
        ("queries/a_source.sql", 7),
        ("queries/b_sinks.sql", 1),
        ("queries/b_sinks.sql", 4),
        ("queries/c_options.sql", 1),
    ]
    assert result.stderr.rstrip().endswith("4 errors found")
    assert result.stderr.count("hint: ") == 4


def test_a_jinja_mistake_points_at_the_line_the_user_wrote(tmp_path: Path) -> None:
    make_project(
        tmp_path,
        {
            "queries/j.sql": (
                "{# a comment\n   on two lines #}\n"
                + SOURCE
                + (
                    "INSERT INTO KAFKA TOPIC 'o'\n"
                    "SELECT * FROM orders WHERE amount > {{ var('treshold') }};\n"
                )
            )
        },
    )
    result = invoke("compile")
    (diag,) = assert_user_error(result)
    assert (diag["path"], diag["line"]) == ("queries/j.sql", "10")
    assert "treshold" in result.stderr and "hint: " in result.stderr
    assert not (tmp_path / "target").exists()


def test_a_mistake_in_profiles_yml_points_at_the_yaml(example: Path) -> None:
    text = (
        (example / "profiles.yml")
        .read_text()
        .replace("bootstrap_servers: localhost:9092", "bootstrap_servers: ''")
    )
    (example / "profiles.yml").write_text(text)
    (diag,) = assert_user_error(invoke("validate"))
    assert diag["path"] == "profiles.yml"
    assert "bootstrap_servers" in result_line(example, diag)


def result_line(root: Path, diag: re.Match[str]) -> str:
    return (root / diag["path"]).read_text().splitlines()[int(diag["line"]) - 1]


def test_a_missing_path_is_a_user_error(example: Path) -> None:
    result = invoke("compile", "queries/nope.sql")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and "nope.sql" in result.stderr


# --------------------------------------------------------------------------------------------
# --select, --vars, --target


def sinks_of(*args: str) -> list[str]:
    result = invoke("ls", "-o", "json", *args)
    assert result.exit_code == 0, result.output
    return [s["name"] for s in json.loads(result.stdout)["sinks"]]


def test_select_by_file_query_name_and_stream_name(example: Path) -> None:
    everything = ["enrichment_1", "enrichment_2", "routing_1", "spend_1"]
    assert sinks_of() == everything
    assert sinks_of("--select", "queries/spend.sql") == ["spend_1"]
    assert sinks_of("--select", "queries") == everything
    assert sinks_of("--select", "spend_1") == ["spend_1"]
    assert sinks_of("--select", "prioritised") == ["routing_1"]
    assert sinks_of("--select", "transactions") == everything
    assert sinks_of("-s", "spend_1", "-s", "routing_1") == ["routing_1", "spend_1"]


def test_select_writes_only_the_selected_scripts(example: Path) -> None:
    result = invoke("compile", "--select", "spend_1")
    assert result.exit_code == 0, result.output
    assert (example / "target" / "scripts" / "spend.py").is_file()
    assert not (example / "target" / "scripts" / "routing.py").exists()
    plan = json.loads((example / "target" / "plan.json").read_text())
    assert [s["name"] for s in plan["sinks"]] == ["spend_1"]


def test_select_and_paths_both_narrow(example: Path) -> None:
    """A path argument and --select intersect; neither widens the other."""
    assert sinks_of("queries/routing.sql", "--select", "transactions") == ["routing_1"]
    result = invoke("ls", "queries/routing.sql", "--select", "spend_1")
    assert result.exit_code == 2


def test_a_selection_matching_nothing_exits_2(example: Path) -> None:
    result = invoke("compile", "--select", "no_such_query")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --select no_such_query matches no query")
    assert "hint: " in result.stderr
    assert not (example / "target").exists()


def test_vars_change_the_rendered_sql(example: Path) -> None:
    assert invoke("compile").exit_code == 0
    rendered = (example / "target" / "rendered" / "routing.sql").read_text()
    assert "amount >= 500" in rendered
    result = invoke("compile", "--vars", "{high_amount: 100}")
    assert result.exit_code == 0, result.output
    rendered = (example / "target" / "rendered" / "routing.sql").read_text()
    assert "amount >= 100" in rendered and "amount >= 500" not in rendered
    plan = json.loads((example / "target" / "plan.json").read_text())
    assert "amount >= 100" in plan["views"][0]["sql"]


def test_vars_that_are_not_a_mapping_exit_2(example: Path) -> None:
    result = invoke("validate", "--vars", "[1, 2]")
    assert result.exit_code == 2
    assert "--vars" in result.stderr and "hint: " in result.stderr


def test_an_unknown_target_exits_2_listing_the_targets(example: Path) -> None:
    result = invoke("compile", "--target", "staging")
    (diag,) = assert_user_error(result)
    assert diag["path"] == "profiles.yml"
    assert "unknown target 'staging'" in result.stderr
    assert "dev, prod" in result.stderr


# --------------------------------------------------------------------------------------------
# ls


def test_ls_text(example: Path) -> None:
    result = invoke("ls")
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "project demo" in text
    assert re.search(
        r"^  transactions\s+<- topic transactions \(json, watermark event_time - 10 minutes",
        text,
        re.MULTILINE,
    )
    assert re.search(r"^  prioritised\s+<- transactions$", text, re.MULTILINE)
    assert re.search(
        r"^  routing_1\s+prioritised -> topic \(per row\) \(json\)  \[queries/routing.sql:12\]$",
        text,
        re.MULTILINE,
    )
    assert re.search(
        r"^  spend_1\s+transactions -> topic user-spending \(json\)  \[queries/spend.sql:16\]$",
        text,
        re.MULTILINE,
    )


def test_ls_lists_the_topics_and_the_dead_letters(tmp_path: Path) -> None:
    """Every topic the project names, with who writes it (a query, a stream's DLQ) and who
    reads it; a pattern as /pattern/. A query whose TOPIC is per row names no topic."""
    write(tmp_path / "sqlstream.yml", "name: t\n")
    write(
        tmp_path / "queries" / "q.sql",
        """\
        CREATE STREAM orders (id STRING, n INT)
            FROM KAFKA (topic = 'orders', on_error = 'dlq', dlq_topic = 'orders-bad');
        CREATE STREAM clicks (id STRING) FROM KAFKA (topic_pattern = 'clicks-.*');
        INSERT INTO KAFKA TOPIC 'totals' SELECT id, n FROM orders;
        INSERT INTO KAFKA TOPIC 'orders' SELECT id, 0 AS n FROM clicks;
        """,
    )
    result = invoke("ls")
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert re.search(
        r"^  orders\s+<- topic orders \(json, on_error dlq -> topic orders-bad\)$",
        text,
        re.MULTILINE,
    ), text
    topics = text[text.index("topics:\n") :].splitlines()[1:]
    assert [line.split(maxsplit=1) for line in topics] == [
        ["/clicks-.*/", "read by clicks"],
        ["orders", "written by q_2; read by orders"],
        ["orders-bad", "dead letters of orders"],
        ["totals", "written by q_1"],
    ]
    data = json.loads(invoke("ls", "-o", "json").stdout)
    assert data["topics"][2] == {
        "name": "orders-bad",
        "read_by": [],
        "written_by": [],
        "dlq_of": ["orders"],
    }


def test_ls_json_has_the_dependency_edges(example: Path) -> None:
    result = invoke("ls", "--output", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["project"] == "demo"
    (source,) = data["sources"]
    assert (source["name"], source["topics"], source["file"]) == (
        "transactions",
        "transactions",
        "queries/spend.sql",
    )
    assert source["watermark"] == {"column": "event_time", "delay": "10 minutes"}
    (stream,) = data["streams"]
    assert (stream["name"], stream["reads"], stream["file"]) == (
        "prioritised",
        ["transactions"],
        "queries/routing.sql",
    )
    sinks = {s["name"]: s for s in data["sinks"]}
    assert set(sinks) == {"enrichment_1", "enrichment_2", "routing_1", "spend_1"}
    (table,) = data["tables"]
    assert (table["name"], table["file"], table["read_by"]) == (
        "users",
        "queries/enrichment.sql",
        ["enrichment_1"],
    )
    routing, spend = sinks["routing_1"], sinks["spend_1"]
    assert (routing["reads"], routing["sources"], routing["views"]) == (
        ["prioritised"],
        ["transactions"],
        ["prioritised"],
    )
    assert (routing["file"], routing["line"], routing["topic"]) == (
        "queries/routing.sql",
        12,
        "(per row)",
    )
    assert (spend["reads"], spend["sources"], spend["views"]) == (
        ["transactions"],
        ["transactions"],
        [],
    )
    assert (spend["file"], spend["line"], spend["topic"]) == (
        "queries/spend.sql",
        16,
        "user-spending",
    )
    assert spend["trigger"] == "processing_time 10 seconds"
    assert spend["checkpoint"] == "demo/spend_1"


# --------------------------------------------------------------------------------------------
# secrets


def test_a_secret_from_the_environment_never_reaches_target_or_the_terminal(
    example: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "Zq9-distinctive-s3cret-7Xw"
    monkeypatch.setenv("KAFKA_PASSWORD", secret)
    monkeypatch.setenv("KAFKA_USERNAME", "svc-pipelines")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "broker-1:9093")
    # The secret also reaches a query file, where a careless user might put it.
    spend = example / "queries" / "spend.sql"
    spend.write_text(spend.read_text() + "-- deployed with {{ env_var('KAFKA_PASSWORD') }}\n")

    outputs = [
        invoke("compile", "--target", "prod"),
        invoke("ls", "-o", "json", "--target", "prod"),
        invoke("validate", "--target", "prod"),
    ]
    for result in outputs:
        assert result.exit_code == 0, result.output
        assert secret not in result.stdout and secret not in result.stderr

    files = [p for p in (example / "target").rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {
        "plan.json",
        "spend.py",
        "routing.py",
        "spend.sql",
        "routing.sql",
    }
    for path in files:
        assert secret not in path.read_text(), path
    script = (example / "target" / "scripts" / "spend.py").read_text()
    assert "broker-1:9093" in script  # not a secret: the target's default bootstrap servers
    assert (
        "SQLSTREAM_KAFKA_SASL_JAAS_CONFIG" in script
    )  # the JAAS config is read from the environment
    assert "****" in (example / "target" / "rendered" / "spend.sql").read_text()


# --------------------------------------------------------------------------------------------
# no JVM, bare files


def test_compile_imports_no_pyspark_and_starts_no_jvm(tmp_path: Path) -> None:
    code = textwrap.dedent(f"""
        import sys
        from sqlstream.cli.main import main
        sys.argv = ["sqlstream", "compile", "--target-dir", {str(tmp_path / "out")!r}]
        try:
            main()
        except SystemExit as e:
            assert e.code in (0, None), e.code
        assert "pyspark" not in sys.modules, "pyspark imported"
        assert "py4j" not in sys.modules, "py4j imported"
        print("no-jvm-ok")
    """)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("SQLSTREAM_PROFILES_DIR", None)
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "no-jvm-ok" in proc.stdout
    assert (tmp_path / "out" / "plan.json").is_file()


def test_a_bare_sql_file_outside_any_project_compiles_with_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loose = tmp_path / "loose"
    write(
        loose / "one.sql",
        SOURCE + "INSERT INTO KAFKA TOPIC 'big' SELECT * FROM orders WHERE amount > 10;\n",
    )
    monkeypatch.chdir(loose)
    result = invoke("compile", "one.sql")
    assert result.exit_code == 0, result.output
    plan = json.loads((loose / "target" / "plan.json").read_text())
    assert plan["project"] == "sqlstream"
    assert [(s["name"], s["file"], s["checkpoint"]) for s in plan["sinks"]] == [
        ("one_1", "one.sql", "sqlstream/one_1")
    ]
    script = (loose / "target" / "scripts" / "one.py").read_text()
    compile(script, "one.py", "exec")
    assert '"localhost:9092"' in script and '"local[*]"' in script
    assert (loose / "target" / "rendered" / "one.sql").is_file()


def test_no_project_and_no_file_is_a_user_error(tmp_path: Path) -> None:
    result = invoke("validate")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: no sqlstream.yml found")
    assert "sqlstream init" in result.stderr


# --------------------------------------------------------------------------------------------
# run and explain hand the runtime a Connection (the runtime itself is tested in tests/e2e)


@pytest.fixture
def fake_runtime(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, t.Any, t.Any]]:
    """``sqlstream.spark.runtime`` replaced by a recorder, so that no JVM starts."""
    calls: list[tuple[str, t.Any, t.Any]] = []
    fake = types.ModuleType("sqlstream.spark.runtime")

    def run(plan: t.Any, connection: t.Any, **kwargs: t.Any) -> int:
        calls.append(("run", plan, connection))
        return 0

    def explain(plan: t.Any, connection: t.Any, **kwargs: t.Any) -> str:
        calls.append(("explain", plan, connection))
        return "== plan =="

    fake.run = run  # type: ignore[attr-defined]
    fake.explain = explain  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sqlstream.spark.runtime", fake)
    # `from sqlstream.spark import runtime` reads the package's attribute before sys.modules.
    monkeypatch.setattr(sqlstream.spark, "runtime", fake, raising=False)
    # ... and the preflight, which would ask a broker (tests/e2e/test_preflight.py runs it).
    checks = types.ModuleType("sqlstream.kafka.preflight")
    checks.check = lambda plan, connection, **kwargs: []  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sqlstream.kafka.preflight", checks)
    monkeypatch.setattr(sqlstream.kafka, "preflight", checks, raising=False)
    return calls


def test_run_and_explain_get_the_targets_connection(
    example: Path, fake_runtime: list[tuple[str, t.Any, t.Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(example / "queries")
    result = invoke("run", "--select", "spend_1", "--bootstrap-servers", "other:9092")
    assert result.exit_code == 0, result.output
    result = invoke("explain")
    assert result.exit_code == 0, result.output
    assert result.stdout == "== plan ==\n"
    (_, run_plan, run_conn), (_, _, explain_conn) = fake_runtime
    assert isinstance(run_conn, Connection) and isinstance(explain_conn, Connection)
    assert [s.name for s in run_plan.sinks] == ["spend_1"]
    assert (run_conn.bootstrap_servers, explain_conn.bootstrap_servers) == (
        "other:9092",
        "localhost:9092",
    )
    # A relative checkpoint root is the project's, wherever `run` starts.
    assert run_conn.checkpoint_root == str(example / ".sqlstream" / "checkpoints")


def test_run_refuses_a_bare_select_and_a_bad_trigger(
    example: Path, fake_runtime: list[tuple[str, t.Any, t.Any]]
) -> None:
    write(example / "queries" / "peek.sql", "SELECT * FROM transactions;\n")
    (diag,) = assert_user_error(invoke("run"))
    assert (diag["path"], diag["line"], diag["col"]) == ("queries/peek.sql", "1", "1")
    (example / "queries" / "peek.sql").unlink()
    result = invoke("run", "--trigger", "sometimes")
    assert (
        result.exit_code == 2
        and "--trigger 'sometimes'" in result.stderr
        and "hint: " in result.stderr
    )
    assert fake_runtime == []


def test_a_warning_is_printed_and_exits_0(tmp_path: Path) -> None:
    """A likely mistake Spark would still run: `path:line:col: warning:` on stderr, and the
    command goes on (validate says ok, compile writes, both exit 0)."""
    make_project(
        tmp_path,
        {
            "queries/w.sql": (
                SOURCE + "INSERT INTO KAFKA TOPIC (CASE WHEN amount > 10 THEN 'big' END)\n"
                "SELECT order_id, amount FROM orders;\n"
            )
        },
    )
    result = invoke("validate")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ok: 1 file(s), 1 query")
    assert result.stderr.startswith("queries/w.sql:7:26: warning: the TOPIC can be NULL")
    assert "   7 | INSERT INTO KAFKA TOPIC (CASE" in result.stderr
    assert "hint: add an ELSE" in result.stderr
    assert "error" not in result.stderr
    result = invoke("compile", "--target-dir", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert "warning: the TOPIC can be NULL" in result.stderr
