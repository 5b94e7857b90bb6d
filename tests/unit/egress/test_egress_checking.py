"""Automatic checks beside the API (egress_review.checking): an upload is stored as ``pending``, the
service's check queue checks it, checkers cannot vote before that, a crash leaves nothing unchecked,
two workers never check one version, and a file that keeps crashing the checks still reaches checkers."""

from __future__ import annotations

import json
from datetime import timedelta

import anyio
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from egress_review import review, submission
from egress_review.checking import check_version, claim, pending_versions
from egress_review.errors import Conflict
from egress_review.models import EgressAuditEvent, FileVersion
from egress_review.states import RequestState, VoteDecision
from sandkasse.audit import utcnow
from tests.unit.egress.egress_factories import SAFE_CSV, checker, project_token, researcher, wait_checked

pytestmark = pytest.mark.unit

SMALL = b"district,days\nGrefsen,3\nSagene,340\n"


def _new_request(env) -> str:
    """A draft with no files yet."""
    with env.svc.sessions() as s:
        req = submission.create_request(s, env.svc.audit, researcher("alice", "alpha"))
        s.commit()
        return req.id


def _version(env, req_id: str) -> FileVersion:
    [f] = env.get(req_id).files
    return f.current_version


def _checked_events(env, version_id: str) -> list[EgressAuditEvent]:
    with env.svc.sessions() as s:
        return list(s.execute(select(EgressAuditEvent).where(
            EgressAuditEvent.action == "file.checked", EgressAuditEvent.object_id == version_id)).scalars())


def test_upload_is_pending_until_checked_then_verdict_and_audit_event(env):
    p = researcher("alice", "alpha")
    req_id = _new_request(env)
    file_id = env.store_file(p, req_id, "small.csv", SMALL, check=False)
    v = _version(env, req_id)
    assert v.verdict == "pending" and v.checked_at is None and not _checked_events(env, v.id)
    assert anyio.run(check_version, env.svc, v.id) in ("review", "fail")
    v = _version(env, req_id)
    assert v.verdict in ("review", "fail") and v.checked_at is not None and v.check_claimed_at is None
    assert json.loads(v.check_report)["verdict"] == v.verdict
    [event] = _checked_events(env, v.id)
    assert json.loads(event.detail)["verdict"] == v.verdict and event.role == "system"
    assert env.get(req_id).files[0].id == file_id
    # checked once: a second run finds nothing to do
    assert anyio.run(check_version, env.svc, v.id) is None
    assert len(_checked_events(env, v.id)) == 1


def test_checkers_cannot_vote_before_the_checks_are_done(env):
    p = researcher("alice", "alpha")
    req_id = _new_request(env)
    env.store_file(p, req_id, "t.csv", SAFE_CSV.encode(), check=False)
    env.act(lambda s, r: submission.submit(s, env.svc.audit, p, r), req_id)
    with pytest.raises(Conflict, match="still running"):
        env.vote_all(req_id, "chris", VoteDecision.APPROVE)
    # nor is the request in anyone's queue yet
    with env.svc.read_sessions() as s:
        waiting = s.execute(select(review.ReleaseRequest.id).where(review.waiting_for(s, checker("chris"), env.svc.policy))).all()
    assert waiting == []
    anyio.run(check_version, env.svc, _version(env, req_id).id)
    with env.svc.read_sessions() as s:
        waiting = s.execute(select(review.ReleaseRequest.id).where(review.waiting_for(s, checker("chris"), env.svc.policy))).scalars().all()
    assert waiting == [req_id]
    env.vote_all(req_id, "chris", VoteDecision.APPROVE)
    assert [v.reviewer for v in env.get(req_id).files[0].votes] == ["chris"]


def test_the_service_checks_what_a_crash_left_pending(env, tmp_path):
    """Versions stored while no check queue ran (the service died after the upload) are found by the
    sweep when the service starts again."""
    from egress_review.app import create_app

    p = researcher("alice", "alpha")
    req_id = _new_request(env)
    env.store_file(p, req_id, "small.csv", SMALL, check=False)
    env.store_file(p, req_id, "t.csv", SAFE_CSV.encode(), check=False)
    assert {f.current_version.verdict for f in env.get(req_id).files} == {"pending"}
    app = create_app(env.settings)
    with TestClient(app) as client:
        d = wait_checked(client, {"Authorization": f"Bearer {project_token('alice', 'alpha')}"}, req_id)
    assert {f["name"]: f["current_version"]["verdict"] != "pending" for f in d["files"]} == {"small.csv": True, "t.csv": True}


