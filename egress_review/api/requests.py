"""Release requests: create (from inside a project), list with filters and pages, read, submit, withdraw."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Header, Query
from sqlalchemy import func, select

from egress_review import permissions, submission
from egress_review.api.deps import PrincipalDep, ReadSessionDep, ServiceDep, SessionDep
from egress_review.api.errors import ERROR_RESPONSES
from egress_review.api.schemas import Page, RequestCreate, RequestDetail, RequestSummary
from egress_review.api.views import detail, summary
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
    out = detail(session, p, req, svc.policy)
    session.commit()
    return out


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
    query = select(ReleaseRequest)
    if p.project is not None:
        query = query.where(ReleaseRequest.project == p.project)
    elif not (p.is_checker or p.is_admin):
        from provisioning import api as prov

        mine_projects = [i.slug for i in prov.projects_for_user(session, p.username)]
        query = query.where(ReleaseRequest.project.in_(mine_projects))
    else:
        query = query.where(
            (ReleaseRequest.state != RequestState.DRAFT.value) | (ReleaseRequest.requester == p.username)
        )
    if state:
        query = query.where(ReleaseRequest.state.in_([s.value for s in state]))
    if project:
        query = query.where(ReleaseRequest.project == project)
    if mine:
        query = query.where(ReleaseRequest.requester == p.username)
    when = func.coalesce(ReleaseRequest.submitted_at, ReleaseRequest.created_at)
    now = utcnow()
    if older_than_hours is not None:
        query = query.where(when <= now - timedelta(hours=older_than_hours))
    if newer_than_hours is not None:
        query = query.where(when >= now - timedelta(hours=newer_than_hours))
    if to_review:
        if not p.is_checker:
            raise InvalidInput("to_review is for output checkers")
        query = query.where(ReleaseRequest.state == RequestState.SUBMITTED.value)
    query = query.order_by(when.asc(), ReleaseRequest.id)
    rows = list(session.execute(query).scalars())
    # Membership rules (and conflict of interest) are provisioning's: filter in Python, then page.
    visible = [r for r in rows if permissions.can_view_request(session, p, r)]
    if to_review:
        visible = [r for r in visible if permissions.can_review(session, p, r, svc.policy)
                   and not any(rv.reviewer == p.username and rv.turn == r.turn for rv in r.reviews)]
    start = (page - 1) * size
    items = [summary(r) for r in visible[start : start + size]]
    return Page[RequestSummary](items=items, total=len(visible), page=page, page_size=size)


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
    out = detail(session, p, req, svc.policy)
    session.commit()
    return out


@router.post("/{request_id}/withdraw", response_model=RequestDetail, summary="Withdraw a draft or returned request")
def withdraw_request(request_id: str, svc: ServiceDep, session: SessionDep, p: PrincipalDep) -> RequestDetail:
    req = load_visible(session, p, request_id)
    submission.withdraw_request(session, svc.audit, p, req)
    out = detail(session, p, req, svc.policy)
    session.commit()
    return out


