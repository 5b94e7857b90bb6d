"""Differencing looks beyond earlier releases: at the other outputs of the same request, and at the
project's requests that may still leave (draft, submitted, under review, approved, returned). Two
nested age bands leaving together reveal the few people between them just as a release would."""

from __future__ import annotations

import json

import pytest

from egress_review.states import RequestState

pytestmark = pytest.mark.unit

WIDE = b"alder,K,M\n18-66,120,110\n67+,40,38\n"
NARROW = b"alder,K,M\n18-67,123,110\n68+,37,38\n"  # one year more: 3 women between the two tables


def _rules(env, req_id: str, name: str) -> list[str]:
    f = next(f for f in env.get(req_id).files if f.name == name)
    return [flag["rule"] for flag in json.loads(f.current_version.check_report).get("flags", [])]


def _message(env, req_id: str, name: str) -> str:
    from egress_review.submission import report_context

    v = next(f for f in env.get(req_id).files if f.name == name).current_version
    report = json.loads(env.svc.store.unseal(report_context(v.id), v.check_report_sealed))
    return " ".join(flag["message"] for flag in report["flags"] if flag["rule"] == "differencing")


def test_two_outputs_of_one_request_are_compared(env):
    req = env.make_request(RequestState.DRAFT, files={"wide.csv": WIDE, "narrow.csv": NARROW})
    assert "differencing" not in _rules(env, req, "wide.csv")  # checked first: nothing to compare yet
    assert "differencing" in _rules(env, req, "narrow.csv")
    assert "another output of this request" in _message(env, req, "narrow.csv")


@pytest.mark.parametrize("state", [RequestState.SUBMITTED, RequestState.REVIEWED, RequestState.DRAFT])
def test_a_request_still_under_way_is_compared(env, state):
    earlier = env.make_request(state, files={"wide.csv": WIDE})
    later = env.make_request(RequestState.DRAFT, files={"narrow.csv": NARROW})
    assert "differencing" in _rules(env, later, "narrow.csv")
    assert f"request {earlier[:8]}" in _message(env, later, "narrow.csv")


@pytest.mark.parametrize("state", [RequestState.REJECTED, RequestState.WITHDRAWN])
def test_requests_that_will_never_leave_are_not_compared(env, state):
    env.make_request(state, files={"wide.csv": WIDE})
    later = env.make_request(RequestState.DRAFT, files={"narrow.csv": NARROW})
    assert "differencing" not in _rules(env, later, "narrow.csv")


def test_another_projects_tables_are_not_compared(env):
    env.make_request(RequestState.SUBMITTED, files={"wide.csv": WIDE}, requester="bob", project="beta",
                     checkers=("chris", "cora"))
    mine = env.make_request(RequestState.DRAFT, files={"narrow.csv": NARROW})
    assert "differencing" not in _rules(env, mine, "narrow.csv")
    assert not list(env.svc.store.scratch.iterdir()), "scratch copies of the neighbours are removed"
