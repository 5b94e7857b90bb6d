"""One-click review of a file: "Approve" or "Return with suggested table" from the request page.

A click is the checker's vote on the file (the same :func:`egress_review.review.vote`, so every check of
who may vote, and when, applies). When that vote was the checker's last missing one this turn, their
review is submitted; when it completes the two-person review and the now unblinded votes agree, the
request is decided as they agree: every file approved releases it, changes requested on some and
approval (or withdrawal) of the others returns it, with the suggested tables every checker asked for.
Anything else (a conflict, a rejection) is left to the decision form, as before.

Nothing here is a shortcut past the two-person rule: the decision still needs ``required_approvals``
blind reviews, and it follows from their agreeing votes only.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy.orm import Session

from egress_review import review, suggestions
from egress_review.audit import AuditLog
from egress_review.identity.principal import Principal
from egress_review.models import ReleaseRequest, RequestFile
from egress_review.policy import EgressPolicy
from egress_review.states import FileDecision, RequestState, Visibility, VoteDecision


VOTE_COMMENT = "Return with the suggested table."


class Quick(StrEnum):
    APPROVE = "approve"
    RETURN_SUGGESTED = "return_suggested"


class Outcome(StrEnum):
    VOTED = "voted"  # other files still wait for this checker's vote
    REVIEW_SUBMITTED = "review_submitted"  # waiting for the other checker(s)
    APPROVE = "approve"  # the request is approved (the caller releases it)
    RETURN = "return"
    REVIEWED = "reviewed"  # reviewed, but the votes do not agree on one outcome: decide with the form


def _voted_all(req: ReleaseRequest, username: str) -> bool:
    return all(any(v.reviewer == username and v.version_id == f.current_version_id for v in f.votes)
               for f in review.output_files(req))


def _agreed(req: ReleaseRequest) -> Outcome:
    decisions = {FileDecision(f.decision) for f in review.output_files(req)}
    if decisions == {FileDecision.APPROVED}:
        return Outcome.APPROVE
    if decisions <= {FileDecision.APPROVED, FileDecision.CHANGES_REQUESTED} and FileDecision.CHANGES_REQUESTED in decisions:
        return Outcome.RETURN
    return Outcome.REVIEWED


def click(session: Session, audit: AuditLog, policy: EgressPolicy, p: Principal, req: ReleaseRequest,
          f: RequestFile, action: Quick) -> Outcome:
    if action is Quick.APPROVE:
        review.vote(session, audit, policy, p, req, f, decision=VoteDecision.APPROVE)
    else:
        review.vote(session, audit, policy, p, req, f, decision=VoteDecision.CHANGES_REQUESTED,
                    comment=VOTE_COMMENT, visibility=Visibility.SHARED, attach_suggestion=True)
    if req.state == RequestState.SUBMITTED:
        if not _voted_all(req, p.username):
            return Outcome.VOTED
        review.submit_review(session, audit, policy, p, req)
        if req.state != RequestState.REVIEWED:
            return Outcome.REVIEW_SUBMITTED
    outcome = _agreed(req)
    if outcome is Outcome.APPROVE:
        review.approve(session, audit, policy, p, req)
    elif outcome is Outcome.RETURN:
        review.return_request(session, audit, policy, p, req, suggestions.RETURN_COMMENT
                              if any(v.attach_suggestion for g in review.output_files(req) for v in g.votes)
                              else "Changes requested on the files marked so; see the comments.")
    return outcome
