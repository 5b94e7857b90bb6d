"""Health, metrics, who-am-I, and the audit log for admins."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select, text

from egress_review import permissions
from egress_review.audit_view import event_details
from egress_review.api.deps import PrincipalDep, ReadSessionDep, ServiceDep
from egress_review.api.errors import ERROR_RESPONSES
from egress_review.api.schemas import AuditEventOut, AuditOut, MeOut, Page
from egress_review.models import EgressAuditEvent

router = APIRouter(tags=["service"], responses=ERROR_RESPONSES)


@router.get("/healthz", response_class=PlainTextResponse, summary="Liveness and database reachability")
def healthz(session: ReadSessionDep) -> str:
    session.execute(text("SELECT 1"))
    return "ok"


@router.get("/metrics", response_class=Response, summary="Prometheus metrics (queue length, time to decision)",
            responses={200: {"content": {"text/plain": {}}}})
def metrics(svc: ServiceDep) -> Response:
    return Response(generate_latest(svc.metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/api/v1/me", response_model=MeOut, summary="Who the service thinks you are")
def me(p: PrincipalDep) -> MeOut:
    return MeOut(username=p.username, roles=sorted(r.value for r in p.roles), project=p.project, via=p.via.value)


@router.get("/api/v1/audit", response_model=AuditOut, summary="Audit events and chain status (admins)")
def audit(svc: ServiceDep, session: ReadSessionDep, p: PrincipalDep,
          page: Annotated[int, Query(ge=1, le=1_000_000)] = 1, page_size: Annotated[int | None, Query(ge=1)] = None,
          object_id: Annotated[str | None, Query(max_length=255)] = None) -> AuditOut:
    permissions.check_admin(p)
    size = min(page_size or svc.policy.api.page_size_default, svc.policy.api.page_size_max)
    report = svc.audit.verify(session)
    query = select(EgressAuditEvent)
    if object_id:
        query = query.where(EgressAuditEvent.object_id == object_id)
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = list(session.execute(query.order_by(EgressAuditEvent.seq.desc()).offset((page - 1) * size).limit(size)).scalars())
    items = [AuditEventOut(seq=r.seq, at=r.at, actor=r.actor, role=r.role, action=r.action, object_type=r.object_type,
                           object_id=r.object_id, source=r.source, detail=detail, hash=r.hash)
             for r, detail in zip(rows, event_details(session, p, rows))]
    return AuditOut(ok=report.ok, report=str(report), events=Page[AuditEventOut](items=items, total=total, page=page, page_size=size))
