"""A real PostgreSQL server for the JDBC table tests: Debian's ``postgresql`` package
(``make postgresql`` installs it when missing), started once per test session.

``initdb`` into a temporary directory, then ``postgres`` on a free loopback port with password
(SCRAM) authentication; stopped and removed at the end. PostgreSQL refuses to run as root, so
under root (CI containers) both run as the ``postgres`` system user the package creates, through
``runuser``. The server binaries are found at run time: on PATH, by ``pg_config --bindir``, or
in the package's versioned directory.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import typing as t
from dataclasses import dataclass
from pathlib import Path

import pytest

USER = "sqlstream"
DATABASE = "shop"


def bin_dir() -> Path | None:
    """Where ``initdb``, ``postgres`` and ``psql`` are, or None when PostgreSQL is missing:
    ``pg_config --bindir``, the package's newest versioned directory, or ``initdb`` on PATH."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        candidates.append(Path(out.stdout.strip()))
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(Path(p).parent.name.split(".")[0]),
        reverse=True,
    )
    candidates += [Path(v) for v in versions]
    found = shutil.which("initdb")
    if found:
        candidates.append(Path(os.path.realpath(found)).parent)
    return next((c for c in candidates if all((c / b).exists() for b in _BINARIES)), None)


_BINARIES = ("initdb", "postgres", "psql")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Postgres:
    """A running server: where it listens and who may log in."""

    bin: Path
    port: int
    password: str
    as_user: list[str]
    """The command prefix that runs a server binary as a non-root user (empty: as we are)."""

    @property
    def url(self) -> str:
        return f"jdbc:postgresql://127.0.0.1:{self.port}/{DATABASE}"

    def sql(self, statements: str, database: str = DATABASE) -> str:
        """Run ``statements`` with psql over TCP with the password; psql's output."""
        out = subprocess.run(
            [
                str(self.bin / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                USER,
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-qAt",
                "-c",
                statements,
            ],  # fmt: skip
            env={**os.environ, "PGPASSWORD": self.password},
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        if out.returncode != 0:
            raise AssertionError(f"psql failed: {out.stderr.strip()}")
        return out.stdout


def _as_user() -> list[str]:
    if os.geteuid() != 0:
        return []
    runuser = shutil.which("runuser")
    if runuser is None:
        raise AssertionError("PostgreSQL refuses root and runuser is missing: run as a user")
    return [runuser, "-u", "postgres", "--"]


def _wait_ready(server: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"postgres ended at start: {log.read_text()[-2000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"postgres is not listening on {port} after 60 s")


@pytest.fixture(scope="session")
def postgres() -> t.Iterator[Postgres]:
    """A PostgreSQL server with a database ``shop`` that user ``sqlstream`` owns."""
    found = bin_dir()
    if found is None:
        raise AssertionError(
            "PostgreSQL is not installed: `make postgresql` installs Debian's postgresql package"
        )
    prefix = _as_user()
    root = Path(tempfile.mkdtemp(prefix="sqlstream-pg-"))
    data, log, pwfile = root / "data", root / "server.log", root / "pw"
    password = secrets.token_hex(12)
    pwfile.write_text(password + "\n")
    if prefix:
        shutil.chown(root, "postgres")
        shutil.chown(pwfile, "postgres")
    subprocess.run(
        [
            *prefix,
            str(found / "initdb"),
            "-D",
            str(data),
            "-U",
            USER,
            "--auth=scram-sha-256",
            f"--pwfile={pwfile}",
            "-E",
            "UTF8",
        ],  # fmt: skip
        check=True,
        capture_output=True,
    )
    port = _free_port()
    with log.open("wb") as out:
        server = subprocess.Popen(
            [
                *prefix,
                str(found / "postgres"),
                "-D",
                str(data),
                "-p",
                str(port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-k",
                str(root),
            ],  # fmt: skip
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_ready(server, port, log)
        pg = Postgres(found, port, password, prefix)
        pg.sql(f"CREATE DATABASE {DATABASE}", database="postgres")
        yield pg
    finally:
        server.terminate()  # SIGTERM to postgres (runuser passes it on): a smart shutdown
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(root, ignore_errors=True)
