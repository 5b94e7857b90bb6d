"""PostgreSQL fixtures: a throw-away cluster per run, and a fresh empty database per test on
SQLite and on PostgreSQL (the same models must work on both)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from sandkasse.stack.postgres_server import PostgresServer, ensure_postgres
from sandkasse.stack.process import free_port
from tests.testbed.timing import timed


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A cluster in a temporary directory on a free loopback port, stopped and deleted after the run."""
    parent = Path(tempfile.mkdtemp(prefix="sandkasse-pg-"))
    parent.chmod(0o755)  # the postgres user must reach its data directory inside
    with timed("postgres"):
        server = ensure_postgres(f"test-{parent.name}", parent / "data", free_port(), durable=False)
    yield server
    try:
        server.stop()
    finally:
        server.password_file.unlink(missing_ok=True)
        shutil.rmtree(parent, ignore_errors=True)


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
