"""Independent two-person review: votes per file, blinding, conflicts, conflict of interest,
resubmission resetting votes on changed files, and when a request is releasable."""

from __future__ import annotations

from pathlib import Path

import pytest

from egress_review import review, submission, visibility
from egress_review.errors import Conflict, Forbidden, InvalidInput
from egress_review.identity.principal import Principal, Role, Via
from egress_review.policy import load_egress_policy
from egress_review.states import FileDecision, RequestState, Visibility, VoteDecision
from tests.unit.egress.egress_factories import SAFE_CSV, checker, make_env, researcher

pytestmark = pytest.mark.unit

TWO = {"a.csv": SAFE_CSV.encode(), "b.csv": SAFE_CSV.replace("120", "130").encode()}


def _submit_review(env, req_id, name):
    env.act(lambda s, r: review.submit_review(s, env.svc.audit, env.svc.policy, checker(name), r), req_id)


def _vote(env, req_id, name, file_name, decision, comment="fine"):
    def go(s, r):
        f = next(f for f in r.files if f.name == file_name)
        return review.vote(s, env.svc.audit, env.svc.policy, checker(name), r, f, decision=decision, comment=comment)

    env.act(go, req_id)


def test_one_review_is_not_enough(env):
    req_id = env.make_request(RequestState.SUBMITTED)
    env.vote_all(req_id, "chris", VoteDecision.APPROVE)
    _submit_review(env, req_id, "chris")
    assert env.get(req_id).state == "submitted"
    with pytest.raises(Conflict, match="every output file must be approved"):
        env.act(lambda s, r: review.approve(s, env.svc.audit, env.svc.policy, checker("chris"), r), req_id)
    env.vote_all(req_id, "cora", VoteDecision.APPROVE)
    _submit_review(env, req_id, "cora")
    req = env.get(req_id)
    assert req.state == "reviewed"
    assert all(f.decision == FileDecision.APPROVED for f in req.files)


def test_same_checker_cannot_count_twice(env):
    req_id = env.make_request(RequestState.SUBMITTED)
    env.vote_all(req_id, "chris", VoteDecision.APPROVE)
    _submit_review(env, req_id, "chris")
    with pytest.raises(Conflict):
        _submit_review(env, req_id, "chris")
    with pytest.raises(Conflict):
        env.vote_all(req_id, "chris", VoteDecision.APPROVE)
    assert env.get(req_id).state == "submitted"


def test_review_needs_a_vote_on_every_output(env):
    req_id = env.make_request(RequestState.SUBMITTED, files=TWO)
    _vote(env, req_id, "chris", "a.csv", VoteDecision.APPROVE)
    with pytest.raises(InvalidInput, match="b.csv"):
        _submit_review(env, req_id, "chris")


def test_required_approvals_comes_from_policy(tmp_path):
    policy = tmp_path / "egress.yaml"
    text = (Path(__file__).resolve().parents[3] / "policies" / "egress.yaml").read_text()
    policy.write_text(text.replace("required_approvals: 2", "required_approvals: 3"))
    assert load_egress_policy(policy).review.required_approvals == 3
    env = make_env(tmp_path / "x")
    env.svc.policy = load_egress_policy(policy)
    req_id = env.make_request(RequestState.SUBMITTED)
    for name in ("chris", "cora"):
        env.vote_all(req_id, name, VoteDecision.APPROVE)
        _submit_review(env, req_id, name)
    assert env.get(req_id).state == "submitted"
    env.vote_all(req_id, "cleo", VoteDecision.APPROVE)
    _submit_review(env, req_id, "cleo")
    assert env.get(req_id).state == "reviewed"


def test_votes_are_blinded_until_both_reviews_are_in(env):
    req_id = env.make_request(RequestState.SUBMITTED)
    env.vote_all(req_id, "chris", VoteDecision.CHANGES_REQUESTED, "suppress Grefsen")
    env.act(lambda s, r: review.add_comment(s, env.svc.audit, env.svc.policy, checker("chris"), r,
                                           text="secret note", visibility=Visibility.CHECKERS), req_id)
    _submit_review(env, req_id, "chris")
    env.vote_all(req_id, "cora", VoteDecision.APPROVE)
    req = env.get(req_id)
    votes = req.files[0].votes
    cora, chris = checker("cora"), checker("chris")
    assert [v.reviewer for v in visibility.visible_votes(cora, req, votes, True)] == ["cora"]
    assert [v.reviewer for v in visibility.visible_votes(chris, req, votes, True)] == ["chris"]
    assert visibility.visible_comments(cora, req, True) == []
    assert not visibility.visible_decisions(req, True)
    _submit_review(env, req_id, "cora")
    req = env.get(req_id)
    assert {v.reviewer for v in visibility.visible_votes(cora, req, req.files[0].votes, True)} == {"chris", "cora"}
    assert [c.text for c in visibility.visible_comments(cora, req, True)] == ["secret note"]


