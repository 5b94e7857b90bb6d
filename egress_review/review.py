"""The checkers' side: independent votes per file, blinded until enough reviews are in, then the
decision on the request (approve, return, reject).

Two-person rule: each output file needs ``required_approvals`` approving votes (policy, default 2)
from different checkers, none of them the requester or a member of the project. A checker *submits
their review* once they voted on every output file; when ``required_approvals`` reviews of the
current turn are in, the system moves the request to ``reviewed`` and the votes are unblinded.
Disagreeing votes make a file ``conflicted`` until a checker changes their vote.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.orm import Session, selectinload

from egress_review import permissions, suggestions, transition
from egress_review.audit import SYSTEM, Actor, AuditLog
from egress_review.autocheck import PENDING
from egress_review.errors import Conflict, Forbidden, InvalidInput
from egress_review.identity.principal import Principal
from egress_review.notify import outbox as notify_outbox
from egress_review.notebooks.runs import reexecution_pending
from egress_review.models import Comment, FileVersion, ReleaseRequest, RequestFile, ReviewSubmission, Vote
from egress_review.policy import EgressPolicy
from egress_review.states import (
    VOTING_STATES,
    Action,
    FileDecision,
    FileKind,
    RequestState,
    Visibility,
    VoteDecision,
)
from sandkasse.audit import utcnow


def checker(p: Principal) -> Actor:
    return Actor(p.username, "output-checker", p.source)


def output_files(req: ReleaseRequest) -> list[RequestFile]:
    return [f for f in req.files if f.kind == FileKind.OUTPUT and not f.withdrawn]


def current_votes(f: RequestFile) -> list[Vote]:
    return [v for v in f.votes if v.version_id == f.current_version_id]


def decide_file(f: RequestFile, required: int) -> FileDecision:
    """A file's decision from the votes on its current version."""
    if f.withdrawn:
        return FileDecision.WITHDRAWN
    votes = current_votes(f)
    if len(votes) < required:
        return FileDecision.PENDING
    decisions = {VoteDecision(v.decision) for v in votes}
    if len(decisions) > 1:
        return FileDecision.CONFLICTED
    return {
        VoteDecision.APPROVE: FileDecision.APPROVED,
        VoteDecision.CHANGES_REQUESTED: FileDecision.CHANGES_REQUESTED,
        VoteDecision.REJECT: FileDecision.REJECTED,
    }[decisions.pop()]


def _refresh_decisions(req: ReleaseRequest, policy: EgressPolicy) -> None:
    # Decisions are only computed once unblinded: in `submitted` a "conflicted" would leak votes.
    if req.state != RequestState.REVIEWED:
        return
    for f in req.files:
        if f.kind == FileKind.OUTPUT:
            f.decision = decide_file(f, policy.review.required_approvals).value


def reviews_this_turn(req: ReleaseRequest) -> list[ReviewSubmission]:
    return [r for r in req.reviews if r.turn == req.turn]


def _check_text(text: str, policy: EgressPolicy) -> str:
    text = text.strip()
    if len(text) > policy.uploads.max_text_chars:
        raise InvalidInput(f"comment is longer than {policy.uploads.max_text_chars} characters")
    return text


