"""One real Schema Registry (Apicurio, ``sqlstream.local.registry``) per test session, for the
``*-confluent`` formats; ``SQLSTREAM_TEST_REGISTRY=<url>`` uses one you run instead."""

from __future__ import annotations

import os
import typing as t

import pytest


@pytest.fixture(scope="session")
def registry_url(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[str]:
    """The Confluent-compatible API of the session's registry."""
    if os.environ.get("SQLSTREAM_TEST_REGISTRY"):
        yield os.environ["SQLSTREAM_TEST_REGISTRY"]
        return
    from sqlstream.local import registry

    state_dir = tmp_path_factory.mktemp("registry")
    running = registry.up(port=0, state_dir=state_dir)
    try:
        yield running.url
    finally:
        registry.down(state_dir)
