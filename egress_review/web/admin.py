"""Administrators' read-only pages: projects and their members (from :mod:`provisioning.api`) and the
egress audit log with the result of verifying its hash chain (and provisioning's), as
``sandkasse audit verify`` does."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy import func, select
from starlette.responses import Response

from egress_review import permissions
from egress_review.audit_view import event_details
from egress_review.models import EgressAuditEvent
from egress_review.web.core import Ctx, WebRoute, user_context

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.get("/admin/projects", name="ui_admin_projects")
def projects(ctx: Annotated[Ctx, Depends(user_context)]) -> Response:
    permissions.check_admin(ctx.principal)
    from provisioning import api as prov

    with ctx.svc.read_sessions() as session:
        rows = prov.list_projects(session)
        budgets = prov.dp_budgets(session)
        session.rollback()
    return ctx.render("admin_projects.html", projects=rows, budgets=budgets)


@router.get("/admin/audit", name="ui_admin_audit")
def audit(ctx: Annotated[Ctx, Depends(user_context)], page: Annotated[int, Query(ge=1)] = 1) -> Response:
    permissions.check_admin(ctx.principal)
    size = ctx.svc.policy.api.page_size_default
    with ctx.svc.read_sessions() as session:
        report = ctx.svc.audit.verify(session)
        from provisioning.audit import verify as verify_provisioning

        provisioning = verify_provisioning(session, ctx.svc.settings)
        total = session.execute(select(func.count()).select_from(EgressAuditEvent)).scalar_one()
        rows = list(session.execute(
            select(EgressAuditEvent).order_by(EgressAuditEvent.seq.desc()).offset((page - 1) * size).limit(size)
        ).scalars())
        events = [{"seq": r.seq, "at": r.at, "actor": r.actor, "role": r.role, "action": r.action,
                   "object": f"{r.object_type} {r.object_id}", "source": r.source,
                   "detail": json.dumps(detail, sort_keys=True, ensure_ascii=False),
                   "hash": r.hash} for r, detail in zip(rows, event_details(session, ctx.principal, rows))]
        session.rollback()
    pages = max(1, (total + size - 1) // size)
    return ctx.render("admin_audit.html", ok=report.ok, report=str(report), events=events, page=page, pages=pages,
                      total=total, provisioning_ok=provisioning.ok, provisioning_report=str(provisioning))
