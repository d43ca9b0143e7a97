"""A project whose target runs on the session's Spark standalone cluster, and what the cluster
saw of a run: shared by the tests that run ``sqlstream run`` there (with the ``spark_cluster``
fixture of conftest.py).

The target names the master and a checkpoint root every process of the cluster sees (all are
on this machine); the connector jars go to the executors as ``spark.jars``, which the driver
serves them from.
"""

from __future__ import annotations

import subprocess
import typing as t
from pathlib import Path

from cliproc import finished

from sqlstream.local import cluster as local_cluster


def create(root: Path, bootstrap: str, master: str, sql: str, name: str = "oncluster") -> Path:
    """A project in ``root`` with one query file, its target on ``master``; returns ``root``."""
    (root / "queries").mkdir(parents=True, exist_ok=True)
    (root / "sqlstream.yml").write_text(f"name: {name}\nprofile: {name}\n")
    (root / "profiles.yml").write_text(
        f"{name}:\n  target: cluster\n  outputs:\n    cluster:\n"
        f"      bootstrap_servers: '{bootstrap}'\n"
        f"      checkpoint_root: {root / 'checkpoints'}\n"
        f"      spark:\n        master: '{master}'\n"
    )
    (root / "queries" / "q.sql").write_text(sql)
    return root


def run_args(*extra: str) -> list[str]:
    """``sqlstream run queries --trigger available-now ...``: a finite run of the project."""
    return ["run", "queries", "--trigger", "available-now", *extra]


def run(root: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``sqlstream run`` of the project in ``root`` as a process, to its end."""
    return finished(run_args(), root, timeout=timeout)


def apps(cluster: local_cluster.Cluster, name: str) -> list[dict[str, t.Any]]:
    """The master's record of the applications named ``name``, running or completed."""
    state = local_cluster.master_state(cluster) or {}
    every = [*(state.get("activeapps") or []), *(state.get("completedapps") or [])]
    return [a for a in every if isinstance(a, dict) and a.get("name") == name]


def executor_dirs(cluster: local_cluster.Cluster, app_id: str) -> list[Path]:
    """The folders of the application's executors in the workers' work dirs."""
    return sorted(cluster.state_dir.glob(f"work-*/{app_id}/*"))


def running_a_task(cluster: local_cluster.Cluster, name: str, worker: local_cluster.Worker) -> bool:
    """Whether the executor that ``worker`` runs for the active application ``name`` has
    started a task (its log says ``Running task``): the driver knows that executor, so its loss
    is a loss the driver sees."""
    state = local_cluster.master_state(cluster) or {}
    ids = [a.get("id") for a in state.get("activeapps") or [] if a.get("name") == name]
    logs = [p for i in ids for p in worker.work_dir.glob(f"{i}/*/stderr")]
    return any("Running task" in p.read_text(errors="replace") for p in logs)
