"""The researcher's pages: my requests (with the checkers' shared comments on the request page),
releases of my projects, and downloads of released files with their signed manifest."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy import select
from starlette.responses import Response

from egress_review import permissions
from egress_review.api.views import summary
from egress_review.audit import Actor
from egress_review.errors import NotFound
from egress_review.models import Release, ReleaseRequest
from egress_review.release.download import file_response, record_download
from egress_review.release.release import signed_document
from egress_review.visibility import visible_comments
from egress_review.web.core import Ctx, WebRoute, user_context

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.get("/my", name="ui_my_requests")
def my_requests(ctx: Annotated[Ctx, Depends(user_context)]) -> Response:
    p = ctx.principal
    with ctx.svc.read_sessions() as session:
        reqs = session.execute(
            select(ReleaseRequest)
            .where(ReleaseRequest.requester == p.username, permissions.visible_clause(session, p))
            .order_by(ReleaseRequest.created_at.desc())
        ).scalars()
        rows = []
        for r in reqs:
            shared = len(visible_comments(p, r, as_checker=False))
            rel = session.execute(select(Release.id).where(Release.request_id == r.id)).scalar_one_or_none()
            rows.append({"s": summary(r, text=permissions.may_read_content(session, p, r, ctx.svc.policy)), "comments": shared,
                         "release_id": rel})
        releases = [
            rel for rel in session.execute(select(Release).order_by(Release.released_at.desc())).scalars()
            if permissions.can_download(session, p, rel.project)
        ]
        release_rows = [{"id": r.id, "project": r.project, "request_id": r.request_id, "released_at": r.released_at,
                         "files": len(r.files)} for r in releases]
        session.rollback()
    return ctx.render("my_requests.html", rows=rows, releases=release_rows)


def _release(session, ctx: Ctx, release_id: str) -> Release:
    rel = session.get(Release, release_id)
    if rel is None:
        raise NotFound("no such release")
    permissions.check_download(session, ctx.principal, rel.project)
    return rel


@router.get("/releases/{release_id}", name="ui_release_page")
def release_page(release_id: str, ctx: Annotated[Ctx, Depends(user_context)]) -> Response:
    with ctx.svc.read_sessions() as session:
        rel = _release(session, ctx, release_id)
        doc = signed_document(rel)
        data = {"id": rel.id, "project": rel.project, "request_id": rel.request_id, "released_at": rel.released_at,
                "files": [{"name": f.name, "sha256": f.sha256, "size": f.size} for f in rel.files],
                "approvers": doc["manifest"].get("approvers", []), "key_id": doc["manifest"].get("key_id", "")}
        session.rollback()
    return ctx.render("release.html", rel=data)


@router.get("/releases/{release_id}/files/{name}", name="ui_release_download")
def release_download(release_id: str, name: str, ctx: Annotated[Ctx, Depends(user_context)]) -> Response:
    with ctx.svc.sessions() as session:
        rel = _release(session, ctx, release_id)
        actor = Actor(ctx.principal.username, "researcher", ctx.source)
        path, sha256 = record_download(session, ctx.svc.audit, rel, name, actor, via="web")
        session.commit()
    ctx.svc.metrics.downloads.inc()
    return file_response(path, name, sha256)


@router.get("/releases/{release_id}/manifest.json", name="ui_release_manifest")
def release_manifest(release_id: str, ctx: Annotated[Ctx, Depends(user_context)]) -> Response:
    with ctx.svc.read_sessions() as session:
        doc = signed_document(_release(session, ctx, release_id))
        session.rollback()
    body = json.dumps(doc, indent=2, sort_keys=True) + "\n"
    return Response(body, media_type="application/json",
                    headers={"Content-Disposition": f"attachment; filename=manifest-{release_id}.json"})
