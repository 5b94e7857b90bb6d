"""The checkers' actions: votes per file, submitting a review, comments, and the decision."""

from __future__ import annotations

from fastapi import APIRouter

from egress_review import review, submission
from egress_review.api.deps import PrincipalDep, ServiceDep, SessionDep
from egress_review.api.errors import ERROR_RESPONSES
from egress_review.api.requests import load_visible
from egress_review.api.schemas import CommentIn, CommentOut, DecisionIn, RequestDetail, VoteIn, VoteOut
from egress_review.api.views import detail_after_commit
from egress_review.release.release import release
from egress_review.service import EgressService

router = APIRouter(prefix="/api/v1/requests/{request_id}", tags=["review"], responses=ERROR_RESPONSES)


@router.put("/files/{file_id}/vote", response_model=VoteOut, summary="Cast or change your vote on a file")
def vote(request_id: str, file_id: str, body: VoteIn, svc: ServiceDep, session: SessionDep, p: PrincipalDep) -> VoteOut:
    req = load_visible(session, p, request_id)
    f = submission.get_file(req, file_id)
    v = review.vote(session, svc.audit, svc.policy, p, req, f, decision=body.decision, comment=body.comment,
                    visibility=body.visibility, attach_suggestion=body.attach_suggestion)
    out = VoteOut(reviewer=v.reviewer, decision=v.decision, comment=v.comment, visibility=v.visibility,
                  created_at=v.created_at)
    session.commit()
    return out


@router.post("/reviews", response_model=RequestDetail, summary="Submit your review (after voting on every output)")
def submit_review(request_id: str, svc: ServiceDep, session: SessionDep, p: PrincipalDep) -> RequestDetail:
    req = load_visible(session, p, request_id)
    review.submit_review(session, svc.audit, svc.policy, p, req)
    session.commit()
    return detail_after_commit(svc, p, request_id)


@router.post("/comments", status_code=201, response_model=CommentOut, summary="Comment (checkers-only or shared)")
def comment(request_id: str, body: CommentIn, svc: ServiceDep, session: SessionDep, p: PrincipalDep) -> CommentOut:
    req = load_visible(session, p, request_id)
    c = review.add_comment(session, svc.audit, svc.policy, p, req, text=body.text, visibility=body.visibility,
                           file_id=body.file_id)
    out = CommentOut(id=c.id, file_id=c.file_id, author=c.author, author_role=c.author_role, text=c.text,
                     visibility=c.visibility, turn=c.turn, created_at=c.created_at)
    session.commit()
    return out


def _observe(svc: EgressService, session) -> None:
    for decision, waited in session.info.pop("egress_decisions", []):
        if waited is not None:
            svc.metrics.time_to_decision.labels(decision).observe(waited)


@router.post("/approve", response_model=RequestDetail, summary="Approve; the files are then released")
def approve(request_id: str, body: DecisionIn, svc: ServiceDep, session: SessionDep, p: PrincipalDep) -> RequestDetail:
    req = load_visible(session, p, request_id)
    review.approve(session, svc.audit, svc.policy, p, req, body.comment)
    session.commit()
    _observe(svc, session)
    # Release is the system's step, in its own transaction: a crash here leaves the request
    # `approved`, and release_pending() finishes it when the service starts again.
    with svc.sessions() as rs:
        r = submission.get_request(rs, request_id)
        release(rs, svc.audit, svc.store, svc.signer, svc.release_dir, r)
        rs.commit()
    return detail_after_commit(svc, p, request_id)


@router.post("/return", response_model=RequestDetail, summary="Return to the researcher (comment required, shared)")
def return_request(request_id: str, body: DecisionIn, svc: ServiceDep, session: SessionDep, p: PrincipalDep) -> RequestDetail:
    req = load_visible(session, p, request_id)
    review.return_request(session, svc.audit, svc.policy, p, req, body.comment)
    session.commit()
    _observe(svc, session)
    return detail_after_commit(svc, p, request_id)


@router.post("/reject", response_model=RequestDetail, summary="Reject for good (comment required, shared)")
def reject(request_id: str, body: DecisionIn, svc: ServiceDep, session: SessionDep, p: PrincipalDep) -> RequestDetail:
    req = load_visible(session, p, request_id)
    review.reject(session, svc.audit, svc.policy, p, req, body.comment)
    session.commit()
    _observe(svc, session)
    return detail_after_commit(svc, p, request_id)
