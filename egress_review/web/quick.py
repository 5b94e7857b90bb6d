"""The request page's one-click review buttons ("Approve", "Return with suggested table"): one form
POST (CSRF-checked) calling :func:`egress_review.quick_review.click`, which votes, submits the review
and decides only as the two-person rule allows."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.responses import Response

from egress_review import quick_review, submission
from egress_review.api.reviews import _observe
from egress_review.errors import InvalidInput
from egress_review.release.release import release
from egress_review.web.core import Ctx, WebRoute, form_context, form_value
from egress_review.web.request_page import _back, _load

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.post("/requests/{request_id}/files/{file_id}/quick", name="ui_quick_review")
def quick(request_id: str, file_id: str, ctx: Annotated[Ctx, Depends(form_context)]) -> Response:
    svc = ctx.svc
    with svc.sessions() as session:
        req = _load(session, ctx, request_id)  # who may see it first: an outsider learns nothing from the form
        f = submission.get_file(req, file_id)
        try:
            action = quick_review.Quick(form_value(ctx.request, "quick"))
        except ValueError as exc:
            raise InvalidInput(ctx.t("error.bad_choice")) from exc
        outcome = quick_review.click(session, svc.audit, svc.policy, ctx.principal, req, f, action)
        session.commit()
        _observe(svc, session)
    if outcome is quick_review.Outcome.APPROVE:
        # as the decision form: the release is the system's step in its own transaction
        with svc.sessions() as rs:
            release(rs, svc.audit, svc.store, svc.signer, svc.release_dir, submission.get_request(rs, request_id))
            rs.commit()
    anchor = f"file-{file_id}" if outcome is quick_review.Outcome.VOTED else ""
    done = f"quick_{outcome.value}"  # req.done.quick_* labels
    return _back(ctx, request_id, done, anchor=anchor)
