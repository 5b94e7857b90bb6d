"""Turn rows into response models, showing each viewer only what :mod:`egress_review.visibility` allows."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from egress_review import permissions, projects, submission, visibility
from egress_review.api.schemas import (
    CommentOut,
    FileOut,
    RequestDetail,
    RequestSummary,
    VersionOut,
    VoteOut,
)
from egress_review.autocheck import VERDICT_ORDER
from egress_review.identity.principal import Principal
from egress_review.models import FileVersion, Release, ReleaseRequest, RequestFile
from egress_review.policy import EgressPolicy
from egress_review.report_view import metadata_report
from egress_review.review import reviews_this_turn
from egress_review.submission import CELLS_KEY, cells_context, report_context
from egress_review.states import OWNERS, FileDecision, RequestState, allowed_actions



def check_report(session: Session, v: FileVersion, *, cells: bool = True) -> dict:
    """The full automatic check report of a version (decrypted), with its per-cell outcomes unless
    ``cells`` is false; show it only where :func:`egress_review.permissions.may_read_content` allows."""
    if not v.check_report_sealed:
        return json.loads(v.check_report or "{}")
    store = session.info["egress_store"]
    report = json.loads(store.unseal(report_context(v.id), v.check_report_sealed))
    if cells and v.check_cells_sealed:
        report[CELLS_KEY] = json.loads(store.unseal(cells_context(v.id), v.check_cells_sealed))
    return report


def version_out(v: FileVersion, session: Session, *, content: bool) -> VersionOut:
    """``content``: the viewer may read the file's content (:func:`egress_review.permissions.may_read_content`);
    otherwise the report is metadata only (:func:`egress_review.report_view.metadata_report`)."""
    if content:
        # Per-cell outcomes make up nearly all of a table's report: they are for the report endpoint
        # and the web preview, not for every view of the request.
        report = check_report(session, v, cells=False)
        report.pop(CELLS_KEY, None)  # versions stored before the cells were sealed apart
    else:
        report = metadata_report(v.check_report)
    return VersionOut(
        id=v.id, number=v.number, size=v.size, sha256=v.sha256, detected_type=v.detected_type,
        verdict=v.verdict, check_report=report, created_at=v.created_at,
    )


def worst_verdict(req: ReleaseRequest) -> str | None:
    verdicts = [f.current_version.verdict for f in req.files if not f.withdrawn and f.current_version is not None]
    return max(verdicts, key=lambda v: VERDICT_ORDER.get(v, 1)) if verdicts else None


def summary_loading():
    """What :func:`summary` reads, loaded with the request in two more queries (not the reports)."""
    return selectinload(ReleaseRequest.files).selectinload(RequestFile.versions).load_only(
        FileVersion.id, FileVersion.file_id, FileVersion.number, FileVersion.verdict)


def summary(req: ReleaseRequest, *, text: bool) -> RequestSummary:
    """``text``: the viewer may read what the researcher wrote (:func:`egress_review.permissions.may_read_content`):
    a title, like a file's context and controls and the researcher's comments, is written from inside
    the sandbox as often as the files are, so it is content too."""
    return RequestSummary(
        id=req.id, project=req.project, requester=req.requester, title=req.title if text else "", state=req.state,
        owner=OWNERS[RequestState(req.state)].value, turn=req.turn, created_at=req.created_at,
        updated_at=req.updated_at, submitted_at=req.submitted_at, decided_at=req.decided_at,
        file_count=sum(1 for f in req.files if not f.withdrawn), worst_verdict=worst_verdict(req),
    )


def _as_checker(session: Session, p: Principal, req: ReleaseRequest) -> bool:
    is_member = projects.member_role(session, p.username, req.project) is not None if p.project is None else True
    return visibility.sees_as_checker(p, req, is_member)


def file_out(p: Principal, req: ReleaseRequest, f: RequestFile, as_checker: bool, session: Session, *,
             content: bool) -> FileOut:
    votes = visibility.visible_votes(p, req, [v for v in f.votes if v.version_id == f.current_version_id], as_checker)
    decision = f.decision if visibility.visible_decisions(req, as_checker) or f.withdrawn else FileDecision.PENDING.value
    return FileOut(
        id=f.id, name=f.name, kind=f.kind, context=f.context if content else "",
        controls=f.controls if content else "", decision=decision,
        withdrawn=f.withdrawn,
        current_version=version_out(f.current_version, session, content=content) if f.current_version is not None else None,
        versions=[version_out(v, session, content=content) for v in f.versions],
        votes=[VoteOut(reviewer=v.reviewer, decision=v.decision, comment=v.comment, visibility=v.visibility,
                       created_at=v.created_at) for v in votes],
    )


def detail(session: Session, p: Principal, req: ReleaseRequest, policy: EgressPolicy) -> RequestDetail:
    as_checker = _as_checker(session, p, req)
    actions: list[str] = []
    state = RequestState(req.state)
    if permissions.can_edit_request(session, p, req):
        actions = [a.value for a in allowed_actions(state) if a.value in ("submit", "resubmit", "withdraw")]
    elif as_checker and permissions.can_review(session, p, req, policy):
        actions = [a.value for a in allowed_actions(state) if a.value in ("approve", "return", "reject")]
        if state == RequestState.SUBMITTED:
            actions.append("vote")
    content = permissions.may_read_content(session, p, req, policy)
    release_id = session.execute(select(Release.id).where(Release.request_id == req.id)).scalar_one_or_none()
    return RequestDetail(
        **summary(req, text=content).model_dump(),
        files=[file_out(p, req, f, as_checker, session, content=content) for f in req.files],
        comments=[CommentOut(id=c.id, file_id=c.file_id, author=c.author, author_role=c.author_role, text=c.text,
                             visibility=c.visibility, turn=c.turn, created_at=c.created_at)
                  for c in visibility.visible_comments(p, req, as_checker)
                  if content or c.author_role != "researcher"],
        reviews_submitted=len(reviews_this_turn(req)),
        required_approvals=policy.review.required_approvals,
        my_review_submitted=any(r.reviewer == p.username for r in reviews_this_turn(req)),
        allowed_actions=actions,
        release_id=release_id,
    )


def detail_after_commit(svc, p: Principal, request_id: str) -> RequestDetail:
    """The request as ``p`` now sees it, read after the change committed: building the answer (reports
    unsealed, votes blinded) happens outside the write transaction, so writers hold the database's
    write lock (SQLite) and the audit head (PostgreSQL) only for the change itself."""
    with svc.read_sessions() as session:
        req = submission.get_request(session, request_id)
        out = detail(session, p, req, svc.policy)
        session.rollback()
    return out


def file_after_commit(svc, p: Principal, request_id: str, file_id: str) -> FileOut:
    """One file as its requester now sees it, read after the change committed (see :func:`detail_after_commit`)."""
    with svc.read_sessions() as session:
        req = submission.get_request(session, request_id)
        out = file_out(p, req, submission.get_file(req, file_id), as_checker=False, session=session,
                       content=permissions.may_read_content(session, p, req, svc.policy))
        session.rollback()
    return out
