"""Login (authorization code + PKCE), callback, logout and the shared static files, for any UI built
on :mod:`sandkasse.web.pages`: the UI passes its context dependencies and its route class."""

# no "from __future__ import annotations": the routes are built in a function whose locals FastAPI must see

import secrets
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from starlette.responses import FileResponse, Response

from sandkasse.web.pages import STATIC, PageCtx
from sandkasse.web.session import LOGIN_SECONDS
from sandkasse.web.tokens import AuthError

STATIC_FILES = {"app.css": "text/css"}


def safe_next(value: str | None) -> str:
    # Only paths on this site: never an absolute URL or a scheme-relative //host (open redirect).
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return ""
    return value


def make_router(route_class: type, context: Callable[..., Any], form_context: Callable[..., Any],
                not_found: Callable[[str], Exception] = lambda m: HTTPException(404, m)) -> APIRouter:
    router = APIRouter(route_class=route_class, include_in_schema=False)

    @router.get("/login", name="ui_login")
    def login(request: Request, ctx: Annotated[PageCtx, Depends(context)], next: str = "") -> Response:
        redirect_uri = ctx.app.web.web_redirect_url or str(request.url_for("ui_auth_callback"))
        start = ctx.begin_login(redirect_uri, safe_next(next))
        response = ctx.redirect(start.url)
        ctx.app.box.set(request, response, ctx.app.box.login_cookie, ctx.app.box.seal_login(start.state), LOGIN_SECONDS)
        return response

    @router.get("/auth/callback", name="ui_auth_callback")
    def callback(request: Request, ctx: Annotated[PageCtx, Depends(context)], code: str = "", state: str = "",
                 error: str = "") -> Response:
        login_state = ctx.app.box.open_login(request.cookies.get(ctx.app.box.login_cookie))
        ctx.cookies_to_clear.append(ctx.app.box.login_cookie)
        if error:
            raise AuthError(f"Keycloak did not log you in: {error}")
        if login_state is None or not state or not secrets.compare_digest(state.encode(), login_state["state"].encode()):
            raise AuthError(ctx.t("error.login_state"))
        session, principal = ctx.finish_login(login_state, code)
        if not principal.roles:
            raise AuthError(ctx.t("error.no_role"))
        ctx.session, ctx.principal = session, principal
        ctx.new_cookie = ctx.app.box.seal_session(session)
        ctx.cookies_to_clear = [c for c in ctx.cookies_to_clear if c != ctx.app.box.session_cookie]
        if login_state.get("next"):
            return ctx.redirect((ctx.request.scope.get("root_path") or "").rstrip("/") + login_state["next"])
        return ctx.redirect(ctx.landing())

    @router.post("/logout", name="ui_logout")
    def logout(ctx: Annotated[PageCtx, Depends(form_context)]) -> Response:
        assert ctx.session is not None
        ctx.end_login()
        ctx.new_cookie = None
        ctx.cookies_to_clear.append(ctx.app.box.session_cookie)
        return ctx.redirect(ctx.url("ui_home") + "?bye=1")

    @router.get("/static/{name}", name="ui_static")
    def static(name: str) -> Response:
        if name not in STATIC_FILES:
            raise not_found("no such file")
        return FileResponse(STATIC / name, media_type=STATIC_FILES[name],
                            headers={"Cache-Control": "public, max-age=3600"})

    return router
