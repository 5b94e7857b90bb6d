"""The checker's queue: requests waiting for this checker (never their own, never their projects'),
as :func:`egress_review.review.queue` decides, with filters and sorting."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.responses import Response

from egress_review import review
from egress_review.api.schemas import RequestSummary
from egress_review.api.views import summary
from egress_review.autocheck import VERDICT_ORDER
from egress_review.errors import Forbidden
from egress_review.states import RequestState
from egress_review.web.core import Ctx, WebRoute, aware, user_context

router = APIRouter(route_class=WebRoute, include_in_schema=False)

SORTS = ("age", "project", "requester", "files", "verdict")
# "Waiting at least": hours.
WAITING = {"1h": 1, "1d": 24, "3d": 72, "7d": 168}


@dataclass
class QueueRow:
    s: RequestSummary
    my_status: str  # to_review | waiting_for_others | to_decide


def _my_status(req, username: str) -> str:
    if req.state == RequestState.REVIEWED:
        return "to_decide"
    if any(r.reviewer == username and r.turn == req.turn for r in req.reviews):
        return "waiting_for_others"
    return "to_review"


def _since(r: QueueRow):
    return aware(r.s.submitted_at or r.s.created_at)


def _key(sort: str):
    return {
        "age": lambda r: -_since(r).timestamp(),
        "project": lambda r: (r.s.project, r.s.id),
        "requester": lambda r: (r.s.requester, r.s.id),
        "files": lambda r: r.s.file_count,
        "verdict": lambda r: VERDICT_ORDER.get(r.s.worst_verdict or "", -1),
    }[sort]


@router.get("/queue", name="ui_queue")
def queue(ctx: Annotated[Ctx, Depends(user_context)], project: str = "", verdict: str = "", status: str = "",
          sort: str = "age", order: str = "desc", waiting: str = "") -> Response:
    p = ctx.principal
    assert p is not None
    if not p.is_checker:
        raise Forbidden(ctx.t("error.checkers_only"))
    with ctx.svc.read_sessions() as session:
        # The queue holds only requests this checker may review, so the researcher's text is theirs to read.
        rows = [QueueRow(summary(r, text=True), _my_status(r, p.username)) for r in review.queue(session, p, ctx.svc.policy)]
        session.rollback()
    projects = sorted({r.s.project for r in rows})
    if project:
        rows = [r for r in rows if r.s.project == project]
    if verdict:
        rows = [r for r in rows if (r.s.worst_verdict or "") == verdict]
    if status:
        rows = [r for r in rows if r.my_status == status]
    if waiting in WAITING:
        cutoff = datetime.now(UTC) - timedelta(hours=WAITING[waiting])
        rows = [r for r in rows if _since(r) <= cutoff]
    sort = sort if sort in SORTS else "age"
    order = "asc" if order == "asc" else "desc"
    # Default: the longest-waiting request on top (largest age first).
    rows.sort(key=_key(sort), reverse=(order == "desc"))
    return ctx.render("queue.html", rows=rows, projects=projects,
                      filters={"project": project, "verdict": verdict, "status": status, "sort": sort, "order": order,
                               "waiting": waiting},
                      sorts=SORTS, waiting_choices=list(WAITING))
