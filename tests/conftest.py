"""`clean_machine`: a test runs as on a clean machine, with no profiles, secrets or settings of
the user running the tests (HOME points at an empty directory). Modules that read profiles use
it."""

from __future__ import annotations

import pytest


@pytest.fixture
def clean_machine(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))
    for name in (
        "SQLSTREAM_PROFILES_DIR",
        "KAFKA_PASSWORD",
        "KAFKA_USERNAME",
        "KAFKA_BOOTSTRAP_SERVERS",
    ):
        monkeypatch.delenv(name, raising=False)
