"""Files of a release request: describe, upload content (streamed raw body), read, withdraw."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from egress_review import permissions, submission, upload
from egress_review.api.deps import PrincipalDep, ServiceDep, SessionDep
from egress_review.api.errors import ERROR_RESPONSES
from egress_review.api.requests import load_visible
from egress_review.api.schemas import FileCreate, FileOut, FileUpdate, UploadOut
from egress_review.api.views import _as_checker, check_report, file_after_commit, file_out, version_out
from egress_review.audit import Actor
from egress_review.errors import InvalidInput, NotFound, PayloadTooLarge

router = APIRouter(prefix="/api/v1/requests/{request_id}/files", tags=["files"], responses=ERROR_RESPONSES)


def _version(f, number: int | None):
    v = f.current_version if number is None else next((x for x in f.versions if x.number == number), None)
    if v is None:
        raise NotFound("no such version")
    return v


@router.post("", status_code=201, response_model=FileOut, summary="Add a file (output or supporting) to a request")
def add_file(request_id: str, body: FileCreate, svc: ServiceDep, session: SessionDep, p: PrincipalDep) -> FileOut:
    req = load_visible(session, p, request_id)
    f = submission.add_file(session, svc.audit, svc.policy, p, req, name=body.name, kind=body.kind,
                            context=body.context, controls=body.controls, sidecar=body.sidecar)
    session.commit()
    return file_after_commit(svc, p, request_id, f.id)


@router.patch("/{file_id}", response_model=FileOut, summary="Change a file's context, controls or sidecar")
def describe_file(request_id: str, file_id: str, body: FileUpdate, svc: ServiceDep, session: SessionDep,
                  p: PrincipalDep) -> FileOut:
    req = load_visible(session, p, request_id)
    f = submission.get_file(req, file_id)
    submission.describe_file(session, svc.audit, svc.policy, p, req, f, context=body.context,
                             controls=body.controls, sidecar=body.sidecar)
    session.commit()
    return file_after_commit(svc, p, request_id, file_id)


@router.put(
    "/{file_id}/content",
    response_model=UploadOut,
    summary="Upload the file's bytes as a new immutable version (raw body, streamed)",
    openapi_extra={"requestBody": {"required": True, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}},
)
async def upload_content(request_id: str, file_id: str, request: Request, svc: ServiceDep, p: PrincipalDep) -> UploadOut:
    length = request.headers.get("content-length")
    if length is not None:
        if not length.isdigit():
            raise InvalidInput("bad Content-Length")
        if int(length) > svc.policy.uploads.max_file_bytes:
            svc.metrics.refused.labels("too_large").inc()
            raise PayloadTooLarge(f"the file is larger than the limit of {svc.policy.uploads.max_file_bytes} bytes")
        if int(length) == 0:
            raise InvalidInput("the file is empty")
    try:
        _, version_id = await upload.receive_file(svc, p, request_id, file_id, request.stream())
    except Exception as exc:
        svc.metrics.refused.labels(exc.__class__.__name__).inc()
        raise
    with svc.read_sessions() as session:
        req = load_visible(session, p, request_id)
        f = submission.get_file(req, file_id)
        version = next(v for v in f.versions if v.id == version_id)
        content = permissions.may_read_content(session, p, req, svc.policy)
        out = UploadOut(file=file_out(p, req, f, as_checker=False, session=session, content=content),
                        version=version_out(version, session, content=content))
        session.rollback()
    return out


@router.get(
    "/{file_id}/content",
    summary="Read a quarantined file (reviewing checkers, and project members from inside the sandbox; audited)",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def read_content(request_id: str, file_id: str, svc: ServiceDep, session: SessionDep, p: PrincipalDep,
                 version: int | None = None) -> StreamingResponse:
    req = load_visible(session, p, request_id)
    permissions.check_may_read_content(session, p, req, svc.policy)
    f = submission.get_file(req, file_id)
    v = _version(f, version)
    role = "output-checker" if _as_checker(session, p, req) else "researcher"
    svc.audit.record(session, Actor(p.username, role, p.source), "file.read", "file_version", v.id,
                     {"request": req.id, "name": f.name})
    blob, vid, key = v.blob, v.id, v.wrapped_key
    session.commit()
    return StreamingResponse(
        svc.store.read(blob, vid, key),
        media_type="application/octet-stream",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(f.name)}", "X-Content-Type-Options": "nosniff",
                 "Content-Security-Policy": "default-src 'none'; sandbox"},
    )


@router.get(
    "/{file_id}/report",
    summary="The full automatic check report of a version, per-cell outcomes included (reviewing checkers, and project members from inside the sandbox; audited)",
)
def read_report(request_id: str, file_id: str, svc: ServiceDep, session: SessionDep, p: PrincipalDep,
                version: int | None = None) -> dict[str, Any]:
    req = load_visible(session, p, request_id)
    permissions.check_may_read_content(session, p, req, svc.policy)
    v = _version(submission.get_file(req, file_id), version)
    role = "output-checker" if _as_checker(session, p, req) else "researcher"
    svc.audit.record(session, Actor(p.username, role, p.source), "file.report_read", "file_version", v.id,
                     {"request": req.id, "name": v.file.name})
    report = check_report(session, v)
    session.commit()
    return report


@router.post("/{file_id}/withdraw", response_model=FileOut, summary="Withdraw a file from the request")
def withdraw_file(request_id: str, file_id: str, svc: ServiceDep, session: SessionDep, p: PrincipalDep) -> FileOut:
    req = load_visible(session, p, request_id)
    f = submission.get_file(req, file_id)
    submission.withdraw_file(session, svc.audit, p, req, f)
    session.commit()
    return file_after_commit(svc, p, request_id, file_id)
