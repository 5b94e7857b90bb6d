"""The state machine: one table, every state owned, every transition allowed or refused as the table
says, by the real business logic, with nothing changed and nothing audited on a refusal."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from egress_review import review, submission, transition
from egress_review.audit import SYSTEM, Actor
from egress_review.errors import EgressError
from egress_review.models import EgressAuditEvent
from egress_review.release.release import release
from egress_review.states import (
    ACTION_ACTOR,
    OWNERS,
    TRANSITIONS,
    Action,
    Owner,
    RequestState,
    TransitionError,
    check_transition,
    mermaid,
)
from tests.unit.egress.egress_factories import checker, researcher

pytestmark = pytest.mark.unit


def test_every_state_has_exactly_one_owner():
    assert set(OWNERS) == set(RequestState)
    assert all(isinstance(o, Owner) for o in OWNERS.values())


def test_every_action_has_an_actor_and_transitions_use_known_states():
    assert set(ACTION_ACTOR) == set(Action)
    for (source, action), target in TRANSITIONS.items():
        assert source in RequestState and target in RequestState and action in Action


def test_table_is_the_documented_machine():
    expected = {
        ("draft", "submit"): "submitted", ("draft", "withdraw"): "withdrawn",
        ("submitted", "review"): "reviewed", ("reviewed", "approve"): "approved",
        ("reviewed", "return"): "returned", ("reviewed", "reject"): "rejected",
        ("approved", "release"): "released", ("returned", "resubmit"): "submitted",
        ("returned", "withdraw"): "withdrawn",
    }
    assert {(s.value, a.value): t.value for (s, a), t in TRANSITIONS.items()} == expected


def test_generated_diagram_matches_the_table():
    doc = (Path(__file__).resolve().parents[3] / "egress_review" / "states.md").read_text()
    assert mermaid() in doc, "egress_review/states.md is stale: regenerate it from states.mermaid()"


@pytest.mark.parametrize("state", list(RequestState))
@pytest.mark.parametrize("action", list(Action))
def test_pure_table_check(state, action):
    if (state, action) in TRANSITIONS:
        assert check_transition(state, action) == TRANSITIONS[(state, action)]
    else:
        with pytest.raises(TransitionError):
            check_transition(state, action)


def _attempt(env, req_id, action: Action):
    """Try ``action`` through the business function a real caller uses."""
    svc = env.svc
    alice, chris = researcher("alice", "alpha"), checker("chris")
    fns = {
        Action.SUBMIT: lambda s, r: submission.submit(s, svc.audit, alice, r),
        Action.RESUBMIT: lambda s, r: submission.submit(s, svc.audit, alice, r),
        Action.WITHDRAW: lambda s, r: submission.withdraw_request(s, svc.audit, alice, r),
        Action.REVIEW: lambda s, r: transition.apply(s, svc.audit, r, Action.REVIEW, SYSTEM),
        Action.APPROVE: lambda s, r: review.approve(s, svc.audit, svc.policy, chris, r),
        Action.RETURN: lambda s, r: review.return_request(s, svc.audit, svc.policy, chris, r, "round to 5"),
        Action.REJECT: lambda s, r: review.reject(s, svc.audit, svc.policy, chris, r, "no"),
        Action.RELEASE: lambda s, r: release(s, svc.audit, svc.store, svc.signer, svc.release_dir, r),
    }
    return env.act(fns[action], req_id)


def _events(env) -> int:
    with env.svc.sessions() as s:
        return s.execute(select(func.count()).select_from(EgressAuditEvent)).scalar_one()


@pytest.mark.parametrize("state", list(RequestState))
@pytest.mark.parametrize("action", list(Action))
def test_business_logic_follows_the_table(env, state, action):
    req_id = env.make_request(state)
    before = _events(env)
    # submit and resubmit are one researcher action ("submit"), chosen by the current state
    allowed = (state, action) in TRANSITIONS or (
        action in (Action.SUBMIT, Action.RESUBMIT)
        and (state, Action.SUBMIT if action == Action.RESUBMIT else Action.RESUBMIT) in TRANSITIONS
    )
    if allowed:
        _attempt(env, req_id, action)
        after = env.get(req_id).state
        assert after != state.value
        assert _events(env) > before
    else:
        with pytest.raises((TransitionError, EgressError)):
            _attempt(env, req_id, action)
        assert env.get(req_id).state == state.value
        assert _events(env) == before, "a refused transition wrote an audit event"


def test_transition_refuses_the_wrong_kind_of_actor(env):
    req_id = env.make_request(RequestState.SUBMITTED)
    with pytest.raises(EgressError):
        env.act(lambda s, r: transition.apply(s, env.svc.audit, r, Action.REVIEW, Actor("chris", "output-checker")), req_id)
    assert env.get(req_id).state == "submitted"


def test_transition_and_event_share_one_transaction(env, monkeypatch):
    """If writing the audit event fails, the state change is rolled back with it."""
    req_id = env.make_request(RequestState.DRAFT)

    def boom(*a, **k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(env.svc.audit, "record", boom)
    with pytest.raises(RuntimeError):
        env.act(lambda s, r: submission.submit(s, env.svc.audit, researcher("alice", "alpha"), r), req_id)
    assert env.get(req_id).state == "draft"
