"""Database access for the egress service: engine, sessions and migrations.

The egress tables live in the same database as provisioning's (one URL, ``SANDKASSE_DATABASE_URL``)
with their own Alembic history (version table ``alembic_version_egress``).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from sandkasse.db import make_engine as _shared_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str, revision: str = "head") -> None:
    """Bring the egress tables of the database at ``url`` up to ``revision``."""
    command.upgrade(alembic_config(url), revision)


def make_engine(url: str, *, writer: bool = True) -> Engine:
    engine = _shared_engine(url)
    if url.startswith("sqlite") and writer:
        # pysqlite opens transactions lazily and as DEFERRED: two writers that both read first then
        # deadlock on the lock upgrade and one fails at once with "database is locked" instead of
        # waiting. BEGIN IMMEDIATE takes the write lock up front, so writers queue on busy_timeout.
        @event.listens_for(engine, "connect")
        def _no_pysqlite_begin(dbapi_conn, _record) -> None:
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin_immediate(conn) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def sessions(engine: Engine, store: object | None = None) -> sessionmaker[Session]:
    """Sessions carry the quarantine store in ``session.info["egress_store"]`` so the business logic
    can seal and open content-derived items (check reports, sidecars) in the same transaction."""
    return sessionmaker(engine, expire_on_commit=False, info={"egress_store": store})
