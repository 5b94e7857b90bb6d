"""The portal's pages. Every route asks one question of
:mod:`provisioning.applications.permissions` (and the workflow functions ask it again before they
change anything); an application the caller may not read is "not found", whoever's it is."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.responses import Response

from provisioning import api
from provisioning.applications import hooks, workflow
from provisioning.applications import permissions as perm
from provisioning.applications.models import Application
from provisioning.applications.states import DECIDER, AppState
from provisioning.errors import NotFound
from provisioning.portal import form as forms
from provisioning.portal.web import Ctx, WebRoute, context, form_context, user_context
from sandkasse.db import session_scope
from sandkasse.web import login as shared_login
from sandkasse.web.pages import form_value

log = logging.getLogger(__name__)
router = APIRouter(route_class=WebRoute, include_in_schema=False)


def _readable(s, ctx: Ctx, app_id: str) -> Application:
    app = s.get(Application, app_id)
    if app is None or not perm.may_read(s, ctx.caller, app):
        raise NotFound("no such application")  # the same answer whether it exists or not
    return app


def _need(allowed: bool, why: str) -> None:
    if not allowed:
        raise workflow.NotAllowed(why)


@router.get("/", name="ui_home")
def home(ctx: Annotated[Ctx, Depends(context)]) -> Response:
    if ctx.principal is not None:
        return ctx.redirect(ctx.landing())
    return ctx.render("home.html")


@router.get("/applications", name="ui_applications")
def applications(ctx: Annotated[Ctx, Depends(user_context)]) -> Response:
    """The applicant's status page and the decision-makers' queue: what the caller may read."""
    with session_scope(ctx.app.sessions) as s:
        rows = []
        for app in perm.visible_applications(s, ctx.caller):
            rows.append({"app": app, "mine": app.applicant == ctx.caller.username,
                         "to_decide": perm.deciding_as(s, ctx.caller, app) is not None,
                         "waiting_for": DECIDER[AppState(app.state)]})
        s.expunge_all()
    waiting = [r for r in rows if r["to_decide"]]
    return ctx.render("applications.html", rows=rows, waiting=waiting, may_apply=perm.may_apply(ctx.caller))


def _form_page(ctx: Ctx, s, values: forms.FormValues, *, app: Application | None = None,
               errors: dict[str, str] | None = None, status: int = 200) -> Response:
    leads = [slug for slug, role in api.memberships(s, ctx.caller.username).items()
             if role == "lead" and perm.may_amend(s, ctx.caller, slug)]
    return ctx.render("form.html", status=status, app=app, v=values, errors=errors or {}, datasets=forms.catalogue(s),
                      art6=forms.ART6, art9=forms.ART9, transformations=forms.TRANSFORMATIONS, leads=leads)


@router.get("/applications/new", name="ui_new")
def new(ctx: Annotated[Ctx, Depends(user_context)], amends: str = "") -> Response:
    _need(perm.may_apply(ctx.caller), ctx.t("error.not_applicant"))
    with session_scope(ctx.app.sessions) as s:
        return _form_page(ctx, s, forms.FormValues(amends=amends))


def _save(ctx: Ctx, app_id: str | None) -> Response:
    form = ctx.request.state.web_form
    submit = form_value(ctx.request, "action") == "submit"
    with session_scope(ctx.app.sessions) as s:
        offered = forms.catalogue(s)
        raw, typed = forms.from_form(form, offered)
        app = None if app_id is None else _readable(s, ctx, app_id)
        if app is not None:
            _need(perm.may_edit(ctx.caller, app), ctx.t("error.not_editable"))
        try:
            content = workflow.parse_content(raw)
            if app is None:
                app = workflow.create(s, ctx.caller, content, amends=typed.amends or None)
            else:
                workflow.save(s, ctx.caller, app.id, content)
        except workflow.FieldErrors as bad:
            s.rollback()
            return _form_page(ctx, s, typed, app=app, errors=bad.errors, status=422)
        saved_id = app.id
    if submit:
        try:
            with session_scope(ctx.app.sessions) as s:
                workflow.submit(s, ctx.caller, saved_id)
        except workflow.FieldErrors as bad:  # kept as a draft: say what still blocks submission
            with session_scope(ctx.app.sessions) as s:
                app = _readable(s, ctx, saved_id)
                values = forms.from_content(perm.content_of(app), app.amends or "")
                return _form_page(ctx, s, values, app=app, errors=bad.errors, status=422)
    return ctx.redirect(ctx.url("ui_application", app_id=saved_id) + ("?done=submitted" if submit else "?done=saved"))


@router.post("/applications/new", name="ui_create")
def create(ctx: Annotated[Ctx, Depends(form_context)]) -> Response:
    _need(perm.may_apply(ctx.caller), ctx.t("error.not_applicant"))
    return _save(ctx, None)


@router.get("/applications/{app_id}/edit", name="ui_edit")
def edit(ctx: Annotated[Ctx, Depends(user_context)], app_id: str) -> Response:
    with session_scope(ctx.app.sessions) as s:
        app = _readable(s, ctx, app_id)
        _need(perm.may_edit(ctx.caller, app), ctx.t("error.not_editable"))
        return _form_page(ctx, s, forms.from_content(perm.content_of(app), app.amends or ""), app=app)


@router.post("/applications/{app_id}/edit", name="ui_save")
def save(ctx: Annotated[Ctx, Depends(form_context)], app_id: str) -> Response:
    return _save(ctx, app_id)


@router.get("/applications/{app_id}", name="ui_application")
def application(ctx: Annotated[Ctx, Depends(user_context)], app_id: str) -> Response:
    with session_scope(ctx.app.sessions) as s:
        app = _readable(s, ctx, app_id)
        caller = ctx.caller
        internal = perm.may_read_internal(s, caller, app)
        deciding = perm.deciding_as(s, caller, app)
        page = {
            "app": app, "content": perm.content_of(app), "datasets": {d.name: d for d in forms.catalogue(s)},
            "decisions": list(app.decisions),
            "comments": [c for c in app.comments if internal or not c.internal],
            "may_edit": perm.may_edit(caller, app), "may_withdraw": perm.may_withdraw(caller, app),
            "may_comment": perm.may_comment(s, caller, app, False), "may_comment_internal": internal and perm.may_comment(s, caller, app, True),
            "deciding": deciding.value if deciding else None, "to_decide": perm.datasets_to_decide(s, caller, app),
            "pending": perm.pending_datasets(app) if AppState(app.state) is AppState.SUBMITTED else [],
            "may_provision": perm.may_provision(s, caller, app),
            "twin": _twin_link(ctx, app) if caller.has(perm.APPLICANT) and perm.may_use_twin(caller.username, app) else None,
            # the pre-assessment is for the decision-makers (aggregate figures only)
            "assessment": hooks.assessment_of(s, app) if perm.may_read_assessment(s, caller, app) else None,
            "show_assessment": perm.may_read_assessment(s, caller, app),
            "waiting_for": DECIDER[AppState(app.state)], "transformations": forms.TRANSFORMATIONS,
        }
        s.expunge_all()
    return ctx.render("application.html", **page, not_computed=hooks.NOT_COMPUTED,
                      done=ctx.request.query_params.get("done", ""))


@router.get("/applications/{app_id}/dpia.md", name="ui_dpia_md")
def dpia_md(ctx: Annotated[Ctx, Depends(user_context)], app_id: str) -> Response:
    return _dpia(ctx, app_id, "md")


@router.get("/applications/{app_id}/dpia.pdf", name="ui_dpia_pdf")
def dpia_pdf(ctx: Annotated[Ctx, Depends(user_context)], app_id: str) -> Response:
    return _dpia(ctx, app_id, "pdf")


def _dpia(ctx: Ctx, app_id: str, fmt: str) -> Response:
    """The DPIA draft for the DPO to complete: decision-makers who are not a party only."""
    from provisioning.applications.prepared import dpia_draft

    with session_scope(ctx.app.sessions) as s:
        app = _readable(s, ctx, app_id)
        _need(perm.may_read_assessment(s, ctx.caller, app), ctx.t("error.no_assessment"))
        made = dpia_draft(s, app)
    if made is None:
        raise NotFound("the pre-assessment is not computed yet")
    markdown, pdf = made
    name = f"dpia-draft-{app_id}.{fmt}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
    if fmt == "md":
        return Response(markdown.encode(), media_type="text/markdown; charset=utf-8", headers=headers)
    return Response(pdf, media_type="application/pdf", headers=headers)


def _twin_link(ctx: Ctx, app: Application) -> dict[str, str]:
    """Where the applicant opens the synthetic twin: the hub server named after the application."""
    from provisioning.applications.prepared import workspace_of

    name = workspace_of(app.id)
    hub = (ctx.app.web.hub_public_url or "").rstrip("/")
    return {"name": name, "url": f"{hub}/hub/spawn/{ctx.caller.username}/{name}" if hub else ""}


@router.post("/applications/{app_id}/submit", name="ui_submit")
def submit(ctx: Annotated[Ctx, Depends(form_context)], app_id: str) -> Response:
    with session_scope(ctx.app.sessions) as s:
        app = _readable(s, ctx, app_id)
        _need(perm.may_edit(ctx.caller, app), ctx.t("error.not_editable"))
        workflow.submit(s, ctx.caller, app_id)
    return ctx.redirect(ctx.url("ui_application", app_id=app_id) + "?done=submitted")


@router.post("/applications/{app_id}/withdraw", name="ui_withdraw")
def withdraw(ctx: Annotated[Ctx, Depends(form_context)], app_id: str) -> Response:
    with session_scope(ctx.app.sessions) as s:
        app = _readable(s, ctx, app_id)
        _need(perm.may_withdraw(ctx.caller, app), ctx.t("error.not_withdrawable"))
        workflow.withdraw(s, ctx.caller, app_id, form_value(ctx.request, "reasons"))
    return ctx.redirect(ctx.url("ui_application", app_id=app_id) + "?done=withdrawn")


@router.post("/applications/{app_id}/comment", name="ui_comment")
def comment(ctx: Annotated[Ctx, Depends(form_context)], app_id: str) -> Response:
    internal = form_value(ctx.request, "visibility") == "internal"
    with session_scope(ctx.app.sessions) as s:
        app = _readable(s, ctx, app_id)
        _need(perm.may_comment(s, ctx.caller, app, internal), ctx.t("error.no_comment"))
        workflow.comment(s, ctx.caller, app_id, form_value(ctx.request, "comment"), internal)
    return ctx.redirect(ctx.url("ui_application", app_id=app_id) + "?done=commented")


@router.post("/applications/{app_id}/decide", name="ui_decide")
def decide(ctx: Annotated[Ctx, Depends(form_context)], app_id: str) -> Response:
    decision = form_value(ctx.request, "decision")
    with session_scope(ctx.app.sessions) as s:
        app = _readable(s, ctx, app_id)
        _need(perm.deciding_as(s, ctx.caller, app) is not None, ctx.t("error.not_deciding"))
        mine = perm.datasets_to_decide(s, ctx.caller, app)
        changes = forms.owner_transformations(ctx.request.state.web_form, mine, perm.content_of(app)) if mine else None
        target = workflow.decide(s, ctx.caller, app_id, decision, form_value(ctx.request, "reasons"),
                                 datasets=mine or None, transformations_=changes)
    if target is AppState.APPROVED and ctx.app.web.portal_provision:
        _provision(ctx, app_id)
    return ctx.redirect(ctx.url("ui_application", app_id=app_id) + f"?done={decision}")


@router.post("/applications/{app_id}/provision", name="ui_provision")
def provision(ctx: Annotated[Ctx, Depends(form_context)], app_id: str) -> Response:
    with session_scope(ctx.app.sessions) as s:
        app = _readable(s, ctx, app_id)
        _need(perm.may_provision(s, ctx.caller, app), ctx.t("error.not_provisioning"))
    _provision(ctx, app_id)
    return ctx.redirect(ctx.url("ui_application", app_id=app_id) + "?done=provision")


def _provision(ctx: Ctx, app_id: str) -> None:
    """Approval is committed first; the project is then made in its own transaction, and a failure
    (e.g. an extract below the minimum k) is kept on the application for the retry."""
    from provisioning.applications.provision import provision as make_project, record_failure

    try:
        with session_scope(ctx.app.sessions) as s:
            make_project(s, app_id, by=ctx.caller.username, keycloak=_keycloak(ctx),
                         master_key=_master_key(ctx), var_dir=ctx.app.settings.var_dir)
    except Exception as exc:  # noqa: BLE001 - the approval stands; why the project is missing is shown and audited
        log.warning("provisioning application %s failed: %s", app_id, exc)
        with session_scope(ctx.app.sessions) as s:
            record_failure(s, app_id, str(exc), by=ctx.caller.username)


def _master_key(ctx: Ctx) -> bytes | None:
    from sandkasse.keys import load_master_key

    if not (ctx.app.settings.master_key or ctx.app.settings.master_key_file):
        return None
    return load_master_key(ctx.app.settings)


def _keycloak(ctx: Ctx):  # noqa: ANN202 - KeycloakSync | None
    if not ctx.app.web.portal_keycloak_sync:
        return None
    from provisioning.keycloak_sync import KeycloakSync

    try:
        return KeycloakSync.from_settings(ctx.app.settings, actor=ctx.caller.username)
    except Exception as exc:  # no admin credentials configured: the group follows at the next sync
        log.warning("no Keycloak sync for the new project: %s", exc)
        return None


# -- the catalogue: public, as its DCAT-AP-NO export is -------------------------------------------------


@router.get("/catalogue", name="ui_catalogue")
def catalogue_page(ctx: Annotated[Ctx, Depends(context)], q: str = "") -> Response:
    from provisioning.catalogue_meta import load_catalogue, search

    with session_scope(ctx.app.sessions) as s:
        found = search(load_catalogue(s), q)
    return ctx.render("catalogue.html", datasets=found, q=q)


@router.get("/catalogue/{name}", name="ui_dataset")
def dataset_page(ctx: Annotated[Ctx, Depends(context)], name: str) -> Response:
    from provisioning.catalogue_meta import load_catalogue

    with session_scope(ctx.app.sessions) as s:
        meta = next((m for m in load_catalogue(s) if m.name == name), None)
    if meta is None:
        raise NotFound("no such dataset")
    return ctx.render("dataset.html", meta=meta, may_apply=ctx.principal is not None and perm.may_apply(ctx.principal))


DCAT_TYPES = {"ttl": ("turtle", "text/turtle; charset=utf-8"), "jsonld": ("jsonld", "application/ld+json")}


@router.get("/catalogue.{ext}", name="dcat_export")
def dcat_export(ctx: Annotated[Ctx, Depends(context)], ext: str) -> Response:
    """DCAT-AP-NO for harvesters (data.norge.no-style): metadata only, never a value of the data."""
    from provisioning import dcat
    from provisioning.catalogue_meta import load_catalogue, load_policy_file

    if ext not in DCAT_TYPES:
        raise NotFound("no such format")
    fmt, media = DCAT_TYPES[ext]
    policy = load_policy_file()
    with session_scope(ctx.app.sessions) as s:
        body = dcat.export(load_catalogue(s, policy), policy, fmt)
    return Response(body, media_type=media)


router.include_router(shared_login.make_router(WebRoute, context, form_context, not_found=NotFound))
