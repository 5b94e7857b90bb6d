"""Released files: list, signed manifest, download (project members only; every download audited)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, Response, StreamingResponse
from sqlalchemy import select

from egress_review import permissions
from egress_review.api.deps import PrincipalDep, ReadSessionDep, ServiceDep, SessionDep
from egress_review.api.errors import ERROR_RESPONSES
from egress_review.api.schemas import Page, ReleasedFileOut, ReleaseOut, SignedManifest
from egress_review.audit import Actor
from egress_review.errors import NotFound
from egress_review.models import Release, ReleaseRequest
from egress_review.records import ro_crate as records_ro_crate
from egress_review.release.download import file_response, record_download
from egress_review.release.release import signed_document
from egress_review.release.signing import public_pem

router = APIRouter(prefix="/api/v1", tags=["releases"], responses=ERROR_RESPONSES)


def _out(rel: Release) -> ReleaseOut:
    return ReleaseOut(id=rel.id, request_id=rel.request_id, project=rel.project, released_at=rel.released_at,
                      files=[ReleasedFileOut(name=f.name, sha256=f.sha256, size=f.size) for f in rel.files])


def _load(session, p, release_id: str) -> Release:
    rel = session.get(Release, release_id)
    if rel is None:
        raise NotFound("no such release")
    permissions.check_download(session, p, rel.project)
    return rel


@router.get("/releases", response_model=Page[ReleaseOut], summary="Releases of the projects you are a member of")
def list_releases(svc: ServiceDep, session: ReadSessionDep, p: PrincipalDep,
                  project: Annotated[str | None, Query(max_length=100)] = None,
                  page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
                  page_size: Annotated[int | None, Query(ge=1)] = None) -> Page[ReleaseOut]:
    size = min(page_size or svc.policy.api.page_size_default, svc.policy.api.page_size_max)
    query = select(Release).order_by(Release.released_at.desc())
    if p.project is not None:
        query = query.where(Release.project == p.project)
    if project:
        query = query.where(Release.project == project)
    rows = [r for r in session.execute(query).scalars() if permissions.can_download(session, p, r.project)]
    start = (page - 1) * size
    return Page[ReleaseOut](items=[_out(r) for r in rows[start : start + size]], total=len(rows), page=page, page_size=size)


@router.get("/releases/{release_id}", response_model=ReleaseOut, summary="One release")
def get_release(release_id: str, session: ReadSessionDep, p: PrincipalDep) -> ReleaseOut:
    return _out(_load(session, p, release_id))


@router.get("/releases/{release_id}/manifest", response_model=SignedManifest, summary="The signed manifest")
def get_manifest(release_id: str, session: ReadSessionDep, p: PrincipalDep) -> SignedManifest:
    return SignedManifest(**signed_document(_load(session, p, release_id)))


@router.get("/releases/{release_id}/files/{name}", summary="Download a released file (audited)",
            response_class=FileResponse, responses={200: {"content": {"application/octet-stream": {}}}})
def download(release_id: str, name: str, svc: ServiceDep, session: SessionDep, p: PrincipalDep) -> FileResponse:
    rel = _load(session, p, release_id)
    path, sha256 = record_download(session, svc.audit, rel, name, Actor(p.username, "researcher", p.source))
    session.commit()
    svc.metrics.downloads.inc()
    return file_response(path, name, sha256)


@router.get("/releases/{release_id}/ro-crate", summary="The release's provenance as a Five Safes RO-Crate (zip; audited)",
            response_class=StreamingResponse, responses={200: {"content": {"application/zip": {}}}})
def ro_crate(release_id: str, svc: ServiceDep, session: SessionDep, p: PrincipalDep) -> StreamingResponse:
    rel = session.get(Release, release_id)
    req = None if rel is None else session.get(ReleaseRequest, rel.request_id)
    if rel is None or req is None:
        raise NotFound("no such release")
    permissions.check_read_provenance(session, p, req)
    crate = records_ro_crate.build(rel, req)
    role = "researcher" if permissions.can_download(session, p, rel.project) else "output-checker"
    svc.audit.record(session, Actor(p.username, role, p.source), "release.ro_crate", "release", rel.id,
                     {"project": rel.project, "files": [f.name for f in rel.files]})
    session.commit()
    return StreamingResponse(crate.stream_zip(), media_type="application/zip",
                             headers={"Content-Disposition": f"attachment; filename=release-{rel.id}-ro-crate.zip",
                                      "X-Content-Type-Options": "nosniff"})


@router.get("/release-key", summary="The Ed25519 public key that signs release manifests (PEM)",
            response_class=Response, responses={200: {"content": {"application/x-pem-file": {}}}})
def release_key(svc: ServiceDep) -> Response:
    return Response(public_pem(svc.signer.public), media_type="application/x-pem-file")
