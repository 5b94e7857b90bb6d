"""PostgreSQL fixtures: a throw-away cluster per run, and a fresh empty database per test on
SQLite and on PostgreSQL (the same models must work on both)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from sandkasse.stack.postgres_server import PostgresServer, throwaway_postgres
from tests.testbed.timing import timed


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A cluster of its own on a free loopback port (outside the checkout, which the postgres user
    may not enter), stopped and deleted after the run."""
    with timed("postgres"):
        server = throwaway_postgres("test")
    yield server
    server.remove()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A SQLAlchemy URL of a new, empty database: a SQLite file in ``tmp_path``, or a database
    created for this test on the session's PostgreSQL cluster (dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.create_database()
    yield url
    server.drop_database(make_url(url).database)
