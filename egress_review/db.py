"""Database access for the egress service: engine, sessions and migrations.

The egress tables live in the same database as provisioning's (one URL, ``SANDKASSE_DATABASE_URL``)
with their own Alembic history (version table ``alembic_version_egress``).
"""

from __future__ import annotations

import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from sandkasse.db import SQLITE_BUSY_SECONDS
from sandkasse.db import make_engine as _shared_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_HOLDS_WRITE_LOCK = "egress_holds_write_lock"


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
        # waiting. BEGIN IMMEDIATE takes the write lock up front.
        # Writers of this process also queue on a lock of their own first: SQLite's busy handler
        # makes a waiting writer sleep up to 100 ms between tries, so under load the database lock
        # sat free while every writer slept; a thread waiting here wakes the moment it is released.
        # (Other processes still meet SQLite's lock and busy_timeout.)
        write_lock = threading.Lock()
        lock_timeout = float(SQLITE_BUSY_SECONDS)

        @event.listens_for(engine, "connect")
        def _no_pysqlite_begin(dbapi_conn, _record) -> None:
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin_immediate(conn) -> None:
            if not write_lock.acquire(timeout=lock_timeout):
                raise TimeoutError(f"no database write slot within {lock_timeout:g} s")
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                write_lock.release()
                raise
            conn.info[_HOLDS_WRITE_LOCK] = True

        @event.listens_for(engine, "commit")
        @event.listens_for(engine, "rollback")
        def _end(conn) -> None:
            if conn.info.pop(_HOLDS_WRITE_LOCK, False):
                write_lock.release()

        @event.listens_for(engine, "checkin")
        def _returned(_dbapi_conn, record) -> None:
            # a connection given back without its commit or rollback (dropped, invalidated) frees the slot too
            if record is not None and record.info.pop(_HOLDS_WRITE_LOCK, False):
                write_lock.release()

    return engine


WRITER = "egress_writer"


def sessions(engine: Engine, store: object | None = None, *, writer: bool = True) -> sessionmaker[Session]:
    """Sessions carry the quarantine store in ``session.info["egress_store"]`` so the business logic
    can seal and open content-derived items (check reports, sidecars) in the same transaction.

    In writer sessions a release request is row-locked when loaded (see
    :func:`egress_review.submission.get_request`): every write then takes the request's row before
    the audit chain's head, always in that order, so two writers never wait on each other in a cycle.
    """
    return sessionmaker(engine, expire_on_commit=False, info={"egress_store": store, WRITER: writer})
