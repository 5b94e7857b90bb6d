"""Suggested tables attached to a returned request (:mod:`egress_review.suggestions`): the list is
metadata for anyone who sees the request; the content only for those who may read the request's
content (inside the sandbox, for researchers)."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel

from egress_review import submission, suggestions
from egress_review.api.deps import PrincipalDep, ServiceDep, SessionDep
from egress_review.api.errors import ERROR_RESPONSES
from egress_review.api.requests import load_visible
from egress_review.api.views import _as_checker

router = APIRouter(prefix="/api/v1/requests/{request_id}", tags=["files"], responses=ERROR_RESPONSES)


class SuggestionOut(BaseModel):
    file_id: str
    name: str
    version: int
    turn: int
    sha256: str
    size: int
    blank_cells: int
    created_at: datetime


@router.get("/suggestions", response_model=list[SuggestionOut],
            summary="Suggested tables the checkers attached when returning the request (metadata)")
def list_suggestions(request_id: str, session: SessionDep, p: PrincipalDep) -> list[SuggestionOut]:
    req = load_visible(session, p, request_id)
    files = {f.id: f for f in req.files}
    numbers = {v.id: v.number for f in req.files for v in f.versions}
    out = [SuggestionOut(file_id=s.file_id, name=files[s.file_id].name, version=numbers.get(s.version_id, 0),
                         turn=s.turn, sha256=s.sha256, size=s.size, blank_cells=s.blank_cells, created_at=s.created_at)
           for s in suggestions.of_request(session, req)]
    session.rollback()
    return out


@router.get("/files/{file_id}/suggestion",
            summary="The latest suggested table of a file (reviewing checkers, and project members from inside the sandbox; audited)",
            response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def read_suggestion(request_id: str, file_id: str, svc: ServiceDep, session: SessionDep, p: PrincipalDep) -> Response:
    req = load_visible(session, p, request_id)
    f = submission.get_file(req, file_id)
    s = suggestions.latest_for_file(session, req, f.id)
    role = "output-checker" if _as_checker(session, p, req) else "researcher"
    data = suggestions.read(session, svc.audit, svc.policy, p, req, s, role)
    session.commit()
    name = f.name.rsplit(".", 1)[0] + ".suggested.csv"
    return Response(data, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
                             "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'; sandbox",
                             "Cache-Control": "no-store"})
