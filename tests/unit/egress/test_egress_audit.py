"""The audit log: every change audited in its transaction; edits, deletions, reorderings and a cut
tail are detected and located; JSON lines mirror committed events only."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import delete, select, update

from egress_review import submission
from egress_review.audit import head_key
from egress_review.models import AuditHead, EgressAuditEvent
from sandkasse.keys import load_master_key
from egress_review.states import RequestState
from sandkasse.audit import event_hash
from tests.unit.egress.egress_factories import researcher

pytestmark = pytest.mark.unit


def _verify(env):
    with env.svc.sessions() as s:
        return env.svc.audit.verify(s)


def _events(env):
    with env.svc.sessions() as s:
        return list(s.execute(select(EgressAuditEvent).order_by(EgressAuditEvent.seq)).scalars())


def test_a_released_request_leaves_a_complete_verifiable_trail(env):
    req_id = env.make_request(RequestState.RELEASED)
    report = _verify(env)
    assert report.ok, str(report)
    actions = [e.action for e in _events(env) if e.object_id == req_id]
    for expected in ("request.create", "request.submit", "request.review", "request.approve", "request.release"):
        assert expected in actions
    ev = next(e for e in _events(env) if e.action == "request.submit")
    assert ev.actor == "alice" and ev.role == "researcher"
    assert json.loads(ev.detail)["from"] == "draft" and json.loads(ev.detail)["to"] == "submitted"
    review_ev = next(e for e in _events(env) if e.action == "request.review")
    assert review_ev.role == "system"


def _tamper(env, stmt):
    with env.svc.sessions() as s:
        s.execute(stmt)
        s.commit()


def test_edited_row_is_detected_and_located(env):
    env.make_request(RequestState.SUBMITTED)
    _tamper(env, update(EgressAuditEvent).where(EgressAuditEvent.seq == 3).values(actor="mallory"))
    report = _verify(env)
    assert not report.ok and report.chain.first_bad_seq == 3 and "edited" in report.chain.problem


def test_deleted_row_is_detected(env):
    env.make_request(RequestState.SUBMITTED)
    _tamper(env, delete(EgressAuditEvent).where(EgressAuditEvent.seq == 2))
    report = _verify(env)
    assert not report.ok and report.chain.first_bad_seq == 3


def test_reordered_rows_are_detected(env):
    env.make_request(RequestState.SUBMITTED)
    with env.svc.sessions() as s:
        a, b = (s.get(EgressAuditEvent, 2), s.get(EgressAuditEvent, 3))
        fields_a = {c: getattr(a, c) for c in ("at", "actor", "role", "action", "object_type", "object_id", "detail")}
        for c in fields_a:
            setattr(a, c, getattr(b, c))
            setattr(b, c, fields_a[c])
        s.commit()
    assert not _verify(env).ok


def test_cut_tail_is_detected_by_the_sealed_head(env):
    env.make_request(RequestState.SUBMITTED)
    last = _events(env)[-1].seq
    _tamper(env, delete(EgressAuditEvent).where(EgressAuditEvent.seq == last))
    report = _verify(env)
    assert report.chain.ok, "what is left is a valid chain: only the head can tell"
    assert not report.ok and any("cut off" in p for p in report.problems)


def test_cut_tail_with_forged_head_is_detected_by_the_seal(env):
    env.make_request(RequestState.SUBMITTED)
    events = _events(env)
    prev = events[-2]
    _tamper(env, delete(EgressAuditEvent).where(EgressAuditEvent.seq == events[-1].seq))
    _tamper(env, update(AuditHead).values(seq=prev.seq, hash=prev.hash))  # the attacker has no master key
    report = _verify(env)
    assert not report.ok and any("seal" in p for p in report.problems)


def test_whole_chain_rewritten_consistently_is_still_detected(env):
    """Recomputing every hash after an edit makes the chain itself valid; the seal and the shipped
    JSON lines still show it."""
    env.make_request(RequestState.SUBMITTED)
    with env.svc.sessions() as s:
        rows = list(s.execute(select(EgressAuditEvent).order_by(EgressAuditEvent.seq)).scalars())
        rows[1].actor = "mallory"
        prev = "0" * 64
        for r in rows:
            r.prev_hash = prev
            r.hash = event_hash(prev, r.chained_fields())
            prev = r.hash
        s.commit()
    report = _verify(env)
    assert report.chain.ok
    assert not report.ok
    assert any("JSON line" in p for p in report.problems) and any("seal" in p or "rewritten" in p for p in report.problems)


def test_jsonl_mirrors_committed_events_only(env):
    req_id = env.make_request(RequestState.DRAFT)
    lines = [json.loads(x) for x in env.settings.audit_jsonl.read_text().splitlines()]
    assert [x["seq"] for x in lines] == [e.seq for e in _events(env)]
    assert all(x["hash"] == e.hash for x, e in zip(lines, _events(env)))
    # a transaction that fails after writing its event ships nothing
    with pytest.raises(RuntimeError):
        with env.svc.sessions() as s:
            req = submission.get_request(s, req_id)
            submission.submit(s, env.svc.audit, researcher("alice", "alpha"), req)
            raise RuntimeError("crash before commit")
    assert len(env.settings.audit_jsonl.read_text().splitlines()) == len(lines)
    assert _verify(env).ok


def test_head_seal_uses_the_master_key(env):
    env.make_request(RequestState.DRAFT)
    assert env.svc.audit.seal_key == head_key(load_master_key(env.settings))
