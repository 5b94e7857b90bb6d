"""Fixtures for provisioning's database tests: a migrated database from the test bed's ``database_url``
(SQLite and PostgreSQL), a temporary var dir and master key, and a small synthetic data set."""

from __future__ import annotations

from pathlib import Path

import pytest

from provisioning import service
from provisioning.db import migrate
from provisioning.synth import generate, write
from provisioning.synth.generate import SICK_LEAVE_ROLES, STAFF_ROLES
from sandkasse.db import make_engine, make_sessionmaker, session_scope
from sandkasse.keys import encode_key, generate_key
from sandkasse.settings import get_settings



@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    write(generate(employees=1500, seed=99), out, formats=("parquet",))
    return out


@pytest.fixture
def var_dir(tmp_path, monkeypatch) -> Path:
    var = tmp_path / "var"
    monkeypatch.setenv("SANDKASSE_VAR_DIR", str(var))
    monkeypatch.setenv("SANDKASSE_MASTER_KEY", encode_key(generate_key()))
    get_settings.cache_clear()
    yield var
    get_settings.cache_clear()


@pytest.fixture
def factory(database_url, var_dir):
    engine = make_engine(database_url)
    migrate(engine=engine)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def catalogue(factory, synth_dir):
    """The two synthetic datasets registered; an admin ``anne``."""
    with session_scope(factory) as s:
        service.create_dataset(s, name="sick-leave", source=synth_dir / "sick_leave.parquet", columns=SICK_LEAVE_ROLES,
                               classification="special-category", actor="anne")
        service.create_dataset(s, name="staff", source=synth_dir / "staff.parquet", columns=STAFF_ROLES, actor="anne")
        service.upsert_person(s, username="anne", full_name="Anne Admin", roles=["admin"], actor="anne")
    return factory
