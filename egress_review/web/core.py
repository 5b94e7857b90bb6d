"""What every UI page shares: the request context (service, session, principal, language), the route
class that turns refusals into pages and sets the security headers, and template rendering.

Every action a page offers is checked again on the server by the business-logic layer
(:mod:`egress_review.permissions` through :mod:`egress_review.review` and friends): the templates
only hide what the same ``can_*`` functions say is not allowed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse, RedirectResponse, Response

from egress_review.errors import EgressError
from egress_review.identity.principal import AuthError, Principal
from egress_review.service import EgressService
from egress_review.states import TransitionError
from egress_review.web import oidc
from egress_review.web.messages import LANGUAGES, translate
from egress_review.web.session import LANG_COOKIE, SESSION_COOKIE, CookieBox, WebSession, csrf_ok
from egress_review.web.settings import WebSettings

TEMPLATES = Path(__file__).resolve().parent / "templates"

# Pages never run scripts; quarantined content is shown as escaped text, as <img> (where SVG cannot
# script), or offered as a download: nothing from quarantine is ever executed in the page.
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


class LoginRequired(Exception):
    pass


class CsrfFailed(Exception):
    pass


@dataclass
class WebApp:
    """Built once per application (lazily, on the first UI request) and kept on ``app.state``."""

    web: WebSettings
    box: CookieBox
    endpoints: oidc.Endpoints
    templates: Environment


def web_app(request: Request) -> WebApp:
    state = request.app.state
    existing = getattr(state, "egress_web", None)
    if existing is not None:
        return existing
    svc: EgressService = state.egress
    web = getattr(state, "egress_web_settings", None) or WebSettings()
    if web.session_secret:
        secret = web.session_secret.encode()
    else:
        from sandkasse.keys import load_master_key

        secret = load_master_key(svc.settings)
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["when"] = _when
    env.filters["age"] = _age
    env.filters["size"] = _size
    app = WebApp(web, CookieBox(secret, web.web_insecure_loopback), oidc.Endpoints.from_settings(svc.settings), env)
    state.egress_web = app
    return app


@dataclass
class Ctx:
    request: Request
    app: WebApp
    svc: EgressService
    lang: str
    session: WebSession | None = None
    principal: Principal | None = None
    new_cookie: str | None = None
    cookies_to_clear: list[str] = field(default_factory=list)

    def t(self, key: str, **kw: Any) -> str:
        return translate(self.lang, key, **kw)

    @property
    def source(self) -> str:
        return self.request.client.host if self.request.client else ""

    def url(self, route: str, /, **params: Any) -> str:
        return (self.request.scope.get("root_path") or "").rstrip("/") + self.request.app.url_path_for(route, **params)

    def with_query(self, **params: str) -> str:
        """This page's query string with ``params`` replaced (e.g. the language links keep the filters)."""
        query = dict(self.request.query_params)
        query.update(params)
        return "?" + urlencode(query)

    def render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        tpl = self.app.templates.get_template(template)
        html = tpl.render(ctx=self, t=self.t, p=self.principal, csrf=self.session.csrf if self.session else "",
                          languages=LANGUAGES, url=self.url, **values)
        return HTMLResponse(html, status_code=status)

    def redirect(self, path: str) -> RedirectResponse:
        return RedirectResponse(path, status_code=303)


def _lang(request: Request) -> str:
    wanted = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE) or "en"
    return wanted if wanted in LANGUAGES else "en"


def context(request: Request) -> Ctx:
    """The page's context; a logged-in user's session is refreshed against Keycloak when its access
    token has expired (and dropped when Keycloak no longer agrees)."""
    app = web_app(request)
    ctx = Ctx(request, app, request.app.state.egress, _lang(request))
    request.state.web_ctx = ctx
    raw = request.cookies.get(SESSION_COOKIE)
    session = app.box.open_session(raw, app.web.web_session_max_seconds)
    if session is None:
        if raw:
            ctx.cookies_to_clear.append(SESSION_COOKIE)
        return ctx
    if session.expired:
        ctx.cookies_to_clear.append(SESSION_COOKIE)
        return ctx
    if session.needs_refresh:
        try:
            session, principal = oidc.refresh(app.endpoints, app.web, ctx.svc.keycloak, session, ctx.source)
        except AuthError:
            ctx.cookies_to_clear.append(SESSION_COOKIE)
            return ctx
        if not principal.roles:  # every role withdrawn in Keycloak: the session ends here
            ctx.cookies_to_clear.append(SESSION_COOKIE)
            return ctx
        ctx.new_cookie = app.box.seal_session(session)
    ctx.session = session
    ctx.principal = oidc.principal_of(session, ctx.source)
    return ctx


def user_context(request: Request) -> Ctx:
    """The context of a page that needs a logged-in user."""
    ctx = context(request)
    if ctx.principal is None:
        raise LoginRequired()
    return ctx


async def form_context(request: Request) -> Ctx:
    """The context of a form POST: logged in, and the form's CSRF token matches the session's."""
    ctx = user_context(request)
    form = await request.form()
    if not csrf_ok(ctx.session, form.get("csrf")):
        raise CsrfFailed()
    request.state.web_form = form
    return ctx


def form_value(request: Request, name: str, default: str = "") -> str:
    value = request.state.web_form.get(name, default)
    return value if isinstance(value, str) else default


def _finish(request: Request, response: Response, ctx: Ctx | None) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if ctx is not None:
        if ctx.new_cookie:
            ctx.app.box.set(request, response, SESSION_COOKIE, ctx.new_cookie, ctx.app.web.web_session_max_seconds)
        for name in ctx.cookies_to_clear:
            ctx.app.box.clear(request, response, name)
        if "lang" in request.query_params and request.query_params["lang"] in LANGUAGES:
            ctx.app.box.set(request, response, LANG_COOKIE, ctx.lang, 365 * 86400)
    return response


class WebRoute(APIRoute):
    """Turns refusals into pages with the right status, and sets headers and cookies on every answer."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            try:
                response = await handler(request)
            except LoginRequired:
                ctx = request.state.web_ctx
                root = (request.scope.get("root_path") or "").rstrip("/")
                nxt = request.url.path
                if root and nxt.startswith(root + "/"):
                    nxt = nxt[len(root):]
                if request.url.query:
                    nxt += "?" + request.url.query
                if request.method != "GET":
                    response = ctx.render("error.html", status=401, message=ctx.t("error.session_ended"), back=nxt)
                else:
                    response = ctx.redirect(ctx.url("ui_login") + "?next=" + quote(nxt, safe=""))
            except CsrfFailed:
                ctx = request.state.web_ctx
                response = ctx.render("error.html", status=403, message=ctx.t("error.csrf"))
            except (EgressError, TransitionError, AuthError) as exc:
                ctx = getattr(request.state, "web_ctx", None) or context(request)
                status = exc.status if isinstance(exc, EgressError) else 409 if isinstance(exc, TransitionError) else 401
                response = ctx.render("error.html", status=status, message=str(exc))
            return _finish(request, response, getattr(request.state, "web_ctx", None))

        return run


def aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _when(dt: datetime | None) -> str:
    return aware(dt).strftime("%Y-%m-%d %H:%M UTC") if dt else "–"


def _age(dt: datetime | None) -> str:
    if dt is None:
        return "–"
    seconds = max(0, int(time.time() - aware(dt).timestamp()))
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


def _size(n: int | None) -> str:
    if n is None:
        return "–"
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)
