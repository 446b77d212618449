"""Fixtures of the run-record tests: a real PostgreSQL server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.postgres import (
    PostgresServer,
    PostgresUnavailable,
    start_server,
    stop_server,
)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the session (skips when it cannot start)."""
    try:
        server = start_server()
    except PostgresUnavailable as exc:
        pytest.skip(f"PostgreSQL test servers unavailable: {exc}")
    try:
        yield server
    finally:
        stop_server(server)


@pytest.fixture
def pg_url(pg_server: PostgresServer) -> str:
    """The URL of a fresh database of the test server."""
    return pg_server.create_database()
