"""One-click review and "return with suggested table" (issue 16.6): the suggestion reaches the
researcher only when every blind vote asked for it, only from inside the sandbox, and one click never
decides a request before the second checker's review."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from egress_review import quick_review, review
from egress_review.api.views import check_report
from egress_review.errors import InvalidInput
from egress_review.models import ReturnSuggestion
from egress_review.quick_review import Outcome, Quick
from egress_review.states import RequestState, TransitionError, VoteDecision
from tests.unit.egress.egress_factories import SAFE_CSV, checker, project_token

pytestmark = pytest.mark.unit

SMALL = "district,women,men\nGrefsen,120,4\nSagene,7,95\nFrogner,210,180\nAlna,33,2\n"


def _click(env, req_id, who, action, name="small.csv"):
    def go(s, r):
        f = next(f for f in r.files if f.name == name)
        return quick_review.click(s, env.svc.audit, env.svc.policy, checker(who), r, f, action)

    return env.act(go, req_id)


def _expected_suggestion(env, req_id, name="small.csv") -> str:
    def go(s, r):
        f = next(f for f in r.files if f.name == name)
        return check_report(s, f.current_version, cells=False)["suggested_csv"]

    return env.act(go, req_id)


def _suggestions(env, req_id) -> list[ReturnSuggestion]:
    with env.svc.sessions() as s:
        return list(s.execute(select(ReturnSuggestion).where(ReturnSuggestion.request_id == req_id)).scalars())


def test_two_one_click_returns_attach_the_suggestion_readable_only_inside_the_sandbox(env, client):
    req_id = env.make_request(RequestState.SUBMITTED, files={"small.csv": SMALL.encode()})
    assert _click(env, req_id, "chris", Quick.RETURN_SUGGESTED) is Outcome.REVIEW_SUBMITTED
    assert env.get(req_id).state == "submitted" and not _suggestions(env, req_id)  # one checker decides nothing
    assert _click(env, req_id, "cora", Quick.RETURN_SUGGESTED) is Outcome.RETURN
    req = env.get(req_id)
    assert req.state == "returned"
    [s] = _suggestions(env, req_id)
    assert s.blank_cells == 3 and "Grefsen" not in s.csv_sealed  # sealed at rest
    expected = _expected_suggestion(env, req_id)
    file_id = req.files[0].id

    # inside the sandbox (project token): the cells
    inside = {"Authorization": f"Bearer {project_token('alice', 'alpha')}"}
    listed = client.get(f"/api/v1/requests/{req_id}/suggestions", headers=inside)
    assert listed.status_code == 200 and listed.json()[0]["name"] == "small.csv"
    got = client.get(f"/api/v1/requests/{req_id}/files/{file_id}/suggestion", headers=inside)
    assert got.status_code == 200 and got.text == expected and ",95" in got.text
    # outside (a Keycloak bearer of the same researcher): metadata only
    from tests.unit.egress.test_egress_content_access import FakeKeycloak

    client.app.state.egress.keycloak = FakeKeycloak()
    outside = {"Authorization": "Bearer kc-alice"}
    meta = client.get(f"/api/v1/requests/{req_id}/suggestions", headers=outside)
    assert meta.status_code == 200 and set(meta.json()[0]) == {  # what it is, never what it says
        "file_id", "name", "version", "turn", "sha256", "size", "blank_cells", "created_at"}
    refused = client.get(f"/api/v1/requests/{req_id}/files/{file_id}/suggestion", headers=outside)
    assert refused.status_code == 403 and "Frogner" not in refused.text
    # another project's researcher: not even that it exists
    bob = {"Authorization": f"Bearer {project_token('bob', 'beta')}"}
    assert client.get(f"/api/v1/requests/{req_id}/files/{file_id}/suggestion", headers=bob).status_code == 404
    assert client.get(f"/api/v1/requests/{req_id}/suggestions", headers=bob).status_code == 404


def test_the_researchers_client_reads_the_suggestion(env, client):
    from egress_review.client import EgressClient
    from egress_review.client import suggestions as read_suggestions

    req_id = env.make_request(RequestState.SUBMITTED, files={"small.csv": SMALL.encode()})
    _click(env, req_id, "chris", Quick.RETURN_SUGGESTED)
    _click(env, req_id, "cora", Quick.RETURN_SUGGESTED)
    c = EgressClient("http://testserver", project_token("alice", "alpha"))
    c._http = client  # the app in process (TestClient is an httpx client)
    client.headers["Authorization"] = f"Bearer {project_token('alice', 'alpha')}"
    tables = read_suggestions(req_id, client=c, show=False)
    table = tables["small.csv"]
    assert table.loc["Sagene", "men"] == 95 and table["women"].isna().sum() == 1 and table["men"].isna().sum() == 2


def test_one_checker_alone_attaches_no_suggestion(env):
    """The control: cora requests changes without asking for the suggestion; chris asked for it.
    The request is returned (both want changes) but nothing is attached."""
    req_id = env.make_request(RequestState.SUBMITTED, files={"small.csv": SMALL.encode()})
    _click(env, req_id, "chris", Quick.RETURN_SUGGESTED)
    env.vote_all(req_id, "cora", VoteDecision.CHANGES_REQUESTED, "round these")
    env.act(lambda s, r: review.submit_review(s, env.svc.audit, env.svc.policy, checker("cora"), r), req_id)
    env.act(lambda s, r: review.return_request(s, env.svc.audit, env.svc.policy, checker("cora"), r, "see comments"),
            req_id)
    assert env.get(req_id).state == "returned"
    assert _suggestions(env, req_id) == []


def test_a_checker_cannot_return_before_the_second_review(env):
    req_id = env.make_request(RequestState.SUBMITTED, files={"small.csv": SMALL.encode()})
    _click(env, req_id, "chris", Quick.RETURN_SUGGESTED)
    with pytest.raises(TransitionError):
        env.act(lambda s, r: review.return_request(s, env.svc.audit, env.svc.policy, checker("chris"), r, "now"), req_id)
    assert env.get(req_id).state == "submitted" and _suggestions(env, req_id) == []


def test_only_a_changes_vote_on_a_file_with_a_suggestion_asks_for_it(env):
    req_id = env.make_request(RequestState.SUBMITTED, files={"small.csv": SMALL.encode(), "safe.csv": SAFE_CSV.encode()})

    def vote(name, decision):
        def go(s, r):
            f = next(f for f in r.files if f.name == name)
            review.vote(s, env.svc.audit, env.svc.policy, checker("chris"), r, f, decision=decision, comment="x",
                        attach_suggestion=True)
        return go

    with pytest.raises(InvalidInput, match="only a vote requesting changes"):
        env.act(vote("small.csv", VoteDecision.APPROVE), req_id)
    with pytest.raises(InvalidInput, match="no safe version"):
        env.act(vote("safe.csv", VoteDecision.CHANGES_REQUESTED), req_id)


def test_one_click_approvals_of_both_checkers_approve_and_mixed_votes_return(env):
    clean = env.make_request(RequestState.SUBMITTED, files={"safe.csv": SAFE_CSV.encode()})
    assert _click(env, clean, "chris", Quick.APPROVE, "safe.csv") is Outcome.REVIEW_SUBMITTED
    assert _click(env, clean, "cora", Quick.APPROVE, "safe.csv") is Outcome.APPROVE
    assert env.get(clean).state == "approved"  # the caller releases, as after the decision form

    mixed = env.make_request(RequestState.SUBMITTED, files={"small.csv": SMALL.encode(), "safe.csv": SAFE_CSV.encode()})
    assert _click(env, mixed, "chris", Quick.RETURN_SUGGESTED) is Outcome.VOTED  # safe.csv still waits
    assert _click(env, mixed, "chris", Quick.APPROVE, "safe.csv") is Outcome.REVIEW_SUBMITTED
    _click(env, mixed, "cora", Quick.APPROVE, "safe.csv")
    assert _click(env, mixed, "cora", Quick.RETURN_SUGGESTED) is Outcome.RETURN
    assert [s.file_id for s in _suggestions(env, mixed)] == [f.id for f in env.get(mixed).files if f.name == "small.csv"]

    split = env.make_request(RequestState.SUBMITTED, files={"small.csv": SMALL.encode()})
    _click(env, split, "chris", Quick.RETURN_SUGGESTED)
    assert _click(env, split, "cora", Quick.APPROVE) is Outcome.REVIEWED  # disagreement: the form decides
    assert env.get(split).state == "reviewed"


def test_closing_a_project_with_delete_destroys_the_attached_suggestions(env):
    from egress_review.closure import purge_project

    req_id = env.make_request(RequestState.SUBMITTED, files={"small.csv": SMALL.encode()})
    _click(env, req_id, "chris", Quick.RETURN_SUGGESTED)
    _click(env, req_id, "cora", Quick.RETURN_SUGGESTED)
    assert _suggestions(env, req_id)[0].csv_sealed
    assert env.svc.policy.closed_projects.unreleased_files == "delete"
    with env.svc.sessions() as s:
        purge_project(env.svc, s, "alpha")
    assert _suggestions(env, req_id)[0].csv_sealed == ""
