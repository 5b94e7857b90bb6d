"""Saving a person or a project records one audit event with exactly what changed, and none when nothing
did (provisioning.audit.record_changes), so the chain shows every change and no empty ones."""

from __future__ import annotations

import json
from datetime import date

import pytest

from provisioning import audit, catalogue, db
from provisioning.projects import create_project, update_project
from sandkasse.db import make_engine, make_sessionmaker, session_scope

pytestmark = pytest.mark.unit


@pytest.fixture
def factory(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'prov.db'}")
    db.migrate(engine=engine)
    yield make_sessionmaker(engine)
    engine.dispose()


def _updates(s, object_type: str, object_id: str) -> list[dict]:
    return [json.loads(e.detail) for e in audit.events(s, object_type, object_id) if e.action.endswith(".update")]


def test_a_person_saved_again_records_only_what_changed(factory):
    with session_scope(factory) as s:
        catalogue.upsert_person(s, username="kari", email="kari@kommune.example", roles=["researcher"])
        catalogue.upsert_person(s, username="kari", email="kari@kommune.example", roles=["researcher"])
        assert _updates(s, "person", "kari") == []  # the same again: no event
        person = catalogue.upsert_person(s, username="kari", email="kari@kommune.example", roles=["researcher"],
                                         full_name="Kari Nordmann", reason="name given")
        assert person.full_name == "Kari Nordmann"
        assert _updates(s, "person", "kari") == [{"reason": "name given", "full_name": "Kari Nordmann"}]


def test_a_project_update_changes_and_records_only_what_differs(factory):
    with session_scope(factory) as s:
        create_project(s, slug="p-2026", title="Old", start_date=date(2026, 1, 1), end_date=date(2026, 12, 31))
        assert update_project(s, "p-2026", title="Old") == {}
        assert _updates(s, "project", "p-2026") == []
        assert update_project(s, "p-2026", title="New", purpose="") == {"title": "New"}
        assert _updates(s, "project", "p-2026") == [{"title": "New"}]
