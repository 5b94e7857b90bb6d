"""Home, login (authorization code + PKCE), callback, logout, and the UI's static files."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import FileResponse, Response

from egress_review.errors import NotFound
from egress_review.identity.principal import AuthError
from egress_review.web import oidc
from egress_review.web.core import Ctx, WebRoute, context, form_context
from egress_review.web.session import LOGIN_COOKIE, LOGIN_SECONDS, SESSION_COOKIE

router = APIRouter(route_class=WebRoute, include_in_schema=False)
STATIC = Path(__file__).resolve().parent / "static"
STATIC_FILES = {"app.css": "text/css"}


def landing(ctx: Ctx) -> str:
    p = ctx.principal
    assert p is not None
    if p.is_checker:
        return ctx.url("ui_queue")
    if p.is_admin:
        return ctx.url("ui_admin_projects")
    return ctx.url("ui_my_requests")


def _safe_next(value: str | None) -> str:
    # Only paths on this site: never an absolute URL or a scheme-relative //host (open redirect).
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return ""
    return value


@router.get("/", name="ui_home")
def home(ctx: Annotated[Ctx, Depends(context)]) -> Response:
    if ctx.principal is not None:
        return ctx.redirect(landing(ctx))
    return ctx.render("home.html")


@router.get("/login", name="ui_login")
def login(request: Request, ctx: Annotated[Ctx, Depends(context)], next: str = "") -> Response:
    redirect_uri = ctx.app.web.web_redirect_url or str(request.url_for("ui_auth_callback"))
    start = oidc.start(ctx.app.endpoints, ctx.app.web, redirect_uri, _safe_next(next))
    response = ctx.redirect(start.url)
    ctx.app.box.set(request, response, LOGIN_COOKIE, ctx.app.box.seal_login(start.state), LOGIN_SECONDS)
    return response


@router.get("/auth/callback", name="ui_auth_callback")
def callback(request: Request, ctx: Annotated[Ctx, Depends(context)], code: str = "", state: str = "",
             error: str = "") -> Response:
    login_state = ctx.app.box.open_login(request.cookies.get(LOGIN_COOKIE))
    ctx.cookies_to_clear.append(LOGIN_COOKIE)
    if error:
        raise AuthError(f"Keycloak did not log you in: {error}")
    if login_state is None or not state or not secrets.compare_digest(state.encode(), login_state["state"].encode()):
        raise AuthError(ctx.t("error.login_state"))
    session, principal = oidc.finish(ctx.app.endpoints, ctx.app.web, ctx.svc.keycloak, login_state, code, ctx.source)
    if not principal.roles:
        raise AuthError(ctx.t("error.no_role"))
    ctx.session, ctx.principal = session, principal
    ctx.new_cookie = ctx.app.box.seal_session(session)
    ctx.cookies_to_clear = [c for c in ctx.cookies_to_clear if c != SESSION_COOKIE]
    if login_state.get("next"):
        return ctx.redirect((ctx.request.scope.get("root_path") or "").rstrip("/") + login_state["next"])
    return ctx.redirect(landing(ctx))


@router.post("/logout", name="ui_logout")
def logout(ctx: Annotated[Ctx, Depends(form_context)]) -> Response:
    assert ctx.session is not None
    oidc.end(ctx.app.endpoints, ctx.app.web, ctx.session)
    ctx.new_cookie = None
    ctx.cookies_to_clear.append(SESSION_COOKIE)
    return ctx.redirect(ctx.url("ui_home") + "?bye=1")


@router.get("/static/{name}", name="ui_static")
def static(name: str) -> Response:
    if name not in STATIC_FILES:
        raise NotFound("no such file")
    return FileResponse(STATIC / name, media_type=STATIC_FILES[name],
                        headers={"Cache-Control": "public, max-age=3600"})
