"""A target's ``schema_registry:``: its settings, the secret policy applied to its password, and
its mistakes located in profiles.yml."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from sqlstream.errors import UserError, UserErrors
from sqlstream.project.config import load_project
from sqlstream.project.connection import Connection


def _project(tmp_path: Path, registry: str) -> Path:
    (tmp_path / "sqlstream.yml").write_text("name: shop\n")
    head = "shop:\n  outputs:\n    dev:\n      bootstrap_servers: localhost:9092\n"
    body = textwrap.indent(textwrap.dedent(registry).strip() + "\n", " " * 8)
    (tmp_path / "profiles.yml").write_text(head + "      schema_registry:\n" + body)
    return tmp_path


def _load(tmp_path: Path, registry: str) -> Connection:
    project = load_project([_project(tmp_path, registry)])
    return Connection.from_target(project.target)


def test_settings_and_the_client_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("R8_PASSWORD", "s3cr3t-pw")
    conn = _load(
        tmp_path,
        """
        url: https://registry.example:8081
        username: svc
        password: "{{ env_var('R8_PASSWORD') }}"
        ssl_ca_location: /etc/ca.pem
        auto_register: true
        """,
    )
    settings = conn.schema_registry
    assert settings is not None and settings.auto_register
    assert settings.client_config() == {
        "url": "https://registry.example:8081",
        "basic.auth.user.info": "svc:s3cr3t-pw",
        "ssl.ca.location": "/etc/ca.pem",
    }
    # The one secret policy: the password and the pair sent for it are hidden everywhere.
    assert conn.redact("auth svc:s3cr3t-pw failed; password s3cr3t-pw") == (
        "auth **** failed; password ****"
    )
    assert "s3cr3t-pw" not in repr(conn) and "s3cr3t-pw" not in repr(settings)


def test_no_schema_registry_is_none(tmp_path: Path) -> None:
    (tmp_path / "sqlstream.yml").write_text("name: shop\n")
    assert Connection.from_target(load_project([tmp_path]).target).schema_registry is None


MISTAKES = [
    ("username: svc\n", "schema_registry of target 'dev' has no url", 5),
    ("url: http://r\nusername: svc\n", "schema_registry username is set but not the other", 7),
    ("url: http://r\nauto_register: maybe\n", "auto_register must be true or false", 7),
    ("url: http://r\nuser: svc\n", "unknown key 'user' in schema_registry", 7),
]


@pytest.mark.parametrize(("registry", "message", "line"), MISTAKES)
def test_mistakes_are_located(tmp_path: Path, registry: str, message: str, line: int) -> None:
    with pytest.raises((UserError, UserErrors)) as info:
        load_project([_project(tmp_path, registry)])
    error = info.value.errors[0] if isinstance(info.value, UserErrors) else info.value
    assert message in error.message
    assert error.location is not None and error.location.line == line
