"""One real Schema Registry (Apicurio, ``sqlstream.local.registry``) per test session, for the
``*-confluent`` formats; ``SQLSTREAM_TEST_REGISTRY=<url>`` uses one you run instead."""

from __future__ import annotations

import os
import typing as t

import pytest


@pytest.fixture(scope="session")
def local_registry(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[t.Any]:
    """The session's ``local.registry.Registry``; None with ``SQLSTREAM_TEST_REGISTRY``."""
    if os.environ.get("SQLSTREAM_TEST_REGISTRY"):
        yield None
        return
    from sqlstream.local import registry

    state_dir = tmp_path_factory.mktemp("registry")
    running = registry.up(port=0, state_dir=state_dir)
    try:
        yield running
    finally:
        registry.down(state_dir)


@pytest.fixture(scope="session")
def registry_url(local_registry: t.Any) -> str:
    """The Confluent-compatible API of the session's registry. Every test's client sets a
    ``timeout``: without one, a pooled connection the registry had closed once kept a
    ProtobufSerializer waiting for minutes."""
    if local_registry is None:
        return os.environ["SQLSTREAM_TEST_REGISTRY"]
    return str(local_registry.url)
