"""A target's missing environment variables are reported in one go, each at its setting."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from sqlstream.errors import UserErrors
from sqlstream.project.config import load_project

pytestmark = pytest.mark.usefixtures("clean_machine")

PROFILES = """
shop:
  target: prod
  outputs:
    prod:
      bootstrap_servers: "{{ env_var('H7_BOOTSTRAP') }}"
      security_protocol: SASL_SSL
      sasl_mechanism: PLAIN
      sasl_username: "{{ env_var('H7_USER') }}"
      sasl_password: "{{ env_var('H7_PASSWORD') }}"
      spark: {conf: {spark.app.tag: "{{ env_var('H7_TAG') }}"}}
"""


def test_every_missing_variable_of_the_target_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "sqlstream.yml").write_text("name: shop\n")
    (tmp_path / "profiles.yml").write_text(textwrap.dedent(PROFILES).lstrip())
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("H7_USER", "svc")
    with pytest.raises(UserErrors) as info:
        load_project([tmp_path])
    got = [(e.message, e.location.line if e.location else None) for e in info.value.errors]
    assert got == [
        ("environment variable 'H7_BOOTSTRAP' is not set", 5),
        ("environment variable 'H7_PASSWORD' is not set", 9),
        ("environment variable 'H7_TAG' is not set", 10),
    ]
