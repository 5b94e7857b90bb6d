"""What every page of a Sandkasse web UI shares: the page context (request, session, principal,
language), the route class that turns refusals into pages and sets the security headers and cookies,
and template rendering over the shared layout (``sandkasse/web/templates``).

A UI subclasses :class:`PageCtx` (its principal, its messages, how its login ends) and builds its
route class with :func:`route_class`. Templates only hide what the UI's permission functions say is
not allowed; every action is checked again on the server."""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.routing import APIRoute
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse, RedirectResponse, Response

from sandkasse.web.messages import LANGUAGES, translate
from sandkasse.web.session import LANG_COOKIE, CookieBox, WebSession, csrf_ok

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"

# Pages never run scripts; content is shown as escaped text or as <img> (where SVG cannot script).
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


def template_env(own: Path) -> Environment:
    """The UI's own templates first, then the shared layout and error page."""
    env = Environment(loader=ChoiceLoader([FileSystemLoader(own), FileSystemLoader(TEMPLATES)]),
                      autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
    env.filters["when"] = when
    env.filters["age"] = age
    env.filters["size"] = size
    return env


@dataclass
class PageCtx:
    request: Request
    app: Any  # the UI's built state: .templates (Environment), .box (CookieBox), .web (settings)
    lang: str
    session: WebSession | None = None
    principal: Any = None
    new_cookie: str | None = None
    cookies_to_clear: list[str] = field(default_factory=list)

    messages: ClassVar[dict[str, dict[str, str]]] = {}

    def t(self, key: str, **kw: Any) -> str:
        return translate(self.messages, self.lang, key, **kw)

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

    # -- what each UI says about its own login (sandkasse.web.login) --
    def begin_login(self, redirect_uri: str, next_path: str) -> Any:  # -> oidc.LoginStart
        raise NotImplementedError

    def finish_login(self, login_state: dict[str, str], code: str) -> tuple[WebSession, Any]:
        raise NotImplementedError

    def end_login(self) -> None:
        raise NotImplementedError

    def landing(self) -> str:
        return self.url("ui_home")


def pick_lang(request: Request) -> str:
    wanted = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE) or "en"
    return wanted if wanted in LANGUAGES else "en"


def restore_session(ctx: PageCtx, box: CookieBox, max_seconds: int,
                    refresh: Callable[[WebSession], tuple[WebSession, Any]],
                    principal_of: Callable[[WebSession], Any]) -> PageCtx:
    """Open the session cookie; a session whose access token has expired is refreshed against
    Keycloak (and dropped when Keycloak no longer agrees or every role was withdrawn)."""
    raw = ctx.request.cookies.get(box.session_cookie)
    session = box.open_session(raw, max_seconds)
    if session is None:
        if raw:
            ctx.cookies_to_clear.append(box.session_cookie)
        return ctx
    if session.expired:
        ctx.cookies_to_clear.append(box.session_cookie)
        return ctx
    if session.needs_refresh:
        from sandkasse.web.tokens import AuthError

        try:
            session, principal = refresh(session)
        except AuthError:
            ctx.cookies_to_clear.append(box.session_cookie)
            return ctx
        if not principal.roles:  # every role withdrawn in Keycloak: the session ends here
            ctx.cookies_to_clear.append(box.session_cookie)
            return ctx
        ctx.new_cookie = box.seal_session(session)
    ctx.session = session
    ctx.principal = principal_of(session)
    return ctx


def require_user(ctx: PageCtx) -> PageCtx:
    if ctx.principal is None:
        raise LoginRequired()
    return ctx


async def check_form(ctx: PageCtx) -> PageCtx:
    """A form POST: logged in, and the form's CSRF token matches the session's."""
    require_user(ctx)
    form = await ctx.request.form()
    if not csrf_ok(ctx.session, form.get("csrf")):
        raise CsrfFailed()
    ctx.request.state.web_form = form
    return ctx


def form_value(request: Request, name: str, default: str = "") -> str:
    value = request.state.web_form.get(name, default)
    return value if isinstance(value, str) else default


def finish(request: Request, response: Response, ctx: PageCtx | None) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if ctx is not None:
        if ctx.new_cookie:
            ctx.app.box.set(request, response, ctx.app.box.session_cookie, ctx.new_cookie, ctx.app.web.web_session_max_seconds)
        for name in ctx.cookies_to_clear:
            ctx.app.box.clear(request, response, name)
        if "lang" in request.query_params and request.query_params["lang"] in LANGUAGES:
            ctx.app.box.set(request, response, LANG_COOKIE, ctx.lang, 365 * 86400)
    return response


def route_class(context: Callable[[Request], PageCtx], error_status: Callable[[Exception], int | None]) -> type[APIRoute]:
    """A route class that turns refusals into pages with the right status (``error_status`` maps the
    UI's own exceptions; ``None`` lets an exception through) and sets headers and cookies on every answer."""

    class WebRoute(APIRoute):
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
                except Exception as exc:
                    status = error_status(exc)
                    if status is None:
                        raise
                    ctx = getattr(request.state, "web_ctx", None) or context(request)
                    response = ctx.render("error.html", status=status, message=str(exc))
                return finish(request, response, getattr(request.state, "web_ctx", None))

            return run

    return WebRoute


def aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def when(dt: datetime | None) -> str:
    return aware(dt).strftime("%Y-%m-%d %H:%M UTC") if dt else "–"


def age(dt: datetime | None) -> str:
    if dt is None:
        return "–"
    seconds = max(0, int(time.time() - aware(dt).timestamp()))
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


def size(n: int | None) -> str:
    if n is None:
        return "–"
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)
