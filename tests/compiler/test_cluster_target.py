"""A target on a Spark cluster, without a JVM: which masters are this machine's, the note about a
local checkpoint root, the line of a lost executor, and ``sqlstream cluster`` where no cluster
runs. The cluster itself runs in tests/e2e/test_cluster.py."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from sqlstream.cli.main import cli
from sqlstream.errors import RunFailure
from sqlstream.local import cluster
from sqlstream.project.connection import Connection
from sqlstream.spark.executors import Executor, Watch, lost_lines
from sqlstream.spark.session import check_reachable, cluster_notes, master_host, on_this_machine

MASTERS = [
    # master, its host, all executors on this machine
    ("local[*]", None, True),
    ("local[2]", None, True),
    ("spark://127.0.0.1:7077", "127.0.0.1", True),
    ("spark://localhost:7077", "localhost", True),
    ("spark://master-1:7077", "master-1", False),
    ("spark://m1:7077,m2:7077", "m1", False),
    ("spark://10.0.0.5", "10.0.0.5", False),
    ("yarn", None, False),
    ("k8s://https://kubernetes.default.svc:443", None, False),
]


@pytest.mark.parametrize("master, host, here", MASTERS)
def test_which_masters_run_executors_on_this_machine(
    master: str, host: str | None, here: bool
) -> None:
    assert master_host(master) == host
    assert on_this_machine(master) is here


NOTES = [
    # master, checkpoint root, a note
    ("yarn", "/data/ckpt", True),
    ("spark://master-1:7077", "/data/ckpt", True),
    ("yarn", "hdfs:///ckpt", False),
    ("k8s://https://api:6443", "s3a://bucket/ckpt", False),
    ("spark://127.0.0.1:7077", "/data/ckpt", False),
    ("local[*]", "/data/ckpt", False),
]


@pytest.mark.parametrize("master, root, noted", NOTES)
def test_a_local_checkpoint_root_on_a_remote_cluster_is_noted(
    master: str, root: str, noted: bool
) -> None:
    notes = cluster_notes(
        Connection(bootstrap_servers="k:9092", spark_master=master, checkpoint_root=root)
    )
    assert bool(notes) is noted
    if noted:
        assert f"checkpoint_root {root} is a local path" in notes[0]
        assert "hdfs://" in notes[0]


def test_spark_connect_has_no_cluster_note() -> None:
    connection = Connection(bootstrap_servers="k:9092", spark_remote="sc://s:15002")
    assert cluster_notes(connection) == []


ALIVE = Executor("1", "127.0.0.1:41689", True)
DRIVER = Executor("driver", "127.0.0.1:35571", True)


@pytest.mark.parametrize(
    "before, executors, lines",
    [
        ((), [DRIVER, ALIVE], []),
        (
            (),
            [DRIVER, Executor("0", "127.0.0.1:46639", False, "worker lost"), ALIVE],
            ["lost executor 0 (127.0.0.1:46639): worker lost; 1 executor left"],
        ),
        (("0",), [DRIVER, Executor("0", "127.0.0.1:46639", False, "worker lost"), ALIVE], []),
        (
            (),
            [DRIVER, Executor("0", "h:1", False), Executor("1", "h:2", False)],
            [
                "lost executor 0 (h:1): no reason given; 0 executors left",
                "lost executor 1 (h:2): no reason given; 0 executors left",
            ],
        ),
        ((), [Executor("driver", "h:1", False)], []),
    ],
)
def test_a_lost_executor_is_one_line(
    before: tuple[str, ...], executors: list[Executor], lines: list[str]
) -> None:
    assert lost_lines(before, executors) == lines


def test_without_a_spark_context_the_watch_reports_nothing() -> None:
    class ConnectSession:  # Spark Connect's session has no sparkContext
        @property
        def sparkContext(self) -> None:
            raise RuntimeError("not available on Spark Connect")

    assert Watch(ConnectSession()).news() == []


def test_no_cluster_where_none_was_started(tmp_path: Path) -> None:
    assert cluster.status(tmp_path) is None
    assert cluster.down(tmp_path) is False
    result = CliRunner().invoke(cli, ["cluster", "status", "--state-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "spark cluster is not running" in result.output


def test_a_stale_state_file_is_not_a_cluster(tmp_path: Path) -> None:
    """A pid of cluster.json that now runs something else (pids recycle) is not our master."""
    (tmp_path / "cluster.json").write_text(
        f'{{"port": 7077, "webui_port": 8080, "pid": {os.getpid()}, "workers": []}}'
    )
    assert cluster.status(tmp_path) is None


def test_the_state_dir_is_the_projects(tmp_path: Path) -> None:
    (tmp_path / "queries").mkdir()
    (tmp_path / "sqlstream.yml").write_text("name: shop\n")
    assert cluster.default_state_dir(tmp_path / "queries") == tmp_path / ".sqlstream" / "cluster"


def test_an_unreachable_standalone_master_fails_in_seconds() -> None:
    with socket.socket() as s:  # a port nobody listens on: bound, never listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        with pytest.raises(
            RunFailure, match=rf"cannot reach the Spark master spark://127.0.0.1:{port} "
        ):
            check_reachable(f"spark://127.0.0.1:{port}")


def test_a_listening_master_or_another_kind_is_not_checked_further() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        check_reachable(f"spark://127.0.0.1:1,127.0.0.1:{port}")  # one of the list answers
    check_reachable("yarn")
    check_reachable("local[*]")
