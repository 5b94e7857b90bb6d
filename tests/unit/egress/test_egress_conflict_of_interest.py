"""Conflict of interest is remembered and spelled one way: a checker removed from a project still
cannot review it (provisioning keeps membership periods), and ``Anna`` is ``anna``."""

from __future__ import annotations

import pytest

from egress_review import review
from egress_review.errors import Forbidden
from egress_review.identity.principal import Principal, Role, Via
from egress_review.states import RequestState, VoteDecision
from sandkasse.db import make_engine, make_sessionmaker, session_scope

pytestmark = pytest.mark.unit


def _checker(name: str) -> Principal:
    return Principal(name, frozenset({Role.CHECKER}), None, Via.KEYCLOAK)


def _remove_member(env, project: str, username: str) -> None:
    from provisioning import service

    engine = make_engine(env.settings.effective_database_url)
    with session_scope(make_sessionmaker(engine)) as s:
        service.remove_member(s, project, username, actor="anne", reason="moved to output checking")
    engine.dispose()


def _vote(env, who: Principal, req_id: str) -> None:
    env.act(lambda s, r: review.vote(s, env.svc.audit, env.svc.policy, who, r, r.files[0], decision=VoteDecision.APPROVE),
            req_id)


def test_a_removed_member_still_cannot_review_the_project(env):
    req_id = env.make_request(RequestState.SUBMITTED)
    _remove_member(env, "alpha", "anna")  # lead of alpha until today, now an output checker
    anna = _checker("anna")
    with pytest.raises(Forbidden, match="were a member of project alpha"):
        _vote(env, anna, req_id)
    with env.svc.sessions() as s:
        assert review.queue(s, anna, env.svc.policy) == [], "the queue applies the same rule"
        assert [r.id for r in review.queue(s, _checker("chris"), env.svc.policy)] == [req_id]


@pytest.mark.parametrize("spelling", ["Anna", "ANNA", " anna"])
def test_a_member_spelled_otherwise_is_still_a_member(env, spelling):
    req_id = env.make_request(RequestState.SUBMITTED)
    with pytest.raises(Forbidden, match="member of project alpha"):
        _vote(env, _checker(spelling), req_id)
    with env.svc.sessions() as s:
        assert review.queue(s, _checker(spelling), env.svc.policy) == []


def test_the_requester_spelled_otherwise_cannot_review_their_request(env):
    req_id = env.make_request(RequestState.SUBMITTED, requester="alice")
    _remove_member(env, "alpha", "alice")  # past membership aside, the own-request rule holds by itself
    with pytest.raises(Forbidden, match="own request|member of project alpha"):
        _vote(env, _checker("Alice"), req_id)
    assert _checker("Alice").username == "alice"
