"""Provisioning's database: migrations to head and a session factory on the shared engine."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from sandkasse.db import make_engine, make_sessionmaker

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str | None = None, engine: Engine | None = None) -> None:
    """Upgrade provisioning's tables to the newest migration (idempotent)."""
    engine = engine or make_engine(url)
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def session_factory(url: str | None = None, *, upgrade: bool = True) -> sessionmaker[Session]:
    """A session factory on ``url`` (default: settings), with the schema upgraded first."""
    engine = make_engine(url)
    if upgrade:
        migrate(engine=engine)
    return make_sessionmaker(engine)