def vote(
    session: Session,
    audit: AuditLog,
    policy: EgressPolicy,
    p: Principal,
    req: ReleaseRequest,
    f: RequestFile,
    *,
    decision: VoteDecision,
    comment: str = "",
    visibility: Visibility = Visibility.CHECKERS,
    attach_suggestion: bool = False,
) -> Vote:
    permissions.check_review(session, p, req, policy)
    if RequestState(req.state) not in VOTING_STATES:
        raise Conflict(f"the request is {req.state}; votes are cast while it is submitted or reviewed")
    if f.kind != FileKind.OUTPUT or f.withdrawn:
        raise Conflict("only output files that are not withdrawn get votes")
    if f.current_version is not None and f.current_version.verdict == PENDING:
        # A human decision comes after the automatic one, never before it.
        raise Conflict(f"the automatic checks of {f.name} are still running; vote when they are done",
                       retry_after_seconds=5)
    if reexecution_pending(session, policy, req):
        raise Conflict("the request's notebook is being re-run before review (notebooks.reexecute); vote when it "
                       "has run", retry_after_seconds=10)
    comment = _check_text(comment, policy)
    if decision is not VoteDecision.APPROVE and not comment:
        raise InvalidInput("a vote other than approve needs a comment saying what must change")
    if attach_suggestion:
        suggestions.check_attachable(session, f, decision)
    if req.state == RequestState.SUBMITTED and any(r.reviewer == p.username for r in reviews_this_turn(req)):
        raise Conflict("you already submitted your review for this turn")
    existing = next((v for v in f.votes if v.reviewer == p.username), None)
    if existing is None:
        existing = Vote(file_id=f.id, reviewer=p.username, version_id=f.current_version_id or "")
        f.votes.append(existing)
    previous = existing.decision if existing.id else None
    existing.version_id = f.current_version_id or ""
    existing.decision = VoteDecision(decision).value
    existing.comment = comment
    existing.visibility = Visibility(visibility).value
    existing.attach_suggestion = attach_suggestion
    existing.created_at = utcnow()
    session.flush()
    _refresh_decisions(req, policy)
    audit.record(
        session,
        checker(p),
        "file.vote",
        "request_file",
        f.id,
        {"request": req.id, "decision": existing.decision, "previous": previous, "version": f.current_version_id,
         "attach_suggestion": attach_suggestion},
    )
    return existing


def submit_review(
    session: Session, audit: AuditLog, policy: EgressPolicy, p: Principal, req: ReleaseRequest
) -> ReleaseRequest:
    """The checker's votes for this turn are complete. When enough reviews are in, the system moves
    the request to ``reviewed`` (same transaction) and everyone sees every vote."""
    permissions.check_review(session, p, req, policy)
    if req.state != RequestState.SUBMITTED:
        raise Conflict(f"the request is {req.state}; reviews are submitted while it is submitted")
    if any(r.reviewer == p.username for r in reviews_this_turn(req)):
        raise Conflict("you already submitted your review for this turn")
    missing = [
        f.name
        for f in output_files(req)
        if not any(v.reviewer == p.username and v.version_id == f.current_version_id for v in f.votes)
    ]
    if missing:
        raise InvalidInput("vote on every output file first: " + ", ".join(missing), files=missing)
    req.reviews.append(ReviewSubmission(reviewer=p.username, turn=req.turn))
    session.flush()
    audit.record(session, checker(p), "request.review_submitted", "release_request", req.id, {"turn": req.turn})
    if len(reviews_this_turn(req)) >= policy.review.required_approvals:
        transition.apply(session, audit, req, Action.REVIEW, SYSTEM, {"turn": req.turn})
        _refresh_decisions(req, policy)
    else:
        notify_outbox.on_review_submitted(session, req, {r.reviewer for r in reviews_this_turn(req)})
    return req


def add_comment(
    session: Session,
    audit: AuditLog,
    policy: EgressPolicy,
    p: Principal,
    req: ReleaseRequest,
    *,
    text: str,
    visibility: Visibility,
    file_id: str | None = None,
) -> Comment:
    text = _check_text(text, policy)
    if not text:
        raise InvalidInput("a comment needs text")
    if permissions.can_review(session, p, req, policy):
        role = "output-checker"
    elif permissions.can_edit_request(session, p, req):
        role = "researcher"
        visibility = Visibility.SHARED  # the researcher has nothing to hide from checkers
    else:
        permissions.check_view_request(session, p, req)
        raise Forbidden("only the requester and the reviewing checkers comment on a request")
    if file_id is not None and not any(f.id == file_id for f in req.files):
        raise InvalidInput("no such file in this request")
    c = Comment(
        request_id=req.id,
        file_id=file_id,
        author=p.username,
        author_role=role,
        text=text,
        visibility=Visibility(visibility).value,
        turn=req.turn,
    )
    req.comments.append(c)
    session.flush()
    audit.record(session, Actor(p.username, role, p.source), "request.comment", "release_request", req.id, {"comment": c.id, "visibility": c.visibility})
    return c