def test_blinding_through_the_api(env, client):
    """The request page a checker gets hides the other checker's vote while blinded."""
    req_id = env.make_request(RequestState.SUBMITTED)
    env.vote_all(req_id, "chris", VoteDecision.APPROVE)
    from egress_review.api.views import detail

    with env.svc.sessions() as s:
        req = submission.get_request(s, req_id)
        out = detail(s, checker("cora"), req, env.svc.policy)
    assert out.files[0].votes == []
    assert out.files[0].decision == "pending"


def test_disagreement_conflicts_until_a_checker_resolves_it(env):
    req_id = env.make_request(RequestState.SUBMITTED)
    env.vote_all(req_id, "chris", VoteDecision.APPROVE)
    _submit_review(env, req_id, "chris")
    env.vote_all(req_id, "cora", VoteDecision.CHANGES_REQUESTED, "round to nearest 5")
    _submit_review(env, req_id, "cora")
    req = env.get(req_id)
    assert req.state == "reviewed" and req.files[0].decision == FileDecision.CONFLICTED
    with pytest.raises(Conflict, match="approved or withdrawn"):
        env.act(lambda s, r: review.approve(s, env.svc.audit, env.svc.policy, checker("chris"), r), req_id)
    env.vote_all(req_id, "cora", VoteDecision.APPROVE)
    assert env.get(req_id).files[0].decision == FileDecision.APPROVED
    env.act(lambda s, r: review.approve(s, env.svc.audit, env.svc.policy, checker("chris"), r), req_id)
    assert env.get(req_id).state == "approved"


def test_requester_cannot_review_their_own_request(env):
    req_id = env.make_request(RequestState.SUBMITTED)
    alice_checker = Principal("alice", frozenset({Role.CHECKER}), None, Via.KEYCLOAK)
    with pytest.raises(Forbidden, match="own request"):
        env.act(lambda s, r: review.vote(s, env.svc.audit, env.svc.policy, alice_checker, r, r.files[0],
                                         decision=VoteDecision.APPROVE), req_id)


def test_project_member_cannot_review(env):
    req_id = env.make_request(RequestState.SUBMITTED)
    anna = Principal("anna", frozenset({Role.CHECKER}), None, Via.KEYCLOAK)  # lead of alpha, not requester
    with pytest.raises(Forbidden, match="member of project alpha"):
        env.act(lambda s, r: review.vote(s, env.svc.audit, env.svc.policy, anna, r, r.files[0],
                                         decision=VoteDecision.APPROVE), req_id)
    with env.svc.sessions() as s:
        assert [r.id for r in review.queue(s, anna, env.svc.policy)] == []
        assert [r.id for r in review.queue(s, checker("chris"), env.svc.policy)] == [req_id]


def test_researcher_cannot_vote(env):
    req_id = env.make_request(RequestState.SUBMITTED)
    with pytest.raises(Forbidden):
        env.act(lambda s, r: review.vote(s, env.svc.audit, env.svc.policy, researcher("anna", "alpha"), r,
                                         r.files[0], decision=VoteDecision.APPROVE), req_id)


def test_changes_requested_needs_a_comment(env):
    req_id = env.make_request(RequestState.SUBMITTED)
    with pytest.raises(InvalidInput):
        _vote(env, req_id, "chris", "table.csv", VoteDecision.CHANGES_REQUESTED, comment="")


def test_return_needs_a_shared_comment_the_researcher_sees(env):
    req_id = env.make_request(RequestState.REVIEWED)
    with pytest.raises(InvalidInput):
        env.act(lambda s, r: review.return_request(s, env.svc.audit, env.svc.policy, checker("chris"), r, " "), req_id)
    env.act(lambda s, r: review.return_request(s, env.svc.audit, env.svc.policy, checker("chris"), r,
                                               "please round to 5"), req_id)
    req = env.get(req_id)
    shared = visibility.visible_comments(researcher("alice", "alpha"), req, as_checker=False)
    assert [c.text for c in shared] == ["please round to 5"]


