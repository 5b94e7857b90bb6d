"""Fixtures for provisioning's database tests: a migrated database from the test bed's ``database_url``
(SQLite and PostgreSQL), a temporary var dir and master key, and a small synthetic data set."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from provisioning import service
from provisioning.db import migrate
from provisioning.synth import generate, write
from provisioning.synth.generate import SICK_LEAVE_ROLES, STAFF_ROLES
from sandkasse.db import make_engine, make_sessionmaker, session_scope
from sandkasse.keys import encode_key, generate_key
from sandkasse.settings import get_settings

START, END = date(2026, 1, 1), date(2026, 12, 31)
OPEN_DAY = date(2026, 6, 1)


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


def make_project(factory, slug: str, members: dict[str, str], grants: dict[str, dict], filters: dict | None = None,
                 status: str = "approved") -> None:
    """A project at ``status`` (draft or approved) with members and grants, in one line of a test."""
    with session_scope(factory) as s:
        service.create_project(s, slug=slug, title=slug, start_date=START, end_date=END, actor="anne")
        for user, role in members.items():
            service.add_member(s, slug, user, role, actor="anne")
        for dataset, columns in grants.items():
            service.grant(s, slug, dataset, columns, row_filter=(filters or {}).get(dataset), actor="anne")
        if status == "approved":
            service.approve(s, slug, actor="anne", reason="approved by the data protection officer")


# A grant that meets k=5 (only gender and a 10-year age band as quasi-identifiers).
SAFE_GRANT = {"national_id": "pseudonymise", "gender": "keep", "days": "keep", "diagnosis_group": "keep"}
