"""Alembic environment of the egress service: its own version table, so its history is independent of
provisioning's although both live in the same database."""

from __future__ import annotations

from alembic import context

from egress_review.models import Base
from sandkasse.db import make_engine

VERSION_TABLE = "alembic_version_egress"
config = context.config


def _include(obj, name, type_, reflected, compare_to) -> bool:
    # Only our tables: the database also holds provisioning's.
    if type_ == "table":
        return name is not None and name.startswith("egress_")
    return True


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=Base.metadata,
        version_table=VERSION_TABLE,
        literal_binds=True,
        include_object=_include,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        engine = make_engine(config.get_main_option("sqlalchemy.url"))
        with engine.connect() as conn:
            _run(conn)
        engine.dispose()
    else:
        _run(connection)


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        version_table=VERSION_TABLE,
        include_object=_include,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
