"""Checkpoint folders, with no JVM: written here in Spark's own layout (``offsets/<batch>`` and
``commits/<batch>``: a version line, then JSON lines), read by ``sqlstream.spark.state``, listed
and reset by ``sqlstream state``, and the state-shape check that runs before a run."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sqlstream.cli.main import cli
from sqlstream.compiler.facade import Compiled, compile_project
from sqlstream.errors import UserErrors
from sqlstream.spark import state

pytestmark = pytest.mark.usefixtures("clean_machine")

SQL = """\
CREATE STREAM orders (
    user_id STRING, amount DOUBLE, event_time TIMESTAMP,
    WATERMARK FOR event_time AS event_time - INTERVAL '1' MINUTES
) FROM KAFKA (topic = 'orders', on_error = 'dlq', dlq_topic = 'orders.DLT');

INSERT INTO KAFKA TOPIC 'spend'
SELECT window.end AS window_end, user_id, {agg}(amount) AS total
FROM orders GROUP BY window(event_time, '5 minutes'), user_id;

INSERT INTO KAFKA TOPIC 'big' WITH (name = 'big')
SELECT user_id, amount FROM orders WHERE amount > {threshold};
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sqlstream.yml").write_text("name: shop\n")
    write_sql(tmp_path)
    return tmp_path


def write_sql(root: Path, agg: str = "sum", threshold: int = 100) -> None:
    (root / "queries").mkdir(exist_ok=True)
    (root / "queries" / "spend.sql").write_text(SQL.format(agg=agg, threshold=threshold))


def compiled() -> Compiled:
    return compile_project([])


def spark_batch(folder: Path, batch: int, offsets: list[str], commit: bool = True) -> None:
    """One batch as Spark's OffsetSeqLog and CommitLog write it."""
    (folder / "offsets").mkdir(parents=True, exist_ok=True)
    meta = {"batchWatermarkMs": 0, "batchTimestampMs": 1767225600000, "conf": {}}
    (folder / "offsets" / str(batch)).write_text("\n".join(["v1", json.dumps(meta), *offsets]))
    (folder / "offsets" / f".{batch}.crc").write_bytes(b"crc")
    if commit:
        (folder / "commits").mkdir(exist_ok=True)
        (folder / "commits" / str(batch)).write_text('v1\n{"nextBatchWatermarkMs":0}')


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


CHECKPOINTS = Path(".sqlstream/checkpoints/shop")


def test_list_reads_batches_offsets_and_state_size(project: Path) -> None:
    spend = project / CHECKPOINTS / "spend_1"
    spark_batch(spend, 0, ['{"orders":{"0":2,"1":0}}'])
    spark_batch(spend, 1, ['{"orders":{"1":5,"0":7}}'])
    spark_batch(spend, 2, ['{"orders":{"0":9,"1":5}}'], commit=False)  # planned, cut short
    (spend / "state" / "0" / "0").mkdir(parents=True)
    (spend / "state" / "0" / "0" / "1.delta").write_bytes(b"x" * 300)
    (project / CHECKPOINTS / "gone_1").mkdir(parents=True)
    spark_batch(project / CHECKPOINTS / "gone_1", 0, ["-"])

    result = invoke("state", "list", "--output", "json")
    assert result.exit_code == 0, result.output
    rows = {r["query"]: r for r in json.loads(result.output)}
    assert list(rows) == ["orders_dlq", "spend_1", "big", "gone_1"]
    assert rows["spend_1"] == {
        "query": "spend_1",
        "kind": "sink",
        "file": "queries/spend.sql",
        "path": str(project / CHECKPOINTS / "spend_1"),
        "exists": True,
        "stateful": True,
        "last_batch": 1,
        "planned_batch": 2,
        "offsets": {"orders": {"0": 7, "1": 5}},
        "state_bytes": 300,
    }
    assert rows["big"]["exists"] is False and rows["big"]["stateful"] is False
    assert rows["orders_dlq"]["kind"] == "dlq"
    assert rows["gone_1"]["kind"] == "orphaned" and rows["gone_1"]["offsets"] == {}

    text = invoke("state", "list")
    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    assert lines[0] == f"checkpoints in {project / '.sqlstream/checkpoints'}"
    spend_line = next(ln for ln in lines if ln.startswith("spend_1"))
    assert (
        "1 (2 planned)" in spend_line and "300 B" in spend_line and "orders 0:7, 1:5" in spend_line
    )
    assert "orphaned" in next(ln for ln in lines if ln.startswith("gone_1"))


def test_offsets_of_a_query_with_two_sources_are_merged(tmp_path: Path) -> None:
    spark_batch(tmp_path, 4, ['{"a":{"0":1}}', "-", '{"b":{"0":3,"2":4}}'])
    assert state.source_offsets(tmp_path / "offsets" / "4") == {
        "a": {"0": 1},
        "b": {"0": 3, "2": 4},
    }
    assert state.batches(tmp_path / "offsets") == [4]


def test_reset_asks_off_a_terminal_and_deletes_with_yes(project: Path) -> None:
    spend = project / CHECKPOINTS / "spend_1"
    spark_batch(spend, 3, ['{"orders":{"0":2}}'])
    refused = invoke("state", "reset", "spend_1")
    assert refused.exit_code == 2
    assert "add --yes" in refused.output and spend.is_dir()

    done = invoke("state", "reset", "spend_1", "--yes")
    assert done.exit_code == 0, done.output
    assert done.output == f"deleted {spend} (query spend_1: last batch 3)\n"
    assert not spend.exists() and (project / CHECKPOINTS).is_dir()

    again = invoke("state", "reset", "spend_1", "--yes")
    assert again.exit_code == 0 and "has no checkpoint" in again.output


