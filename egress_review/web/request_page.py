"""The request page and every action on it.

Reading: the request as :func:`egress_review.api.views.detail` shows it to this viewer (so blinding and
visibility are the API's, not re-implemented here), each file rendered by :mod:`egress_review.web.preview`
when :func:`egress_review.permissions.may_read_content` allows it (every read audited as the API
does), the request's history and the project's earlier releases.

Acting: each form POST (CSRF-checked) calls the business-logic function the API calls, which checks
permission and state itself; a refused action is answered with the refusal, whatever the page showed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends
from sqlalchemy import select
from starlette.responses import Response, StreamingResponse

from egress_review import permissions, review, submission
from egress_review.api.reviews import _observe
from egress_review.api.views import _as_checker, check_report, detail
from egress_review.records.acro_evidence import acro_outcomes
from egress_review.audit import Actor
from egress_review.errors import InvalidInput, NotFound
from egress_review.models import EgressAuditEvent, Release, ReleaseRequest
from egress_review.release.release import release
from egress_review.report_view import metadata_report
from egress_review.states import VOTING_STATES, FileKind, RequestState, Visibility, VoteDecision
from egress_review.dp_service.guarantee import guarantee_of
from egress_review.notebooks import runs as notebook_runs
from egress_review.web import preview, request_layout
from egress_review.web.code_view import code_view
from egress_review.web.suggestion_view import suggestion_rows
from egress_review.web.core import Ctx, WebRoute, form_context, form_value, user_context

router = APIRouter(route_class=WebRoute, include_in_schema=False)

# What the history shows: the request's life, never votes or comments (those follow the blinding rules
# of egress_review.visibility and are shown by the page only as detail() allows).
HISTORY_ACTIONS = (
    "request.create", "request.submit", "request.resubmit", "request.review_submitted", "request.review",
    "request.approve", "request.return", "request.suggestion_attached", "request.reject", "request.release",
    "request.withdraw",
    "file.add", "file.upload", "file.withdraw", "file.describe",
)


@dataclass
class HistoryItem:
    at: object
    actor: str
    role: str
    action: str
    detail: dict


def _load(session, ctx: Ctx, request_id: str) -> ReleaseRequest:
    req = submission.get_request(session, request_id)
    permissions.check_view_request(session, ctx.principal, req)
    return req


def _history(session, req: ReleaseRequest) -> list[HistoryItem]:
    ids = [req.id] + [f.id for f in req.files] + [v.id for f in req.files for v in f.versions]
    rows = session.execute(
        select(EgressAuditEvent)
        .where(EgressAuditEvent.object_id.in_(ids), EgressAuditEvent.action.in_(HISTORY_ACTIONS))
        .order_by(EgressAuditEvent.seq)
    ).scalars()
    out = []
    for r in rows:
        try:
            d = json.loads(r.detail or "{}")
        except ValueError:
            d = {}
        out.append(HistoryItem(r.at, r.actor, r.role, r.action, d))
    return out


def _earlier_releases(session, req: ReleaseRequest) -> list[Release]:
    return list(session.execute(
        select(Release).where(Release.project == req.project, Release.request_id != req.id)
        .order_by(Release.released_at.desc())
    ).scalars())


def _audit_read(ctx: Ctx, session, req: ReleaseRequest, version_id: str, name: str, how: str) -> None:
    role = "output-checker" if _as_checker(session, ctx.principal, req) else "researcher"
    ctx.svc.audit.record(session, Actor(ctx.principal.username, role, ctx.source), "file.read", "file_version",
                         version_id, {"request": req.id, "name": name, "via": how})


@router.get("/requests/{request_id}", name="ui_request_page")
def request_page(request_id: str, ctx: Annotated[Ctx, Depends(user_context)], done: str = "") -> Response:
    p = ctx.principal
    svc = ctx.svc
    with svc.sessions() as session:
        req = _load(session, ctx, request_id)
        d = detail(session, p, req, svc.policy)
        can_read = permissions.may_read_content(session, p, req, svc.policy)
        can_review = permissions.can_review(session, p, req, svc.policy)
        can_edit = permissions.can_edit_request(session, p, req)
        can_download = permissions.can_download(session, p, req.project)
        conflict = permissions.conflict_of_interest(session, p, req, svc.policy) if p.is_checker else None
        previews: dict[str, preview.Preview] = {}
        reasons: dict[str, list[preview.Reason]] = {}
        dp: dict[str, dict] = {}
        for f in req.files:
            v = f.current_version
            if v is None:
                continue
            # The full report quotes cell values: only those who may read the file get it; the others
            # see how many findings each rule made (d's reports are already cut down the same way).
            if not can_read:
                reasons[f.id] = preview.rule_counts(metadata_report(v.check_report), ctx.t)
                continue
            report = check_report(session, v)
            reasons[f.id] = preview.reasons_of(report)
            previews[f.id] = preview.build(svc, v, report, ctx.app.web.web_preview_max_bytes,
                                           ctx.app.web.web_preview_max_rows)
            _audit_read(ctx, session, req, v.id, f.name, "web preview")
            if (g := guarantee_of(session, svc.store, req.project, v)) is not None:
                dp[f.id] = g
        acro = acro_outcomes(svc.store, req) if can_read else {}
        code = code_view(svc.store, req, ctx.app.web.web_preview_max_bytes) if can_read else None
        if code is not None and code.cells:
            _audit_read(ctx, session, req, code.version_id, code.name, "web code view")
        reexec = notebook_runs.notes(session, svc.store, req, can_read, svc.policy)
        if any(n.reason for n in reexec.values()) and (nb := notebook_runs.notebook_of(req)) is not None:
            # the failure text may quote what the notebook printed from the data: a read like any other
            _audit_read(ctx, session, req, nb[1].id, nb[0].name, "web re-execution reason")
        attached = suggestion_rows(session, req)
        history = _history(session, req)
        releases = _earlier_releases(session, req)
        earlier = [{"id": r.id, "request_id": r.request_id, "released_at": r.released_at,
                    "files": [(x.name, x.sha256) for x in r.files]} for r in releases]
        session.commit()
    verdicts = {f.id: f.current_version.verdict if f.current_version else None for f in d.files}
    flag_counts = {fid: len(rs) for fid, rs in reasons.items()}
    layouts = {f.id: request_layout.layout(previews.get(f.id), flag_counts.get(f.id, 0), verdicts[f.id]) for f in d.files}
    state = RequestState(d.state)
    votes_open = can_review and state in VOTING_STATES and not (state == RequestState.SUBMITTED and d.my_review_submitted)
    return ctx.render(
        "request.html", d=d, previews=previews, reasons=reasons, dp=dp, layouts=layouts,
        files=request_layout.file_order(d.files, verdicts, flag_counts), history=history, earlier=earlier,
        can_read=can_read, can_review=can_review, can_edit=can_edit, can_download=can_download, conflict=conflict,
        votes_open=votes_open,
        # Outside the sandbox the researcher does not see the current text, so does not edit it blind.
        editable=can_edit and can_read and state in (RequestState.DRAFT, RequestState.RETURNED), done=done,
        vote_choices=[v.value for v in VoteDecision], visibilities=[v.value for v in Visibility],
        output_kind=FileKind.OUTPUT.value, acro=acro, code=code, reexec=reexec, attached=attached,
    )


@router.get("/requests/{request_id}/files/{file_id}/raw", name="ui_file_raw")
def file_raw(request_id: str, file_id: str, ctx: Annotated[Ctx, Depends(user_context)],
             version: int | None = None) -> Response:
    """The quarantined bytes: images inline (as images only, sandboxed), everything else as a download."""
    svc = ctx.svc
    with svc.sessions() as session:
        req = _load(session, ctx, request_id)
        permissions.check_may_read_content(session, ctx.principal, req, svc.policy)
        f = submission.get_file(req, file_id)
        v = f.current_version if version is None else next((x for x in f.versions if x.number == version), None)
        if v is None:
            raise NotFound("no such version")
        _audit_read(ctx, session, req, v.id, f.name, "web")
        blob, vid, key, kind, name = v.blob, v.id, v.wrapped_key, v.detected_type, f.name
        session.commit()
    media = preview.IMAGE_TYPES.get(kind)
    disposition = "inline" if media else "attachment"
    return StreamingResponse(
        svc.store.read(blob, vid, key), media_type=media or "application/octet-stream",
        headers={"Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(name)}",
                 # Opened on its own, an SVG is a document: the sandbox stops any script in it.
                 "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
                 "Cache-Control": "no-store"},
    )


def _back(ctx: Ctx, request_id: str, done: str, anchor: str = "") -> Response:
    return ctx.redirect(ctx.url("ui_request_page", request_id=request_id) + f"?done={done}" + (f"#{anchor}" if anchor else ""))


FormCtx = Annotated[Ctx, Depends(form_context)]


@router.post("/requests/{request_id}/files/{file_id}/vote", name="ui_vote")
def vote(request_id: str, file_id: str, ctx: FormCtx) -> Response:
    try:
        decision = VoteDecision(form_value(ctx.request, "decision"))
        vis = Visibility(form_value(ctx.request, "visibility", Visibility.CHECKERS.value))
    except ValueError as exc:
        raise InvalidInput(ctx.t("error.bad_choice")) from exc
    with ctx.svc.sessions() as session:
        req = _load(session, ctx, request_id)
        f = submission.get_file(req, file_id)
        review.vote(session, ctx.svc.audit, ctx.svc.policy, ctx.principal, req, f, decision=decision,
                    comment=form_value(ctx.request, "comment"), visibility=vis)
        session.commit()
    return _back(ctx, request_id, "voted", anchor=f"file-{file_id}")  # back where the checker was


@router.post("/requests/{request_id}/review", name="ui_submit_review")
def submit_review(request_id: str, ctx: FormCtx) -> Response:
    with ctx.svc.sessions() as session:
        req = _load(session, ctx, request_id)
        review.submit_review(session, ctx.svc.audit, ctx.svc.policy, ctx.principal, req)
        session.commit()
    return _back(ctx, request_id, "review_submitted")


@router.post("/requests/{request_id}/decide", name="ui_decide")
def decide(request_id: str, ctx: FormCtx) -> Response:
    action = form_value(ctx.request, "action")
    comment = form_value(ctx.request, "comment")
    svc = ctx.svc
    with svc.sessions() as session:
        req = _load(session, ctx, request_id)
        if action == "approve":
            review.approve(session, svc.audit, svc.policy, ctx.principal, req, comment)
        elif action == "return":
            review.return_request(session, svc.audit, svc.policy, ctx.principal, req, comment)
        elif action == "reject":
            review.reject(session, svc.audit, svc.policy, ctx.principal, req, comment)
        else:
            raise InvalidInput(ctx.t("error.bad_choice"))
        session.commit()
        _observe(svc, session)
    if action == "approve":
        # As in the API: releasing is the system's step in its own transaction; a crash leaves the
        # request approved and release_pending() finishes it when the service starts again.
        with svc.sessions() as rs:
            release(rs, svc.audit, svc.store, svc.signer, svc.release_dir, submission.get_request(rs, request_id))
            rs.commit()
    return _back(ctx, request_id, action)


@router.post("/requests/{request_id}/comment", name="ui_comment")
def comment(request_id: str, ctx: FormCtx) -> Response:
    try:
        vis = Visibility(form_value(ctx.request, "visibility", Visibility.SHARED.value))
    except ValueError as exc:
        raise InvalidInput(ctx.t("error.bad_choice")) from exc
    with ctx.svc.sessions() as session:
        req = _load(session, ctx, request_id)
        review.add_comment(session, ctx.svc.audit, ctx.svc.policy, ctx.principal, req,
                           text=form_value(ctx.request, "text"), visibility=vis,
                           file_id=form_value(ctx.request, "file_id") or None)
        session.commit()
    return _back(ctx, request_id, "commented")


@router.post("/requests/{request_id}/submit", name="ui_submit_request")
def submit_request(request_id: str, ctx: FormCtx) -> Response:
    with ctx.svc.sessions() as session:
        req = _load(session, ctx, request_id)
        submission.submit(session, ctx.svc.audit, ctx.principal, req)
        session.commit()
    return _back(ctx, request_id, "submitted")


@router.post("/requests/{request_id}/withdraw", name="ui_withdraw_request")
def withdraw_request(request_id: str, ctx: FormCtx) -> Response:
    with ctx.svc.sessions() as session:
        req = _load(session, ctx, request_id)
        submission.withdraw_request(session, ctx.svc.audit, ctx.principal, req)
        session.commit()
    return _back(ctx, request_id, "withdrawn")


@router.post("/requests/{request_id}/files/{file_id}/describe", name="ui_describe_file")
def describe_file(request_id: str, file_id: str, ctx: FormCtx) -> Response:
    with ctx.svc.sessions() as session:
        req = _load(session, ctx, request_id)
        f = submission.get_file(req, file_id)
        submission.describe_file(session, ctx.svc.audit, ctx.svc.policy, ctx.principal, req, f,
                                 context=form_value(ctx.request, "context"),
                                 controls=form_value(ctx.request, "controls"))
        session.commit()
    return _back(ctx, request_id, "described")


@router.post("/requests/{request_id}/files/{file_id}/withdraw", name="ui_withdraw_file")
def withdraw_file(request_id: str, file_id: str, ctx: FormCtx) -> Response:
    with ctx.svc.sessions() as session:
        req = _load(session, ctx, request_id)
        f = submission.get_file(req, file_id)
        submission.withdraw_file(session, ctx.svc.audit, ctx.principal, req, f)
        session.commit()
    return _back(ctx, request_id, "file_withdrawn")