def _decide(
    session: Session,
    audit: AuditLog,
    policy: EgressPolicy,
    p: Principal,
    req: ReleaseRequest,
    action: Action,
    comment: str,
) -> None:
    permissions.check_review(session, p, req, policy)
    from egress_review.states import check_transition

    check_transition(RequestState(req.state), action)
    submitted_at = req.submitted_at
    detail: dict[str, object] = {"turn": req.turn}
    if comment:
        c = add_comment(session, audit, policy, p, req, text=comment, visibility=Visibility.SHARED)
        detail["comment"] = c.id
    transition.apply(session, audit, req, action, checker(p), detail)
    if submitted_at is not None:
        detail["waited_seconds"] = (utcnow() - _aware(submitted_at)).total_seconds()
    session.info.setdefault("egress_decisions", []).append((action.value, detail.get("waited_seconds")))


def _aware(dt):
    from datetime import UTC

    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def approve(session: Session, audit: AuditLog, policy: EgressPolicy, p: Principal, req: ReleaseRequest, comment: str = "") -> None:
    """Approve the request; releasable only when every output file is approved or withdrawn."""
    # Who may decide is checked before what the files' state is, so a non-checker learns nothing.
    permissions.check_review(session, p, req, policy)
    _refresh_decisions(req, policy)
    outputs = [f for f in req.files if f.kind == FileKind.OUTPUT]
    not_ready = [f"{f.name} ({f.decision})" for f in outputs if f.decision not in (FileDecision.APPROVED, FileDecision.WITHDRAWN)]
    if not_ready:
        raise Conflict("every output file must be approved or withdrawn first: " + ", ".join(not_ready))
    if not any(f.decision == FileDecision.APPROVED for f in outputs):
        raise Conflict("nothing to release: no output file is approved")
    _decide(session, audit, policy, p, req, Action.APPROVE, comment)


def return_request(session: Session, audit: AuditLog, policy: EgressPolicy, p: Principal, req: ReleaseRequest, comment: str) -> None:
    if not comment.strip():
        raise InvalidInput("returning a request needs a comment for the researcher")
    _decide(session, audit, policy, p, req, Action.RETURN, comment)
    suggestions.attach_agreed(session, audit, policy, p, req)


def reject(session: Session, audit: AuditLog, policy: EgressPolicy, p: Principal, req: ReleaseRequest, comment: str) -> None:
    if not comment.strip():
        raise InvalidInput("rejecting a request needs a comment for the researcher")
    _decide(session, audit, policy, p, req, Action.REJECT, comment)


def waiting_for(session: Session, p: Principal, policy: EgressPolicy) -> ColumnElement[bool]:
    """Requests waiting for this checker's review: submitted, theirs to review (not their own, not
    their projects'), not yet reviewed by them this turn, and every live file's checks done."""
    me_this_turn = select(ReviewSubmission.id).where(
        ReviewSubmission.request_id == ReleaseRequest.id, ReviewSubmission.reviewer == p.username,
        ReviewSubmission.turn == ReleaseRequest.turn,
    )
    checks_running = (
        select(RequestFile.id)
        .join(FileVersion, FileVersion.id == RequestFile.current_version_id)
        .where(RequestFile.request_id == ReleaseRequest.id, RequestFile.withdrawn.is_(False),
               FileVersion.verdict == PENDING)
    )
    return and_(
        ReleaseRequest.state == RequestState.SUBMITTED.value,
        permissions.reviewable_clause(session, p, policy),
        ~me_this_turn.exists(),
        ~checks_running.exists(),
    )


def queue(session: Session, p: Principal, policy: EgressPolicy) -> list[ReleaseRequest]:
    """Requests in review (submitted or reviewed) this checker may review (not their own, not their projects')."""
    return list(session.execute(
        select(ReleaseRequest)
        .where(ReleaseRequest.state.in_([s.value for s in VOTING_STATES]),
               permissions.reviewable_clause(session, p, policy))
        .options(selectinload(ReleaseRequest.files).selectinload(RequestFile.versions).load_only(
                     FileVersion.id, FileVersion.file_id, FileVersion.number, FileVersion.verdict),
                 selectinload(ReleaseRequest.reviews))
    ).scalars())