def test_reset_confirms_on_a_terminal(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spend = project / CHECKPOINTS / "spend_1"
    spark_batch(spend, 0, ['{"orders":{"0":2}}'])
    monkeypatch.setattr("sqlstream.cli.state.on_a_terminal", lambda: True)
    runner = CliRunner()
    no = runner.invoke(cli, ["state", "reset", "spend_1"], input="n\n")
    assert no.exit_code == 1 and spend.is_dir()
    yes = runner.invoke(cli, ["state", "reset", "spend_1"], input="y\n")
    assert yes.exit_code == 0, yes.output
    assert str(spend) in yes.output and not spend.exists()


def test_reset_unknown_query_has_a_did_you_mean(project: Path) -> None:
    result = invoke("state", "reset", "spend1", "--yes")
    assert result.exit_code == 2
    assert "error: no query named spend1 in this project" in result.output
    assert "did you mean spend_1?" in result.output
    assert invoke("state", "reset", "--yes").exit_code == 2  # neither names nor --all


def test_reset_all_deletes_every_checkpoint_of_the_project_only(project: Path) -> None:
    for name in ("spend_1", "big", "gone_1"):
        spark_batch(project / CHECKPOINTS / name, 0, ["-"])
    other = project / ".sqlstream/checkpoints/other_project/q_1"
    spark_batch(other, 0, ["-"])
    result = invoke("state", "reset", "--all", "--yes")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (project / CHECKPOINTS).iterdir()) == []
    assert result.output.count("deleted ") == 3
    assert other.is_dir()


def test_reset_never_deletes_outside_the_checkpoint_root(
    project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    elsewhere = tmp_path_factory.mktemp("precious")
    (elsewhere / "keep.txt").write_text("keep")
    (project / CHECKPOINTS).mkdir(parents=True)
    (project / CHECKPOINTS / "spend_1").symlink_to(elsewhere, target_is_directory=True)
    result = invoke("state", "reset", "spend_1", "--yes")
    assert result.exit_code == 2
    assert "refusing to delete" in result.output
    assert (elsewhere / "keep.txt").is_file()
    assert not state.inside(project, project / ".sqlstream/checkpoints")
    assert not state.inside(project / ".sqlstream/checkpoints", project / ".sqlstream/checkpoints")


# --------------------------------------------------------------------------------------------
# The check before a run
# --------------------------------------------------------------------------------------------


def check(root: Path) -> None:
    c = compiled()
    state.check_and_record(c.plan, c.connection())
    assert (root / CHECKPOINTS / "spend_1" / state.SHAPE_FILE).is_file()


def test_a_changed_aggregate_is_refused_once_state_was_committed(project: Path) -> None:
    check(project)  # the first run records the shapes
    spend = project / CHECKPOINTS / "spend_1"
    recorded = json.loads((spend / state.SHAPE_FILE).read_text())
    assert recorded["operators"][0]["aggregates"] == ["sum(amount)"]
    spark_batch(spend, 0, ['{"orders":{"0":2}}'])

    write_sql(project, agg="avg")
    with pytest.raises(UserErrors) as info:
        check(project)
    (error,) = info.value.errors
    assert error.message == (
        "query spend_1 cannot resume from its checkpoint: aggregate sum(amount) became "
        "avg(amount) in query spend_1"
    )
    assert error.location is not None and (error.location.path, error.location.line) == (
        "queries/spend.sql",
        6,
    )
    assert error.location.source_line == "INSERT INTO KAFKA TOPIC 'spend'"
    assert error.hint is not None
    for choice in ("WITH (name = 'spend_1_v2')", "sqlstream state reset spend_1", "bounded run"):
        assert choice in error.hint
    assert "schema" not in error.hint.lower()
    assert json.loads((spend / state.SHAPE_FILE).read_text()) == recorded  # nothing rewritten


def test_a_stateless_change_is_allowed(project: Path) -> None:
    check(project)
    for name in ("spend_1", "big"):
        spark_batch(project / CHECKPOINTS / name, 0, ['{"orders":{"0":2}}'])
    write_sql(project, threshold=5)
    check(project)


def test_before_the_first_commit_a_changed_query_is_a_new_query(project: Path) -> None:
    check(project)  # e.g. the first start failed before batch 0 committed
    write_sql(project, agg="max")
    check(project)
    spend = project / CHECKPOINTS / "spend_1"
    assert json.loads((spend / state.SHAPE_FILE).read_text())["operators"][0]["aggregates"] == [
        "max(amount)"
    ]


def test_a_checkpoint_without_a_shape_adopts_the_current_one(project: Path) -> None:
    spend = project / CHECKPOINTS / "spend_1"
    spark_batch(spend, 0, ['{"orders":{"0":2}}'])
    check(project)
    write_sql(project, agg="min")
    with pytest.raises(UserErrors, match="aggregate sum\\(amount\\) became min\\(amount\\)"):
        check(project)


def test_a_remote_checkpoint_root_is_not_read(project: Path) -> None:
    (project / "profiles.yml").write_text(
        textwrap.dedent("""\
        shop:
          target: dev
          outputs:
            dev:
              bootstrap_servers: localhost:9092
              checkpoint_root: s3a://bucket/checkpoints
        """)
    )
    (project / "sqlstream.yml").write_text("name: shop\nprofile: shop\n")
    c = compiled()
    assert state.local_root(c.connection()) is None
    state.check_and_record(c.plan, c.connection())  # nothing to read, nothing written
    assert not (project / ".sqlstream").exists()
    result = invoke("state", "list")
    assert result.exit_code == 2 and "not a local folder" in result.output


def test_the_early_check_writes_nothing(project: Path) -> None:
    c = compiled()
    state.check(c.plan, c.connection())  # `run` calls it before Spark starts
    assert not (project / ".sqlstream").exists()
