"""Release requests: create (from inside a project), list with filters and pages, read, submit, withdraw."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Header, Query
from sqlalchemy import func, select

from egress_review import permissions, review, submission
from egress_review.api.deps import PrincipalDep, ReadSessionDep, ServiceDep, SessionDep
from egress_review.api.errors import ERROR_RESPONSES
from egress_review.api.schemas import Page, RequestCreate, RequestDetail, RequestSummary
from egress_review.api.views import detail, detail_after_commit, summary, summary_loading
from egress_review.errors import InvalidInput
from egress_review.models import ReleaseRequest
from egress_review.states import RequestState
from sandkasse.audit import utcnow

router = APIRouter(prefix="/api/v1/requests", tags=["requests"], responses=ERROR_RESPONSES)

IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", max_length=100, pattern=r"^[A-Za-z0-9._:-]{8,100}$",
           description="Client-chosen key; replaying it answers 409 with the existing request id"),
]


@router.post("", status_code=201, response_model=RequestDetail, summary="Create a draft release request")
def create_request(body: RequestCreate, svc: ServiceDep, session: SessionDep, p: PrincipalDep,
                   idempotency_key: IdempotencyKey = None) -> RequestDetail:
    req = submission.create_request(session, svc.audit, p, title=body.title, idempotency_key=idempotency_key)
    session.commit()
    return detail_after_commit(svc, p, req.id)


@router.get("", response_model=Page[RequestSummary], summary="List the release requests you may see")
def list_requests(
    svc: ServiceDep,
    session: ReadSessionDep,
    p: PrincipalDep,
    state: Annotated[list[RequestState] | None, Query(description="Only these states")] = None,
    project: Annotated[str | None, Query(max_length=100)] = None,
    older_than_hours: Annotated[float | None, Query(ge=0, le=876000, description="Submitted (or created) at least this long ago")] = None,
    newer_than_hours: Annotated[float | None, Query(ge=0, le=876000)] = None,
    mine: Annotated[bool, Query(description="Only requests I made")] = False,
    to_review: Annotated[bool, Query(description="Only requests waiting for me as a checker")] = False,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int | None, Query(ge=1)] = None,
) -> Page[RequestSummary]:
    size = min(page_size or svc.policy.api.page_size_default, svc.policy.api.page_size_max)
    if to_review and not p.is_checker:
        raise InvalidInput("to_review is for output checkers")
    # Who may see what is decided in the query (permissions.visible_clause), so a page costs the
    # same few queries however long the history is.
    where = [permissions.visible_clause(session, p)]
    if state:
        where.append(ReleaseRequest.state.in_([s.value for s in state]))
    if project:
        where.append(ReleaseRequest.project == project)
    if mine:
        where.append(ReleaseRequest.requester == p.username)
    when = func.coalesce(ReleaseRequest.submitted_at, ReleaseRequest.created_at)
    now = utcnow()
    if older_than_hours is not None:
        where.append(when <= now - timedelta(hours=older_than_hours))
    if newer_than_hours is not None:
        where.append(when >= now - timedelta(hours=newer_than_hours))
    if to_review:
        where.append(review.waiting_for(session, p, svc.policy))
    total = session.execute(select(func.count()).select_from(ReleaseRequest).where(*where)).scalar_one()
    rows = session.execute(
        select(ReleaseRequest).where(*where).order_by(when.asc(), ReleaseRequest.id)
        .offset((page - 1) * size).limit(size)
        .options(summary_loading())
    ).scalars()
    items = [summary(r, text=permissions.may_read_content(session, p, r, svc.policy)) for r in rows]
    return Page[RequestSummary](items=items, total=total, page=page, page_size=size)


def load_visible(session, p, request_id: str) -> ReleaseRequest:
    req = submission.get_request(session, request_id)
    permissions.check_view_request(session, p, req)
    return req


@router.get("/{request_id}", response_model=RequestDetail, summary="One release request, as you may see it")
def get_request(request_id: str, svc: ServiceDep, session: ReadSessionDep, p: PrincipalDep) -> RequestDetail:
    return detail(session, p, load_visible(session, p, request_id), svc.policy)


@router.post("/{request_id}/submit", response_model=RequestDetail, summary="Submit (or resubmit) for review")
def submit_request(request_id: str, svc: ServiceDep, session: SessionDep, p: PrincipalDep) -> RequestDetail:
    req = load_visible(session, p, request_id)
    submission.submit(session, svc.audit, p, req)
    session.commit()
    return detail_after_commit(svc, p, request_id)


@router.post("/{request_id}/withdraw", response_model=RequestDetail, summary="Withdraw a draft or returned request")
def withdraw_request(request_id: str, svc: ServiceDep, session: SessionDep, p: PrincipalDep) -> RequestDetail:
    req = load_visible(session, p, request_id)
    submission.withdraw_request(session, svc.audit, p, req)
    session.commit()
    return detail_after_commit(svc, p, request_id)


