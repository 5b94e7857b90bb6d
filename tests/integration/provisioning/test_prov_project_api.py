import json
from datetime import date

import pytest
from sqlalchemy import select, update

from provisioning import api, audit, service
from provisioning.errors import InvalidTransition
from provisioning.models import ProvisioningAuditEvent
from sandkasse.db import session_scope
from tests.integration.provisioning.prov_factories import END, OPEN_DAY, SAFE_GRANT, make_project

pytestmark = pytest.mark.integration


def test_read_api_answers_for_members_of_open_projects(catalogue, synth_dir):
    make_project(catalogue, "open-one", {"ingrid": "lead", "ola": "researcher"}, {"sick-leave": SAFE_GRANT})
    make_project(catalogue, "other", {"jonas": "researcher"}, {})
    with session_scope(catalogue) as s:
        service.activate(s, "open-one", actor="anne", reason="ok")
        service.activate(s, "other", actor="anne", reason="ok")
    with session_scope(catalogue) as s:
        assert [p.slug for p in api.projects_for_user(s, "ingrid", on=OPEN_DAY)] == ["open-one"]
        assert api.projects_for_user(s, "ingrid", on=date(2027, 1, 1)) == []
        assert api.member_role(s, "ingrid", "open-one") == "lead"
        assert api.member_role(s, "ingrid", "other") is None
        assert api.can_access_project(s, "ola", "open-one", on=OPEN_DAY)
        assert not api.can_access_project(s, "ingrid", "other", on=OPEN_DAY)
        assert not api.can_access_project(s, "ola", "open-one", on=END.replace(year=2027))
        assert not api.can_access_project(s, "ola", "missing", on=OPEN_DAY)
        running = [("ola", "open-one"), ("ingrid", "other"), ("jonas", "other"), ("x", "gone")]
        assert api.stoppable_servers(s, running, on=OPEN_DAY) == [("ingrid", "other"), ("x", "gone")]
        info = api.get_project(s, "open-one")
        assert info.status == "active" and info.members == {"ingrid": "lead", "ola": "researcher"}
        ids = api.identifier_values(s, "open-one")
        import pandas as pd

        staff = pd.read_parquet(synth_dir / "sick_leave.parquet", columns=["national_id", "last_name"])
        assert set(staff.national_id) <= ids and set(staff.last_name.astype(str)) <= ids
        assert api.identifier_values(s, "other") == set()
        quasi = api.quasi_identifier_values(s, "open-one")  # the identifier scan's negative list
        units = pd.read_parquet(synth_dir / "sick_leave.parquet", columns=["unit"])
        assert set(units.unit.astype(str)) <= quasi and not quasi & set(staff.national_id)
        assert api.extract_dir("open-one").name == "data"
        with pytest.raises(ValueError):
            api.extract_dir("../etc")

    with session_scope(catalogue) as s:
        service.remove_member(s, "open-one", "ola", actor="anne", reason="left the team")
        service.suspend(s, "other", actor="anne", reason="DPIA under review")
    with session_scope(catalogue) as s:
        assert api.stoppable_servers(s, [("ola", "open-one"), ("jonas", "other"), ("ingrid", "open-one")], on=OPEN_DAY) == [
            ("ola", "open-one"), ("jonas", "other")]


def test_every_change_is_an_audit_event_and_tampering_shows(catalogue):
    make_project(catalogue, "audited", {"ingrid": "lead"}, {"sick-leave": SAFE_GRANT})
    with session_scope(catalogue) as s:
        service.activate(s, "audited", actor="anne", reason="ethics board 2026-03")
        service.suspend(s, "audited", actor="anne", reason="incident 42")
    with session_scope(catalogue) as s:
        events = audit.events(s, "project", "audited")
        actions = [e.action for e in events]
        assert actions == ["project.create", "member.add", "entitlement.grant", "project.approve", "extract.build",
                           "project.activate", "project.suspend"]
        assert all(e.actor == "anne" and e.at is not None for e in events)
        assert json.loads(events[-1].detail)["reason"] == "incident 42"
        assert audit.verify(s).ok
    with session_scope(catalogue) as s:
        s.execute(update(ProvisioningAuditEvent).where(ProvisioningAuditEvent.action == "project.suspend")
                  .values(detail=json.dumps({"reason": "routine"})))
    with session_scope(catalogue) as s:
        report = audit.verify(s)
        bad = s.execute(select(ProvisioningAuditEvent).where(ProvisioningAuditEvent.action == "project.suspend")).scalar_one()
        assert not report.ok and report.chain.first_bad_seq == bad.seq


def test_a_closed_project_stays_closed(catalogue):
    make_project(catalogue, "done", {"ingrid": "lead"}, {})
    with session_scope(catalogue) as s:
        service.close(s, "done", actor="anne", reason="withdrawn")
    for step in (service.activate, service.approve):
        with pytest.raises(InvalidTransition, match="closed"):
            with session_scope(catalogue) as s:
                step(s, "done", actor="anne")


def test_committed_events_are_shipped_as_json_lines_and_rolled_back_ones_are_not(catalogue):
    path = audit.jsonl_path()
    make_project(catalogue, "shipped", {"ingrid": "lead"}, {}, status="draft")
    with pytest.raises(RuntimeError):
        with session_scope(catalogue) as s:
            service.add_member(s, "shipped", "ola", actor="anne")
            raise RuntimeError("abort")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    with session_scope(catalogue) as s:
        rows = audit.events(s)
    assert [(e["seq"], e["hash"]) for e in lines] == [(r.seq, r.hash) for r in rows]
    assert not any(e["detail"] and "ola" in e["detail"] for e in lines)