def test_checkers_only_comments_stay_hidden_from_the_researcher(env):
    req_id = env.make_request(RequestState.REVIEWED)
    env.act(lambda s, r: review.add_comment(s, env.svc.audit, env.svc.policy, checker("chris"), r,
                                           text="internal", visibility=Visibility.CHECKERS), req_id)
    env.act(lambda s, r: review.return_request(s, env.svc.audit, env.svc.policy, checker("chris"), r, "fix it"), req_id)
    req = env.get(req_id)
    texts = [c.text for c in visibility.visible_comments(researcher("alice", "alpha"), req, as_checker=False)]
    assert texts == ["fix it"]


def test_resubmission_resets_votes_on_changed_files_only(env):
    req_id = env.make_request(RequestState.RETURNED, files=TWO)
    req = env.get(req_id)
    a = next(f for f in req.files if f.name == "a.csv")
    assert len(a.votes) == 2
    env.upload(researcher("alice", "alpha"), req_id, a.id, SAFE_CSV.replace("120", "125").encode())
    env.act(lambda s, r: submission.submit(s, env.svc.audit, researcher("alice", "alpha"), r), req_id)
    req = env.get(req_id)
    a = next(f for f in req.files if f.name == "a.csv")
    b = next(f for f in req.files if f.name == "b.csv")
    assert req.state == "submitted" and req.turn == 2
    assert a.votes == [] and len(a.versions) == 2 and a.current_version.number == 2
    assert len(b.votes) == 2
    # a fresh turn: both checkers review again, votes on b carry over
    for name in ("chris", "cora"):
        _vote(env, req_id, name, "a.csv", VoteDecision.APPROVE)
        _submit_review(env, req_id, name)
    req = env.get(req_id)
    assert req.state == "reviewed" and {f.decision for f in req.files} == {"approved"}


def test_releasable_only_when_every_output_is_approved_or_withdrawn(env):
    req_id = env.make_request(RequestState.SUBMITTED, files=TWO)
    for name in ("chris", "cora"):
        _vote(env, req_id, name, "a.csv", VoteDecision.APPROVE)
        _vote(env, req_id, name, "b.csv", VoteDecision.CHANGES_REQUESTED, "too small")
        _submit_review(env, req_id, name)
    with pytest.raises(Conflict, match="b.csv"):
        env.act(lambda s, r: review.approve(s, env.svc.audit, env.svc.policy, checker("chris"), r), req_id)
    # the researcher withdraws b after a return, resubmits; a keeps its approvals
    env.act(lambda s, r: review.return_request(s, env.svc.audit, env.svc.policy, checker("chris"), r, "drop b"), req_id)
    alice = researcher("alice", "alpha")
    env.act(lambda s, r: submission.withdraw_file(s, env.svc.audit, alice, r, next(f for f in r.files if f.name == "b.csv")), req_id)
    env.act(lambda s, r: submission.submit(s, env.svc.audit, alice, r), req_id)
    for name in ("chris", "cora"):
        _submit_review(env, req_id, name)
    env.act(lambda s, r: review.approve(s, env.svc.audit, env.svc.policy, checker("chris"), r), req_id)
    assert env.get(req_id).state == "approved"


def test_supporting_files_get_no_votes_and_never_leave(env):
    from egress_review.states import FileKind

    req_id = env.make_request(RequestState.DRAFT)
    alice = researcher("alice", "alpha")
    env.store_file(alice, req_id, "notes.txt", b"how the table was made", kind=FileKind.SUPPORTING)
    env.act(lambda s, r: submission.submit(s, env.svc.audit, alice, r), req_id)
    for name in ("chris", "cora"):
        env.vote_all(req_id, name, VoteDecision.APPROVE)
        _submit_review(env, req_id, name)
    env.act(lambda s, r: review.approve(s, env.svc.audit, env.svc.policy, checker("chris"), r), req_id)
    from egress_review.release.release import release

    rel = env.act(lambda s, r: release(s, env.svc.audit, env.svc.store, env.svc.signer, env.svc.release_dir, r), req_id)
    released = {p.name for p in (env.svc.release_dir / "alpha" / rel.id).iterdir()}
    # beside the output: the signed manifest and the release's ACRO record with its checksums folder
    assert released == {"table.csv", "manifest.json", "results.json", "checksums"}
    assert "notes.txt" not in (env.svc.release_dir / "alpha" / rel.id / "results.json").read_text()
