"""Conflict of interest outlives membership, and one person has one user name whatever its case:
provisioning remembers every membership period and answers "was ever a member" for egress; user
names are normalised where they enter (``Ingrid`` is ``ingrid``)."""

from __future__ import annotations

import json

import pytest
from alembic import command
from sqlalchemy import create_engine, select, text

from provisioning import api, service
from provisioning.db import alembic_config, migrate
from provisioning.models import Member, MembershipPeriod, Person
from sandkasse.db import session_scope
from tests.integration.provisioning.prov_factories import OPEN_DAY, make_project

pytestmark = pytest.mark.integration


def test_a_removed_member_stays_a_former_member(catalogue):
    make_project(catalogue, "coi", {"kari": "researcher", "ola": "lead"}, {})
    with session_scope(catalogue) as s:
        service.remove_member(s, "coi", "kari", actor="anne", reason="became an output checker")
    with session_scope(catalogue) as s:
        assert api.member_role(s, "kari", "coi") is None, "removed from the project today"
        assert api.was_ever_member(s, "kari", "coi"), "but remembered as a former member"
        assert api.ever_member_of(s, "kari") == {"coi"}
        assert api.was_ever_member(s, "ola", "coi") and not api.was_ever_member(s, "per", "coi")
        period = s.execute(select(MembershipPeriod).where(MembershipPeriod.username == "kari")).scalar_one()
        assert period.left_at is not None
    with session_scope(catalogue) as s:  # re-joining opens a second period; leaving again closes it
        service.add_member(s, "coi", "kari", actor="anne")
        service.remove_member(s, "coi", "kari", actor="anne")
    with session_scope(catalogue) as s:
        periods = s.execute(select(MembershipPeriod).where(MembershipPeriod.username == "kari")).scalars().all()
        assert len(periods) == 2 and all(p.left_at is not None for p in periods)


def test_user_names_compare_case_insensitively(catalogue):
    make_project(catalogue, "case", {"Ingrid": "lead"}, {})
    with session_scope(catalogue) as s:
        service.activate(s, "case", actor="anne", reason="ok")
        service.upsert_person(s, username="Per", roles=["output-checker"], actor="anne")
    with session_scope(catalogue) as s:
        assert s.execute(select(Member.username)).scalars().all() == ["ingrid"]
        assert s.execute(select(Person.username).where(Person.username != "anne")).scalars().all() == ["per"]
        for spelling in ("Ingrid", "ingrid", "INGRID", " ingrid "):
            assert api.member_role(s, spelling, "case") == "lead", spelling
            assert api.can_access_project(s, spelling, "case", on=OPEN_DAY), spelling
            assert api.was_ever_member(s, spelling, "case"), spelling
            assert [p.slug for p in api.projects_for_user(s, spelling, on=OPEN_DAY)] == ["case"]
        assert api.stoppable_servers(s, [("Ingrid", "case")], on=OPEN_DAY) == []
        assert service.get_person(s, "PER").username == "per"
    with session_scope(catalogue) as s:  # the same person cannot be added twice under two spellings
        service.add_member(s, "case", "INGRID", "lead", actor="anne")
        assert len(s.execute(select(Member)).scalars().all()) == 1
        assert service.remove_member(s, "case", "INGRID", actor="anne")
    with session_scope(catalogue) as s:
        assert api.member_role(s, "ingrid", "case") is None and api.was_ever_member(s, "Ingrid", "case")


def test_upgrade_recovers_former_members_from_the_audit_chain_and_lowercases_names(database_url, var_dir):
    """A database at revision 0002 whose members were added and removed before periods were kept."""
    engine = create_engine(database_url)
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002")
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO prov_projects (id, slug, title, purpose, legal_basis, dpia_reference, data_controller, "
            "start_date, end_date, status, created_at, status_changed_at) VALUES (1, 'old', 'Old', '', '', '', '', "
            "'2025-01-01', '2026-12-31', 'active', '2025-01-01 00:00:00', '2025-01-01 00:00:00')"))
        conn.execute(text("INSERT INTO prov_members (project_id, username, role, added_at) "
                          "VALUES (1, 'Ola', 'lead', '2025-01-02 00:00:00')"))
        for seq, action, user in ((1, "member.add", "Kari"), (2, "member.add", "Ola"), (3, "member.remove", "Kari")):
            conn.execute(text(
                "INSERT INTO prov_audit_events (seq, at, actor, role, action, object_type, object_id, source, detail, "
                "prev_hash, hash) VALUES (:seq, '2025-01-02 00:00:00', 'anne', 'admin', :action, 'project', 'old', "
                "'sandkasse-admin', :detail, '', :hash)"), {"seq": seq, "action": action, "hash": f"h{seq}",
                                                            "detail": json.dumps({"username": user})})
    migrate(database_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT username FROM prov_members")).scalars().all() == ["ola"]
        rows = conn.execute(text("SELECT username, left_at IS NOT NULL FROM prov_membership_periods ORDER BY username")).all()
        assert [tuple(r) for r in rows] == [("kari", True), ("ola", False)]
    engine.dispose()


def test_a_project_file_spelling_a_member_otherwise_changes_nothing():
    from provisioning.declarative import ProjectSpec

    spec = ProjectSpec(slug="p", title="P", start_date="2026-01-01", end_date="2026-12-31",
                       members={"Ingrid": "lead", "ola": "researcher"})
    assert spec.members == {"ingrid": "lead", "ola": "researcher"}
    with pytest.raises(ValueError, match="listed twice"):
        ProjectSpec(slug="p", title="P", start_date="2026-01-01", end_date="2026-12-31",
                    members={"Ingrid": "lead", "ingrid": "researcher"})