def test_a_lease_keeps_a_version_to_one_worker_until_it_expires(env):
    req_id = _new_request(env)
    env.store_file(researcher("alice", "alpha"), req_id, "t.csv", SAFE_CSV.encode(), check=False)
    vid = _version(env, req_id).id
    first = claim(env.svc, vid)
    assert first is not None and first.attempts == 1 and first.project == "alpha"
    assert claim(env.svc, vid) is None  # another worker (or replica) does not take it
    assert vid not in pending_versions(env.svc)  # nor does the sweep hand it out again
    with env.svc.sessions() as s:  # the first worker died: its lease runs out
        expired = utcnow() - timedelta(seconds=env.svc.policy.uploads.check_lease_seconds + 1)
        s.execute(update(FileVersion).where(FileVersion.id == vid).values(check_claimed_at=expired))
        s.commit()
    assert vid in pending_versions(env.svc)
    second = claim(env.svc, vid)
    assert second is not None and second.attempts == 2


def test_a_file_that_keeps_crashing_the_checks_goes_to_checkers_marked_unchecked(env):
    req_id = _new_request(env)
    env.store_file(researcher("alice", "alpha"), req_id, "t.csv", SAFE_CSV.encode(), check=False)
    vid = _version(env, req_id).id
    with env.svc.sessions() as s:
        s.execute(update(FileVersion).where(FileVersion.id == vid)
                  .values(check_attempts=env.svc.policy.uploads.check_max_attempts))
        s.commit()
    assert anyio.run(check_version, env.svc, vid) == "review"  # never "pass" without a check
    report = json.loads(_version(env, req_id).check_report)
    assert any("failed" in u for u in report["unverifiable"])


def test_released_request_flow_still_needs_checked_files(env):
    req_id = env.make_request(RequestState.RELEASED)
    v = _version(env, req_id)
    assert v.verdict != "pending" and v.checked_at is not None


def test_the_checks_find_the_projects_identifiers_without_the_service_reading_them(env, tmp_path):
    """The check input names the project; the checking side asks provisioning for its identifier
    values (a worker process in production), so the service never holds them."""
    import pandas as pd

    from provisioning import catalogue, projects
    from sandkasse.db import make_engine, make_sessionmaker, session_scope

    source = tmp_path / "staff.csv"
    pd.DataFrame({"national_id": ["01017012345", "02028054321"], "district": ["Grefsen", "Sagene"],
                  "days": [3, 4]}).to_csv(source, index=False)
    engine = make_engine(env.settings.effective_database_url)
    with session_scope(make_sessionmaker(engine)) as s:
        catalogue.create_dataset(s, name="staff", source=source, columns={
            "national_id": "direct_identifier", "district": "quasi_identifier", "days": "sensitive"}, actor="anne")
        projects.grant(s, "alpha", "staff", {"district": "keep", "days": "keep"}, actor="anne")
    engine.dispose()

    p = researcher("alice", "alpha")
    req_id = _new_request(env)
    leak = b"person,days\n01017012345,40\n02028054321,35\n"
    env.store_file(p, req_id, "leak.csv", leak)
    v = _version(env, req_id)
    report = json.loads(v.check_report)
    assert v.verdict == "fail" and any(f["rule"] == "identifier" for f in report["flags"]), report
    # the same bytes from a project without that dataset are not matched against it
    with env.svc.sessions() as s:
        req_b = submission.create_request(s, env.svc.audit, researcher("bob", "beta")).id
        s.commit()
    env.store_file(researcher("bob", "beta"), req_b, "leak.csv", leak)
    [fb] = env.get(req_b).files
    assert [f for f in json.loads(fb.current_version.check_report)["flags"] if f["rule"] == "identifier"] == []
