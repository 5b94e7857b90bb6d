"""Per-project pseudonymisation keys: random, stored only wrapped under the master key, wiped on close.

The wrap binds the project's slug and id as associated data, so a wrapped key copied onto another
project row does not unwrap."""

from __future__ import annotations

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from provisioning.errors import KeyDestroyed
from provisioning.models import Project, ProjectKey
from sandkasse.audit import utcnow
from sandkasse.keys import generate_key, load_master_key, unwrap_key, wrap_key


def _context(project: Project) -> str:
    return f"sandkasse/provisioning/pseudonym-key/{project.slug}/{project.id}"


def project_key(session: Session, project: Project, master: bytes | None = None, *, create: bool = True) -> bytes:
    """The project's key (created on first use). Raises :class:`KeyDestroyed` after close."""
    master = master if master is not None else load_master_key()
    row = project.key
    if row is not None and row.wrapped is None:
        raise KeyDestroyed(f"the pseudonymisation key of project {project.slug!r} was destroyed on {row.destroyed_at:%Y-%m-%d}")
    if row is None:
        if not create:
            raise KeyDestroyed(f"project {project.slug!r} has no pseudonymisation key")
        key = generate_key()
        project.key = ProjectKey(wrapped=wrap_key(master, key, _context(project)))
        session.flush()
        return key
    return unwrap_key(master, row.wrapped, _context(project))


def has_live_key(project: Project) -> bool:
    return project.key is not None and project.key.wrapped is not None


def destroy_project_key(session: Session, project: Project) -> bool:
    """Wipe the wrapped key; returns False when there was none to destroy."""
    row = project.key
    if row is None or row.wrapped is None:
        return False
    if session.get_bind().dialect.name == "sqlite":
        # Zero freed pages so the wrapped key does not linger in the database file after the update.
        session.execute(text("PRAGMA secure_delete = ON"))
    row.wrapped = None
    row.destroyed_at = utcnow()
    session.flush()
    return True


def scrub_destroyed_keys(engine: Engine) -> None:
    """After the commit that destroyed a key: make the database drop old copies of the row.

    SQLite keeps the previous page in the write-ahead log until a checkpoint; PostgreSQL keeps the dead
    row version until the table is vacuumed (FULL rewrites the small key table into a new file).
    """
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    elif engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f"VACUUM FULL {ProjectKey.__tablename__}")
