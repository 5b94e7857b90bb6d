"""What every page of the egress UI shares: the request context (service, session, principal,
language) and the route class, built on the shared web machinery of :mod:`sandkasse.web.pages`.

Every action a page offers is checked again on the server by the business-logic layer
(:mod:`egress_review.permissions` through :mod:`egress_review.review` and friends): the templates
only hide what the same ``can_*`` functions say is not allowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi import Request
from jinja2 import Environment

from egress_review.errors import EgressError
from egress_review.identity.principal import AuthError, Principal
from egress_review.service import EgressService
from egress_review.states import TransitionError
from egress_review.web import oidc
from egress_review.web.messages import MESSAGES
from egress_review.web.settings import WebSettings
from sandkasse.web import pages
from sandkasse.web.pages import (  # noqa: F401 - part of this module's API
    CSP,
    SECURITY_HEADERS,
    CsrfFailed,
    LoginRequired,
    aware,
    form_value,
)
from sandkasse.web.session import CookieBox, WebSession

TEMPLATES = Path(__file__).resolve().parent / "templates"


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
    app = WebApp(web, CookieBox(secret, web.web_insecure_loopback), oidc.Endpoints.from_settings(svc.settings),
                 pages.template_env(TEMPLATES))
    state.egress_web = app
    return app


@dataclass
class Ctx(pages.PageCtx):
    svc: EgressService | None = None
    principal: Principal | None = None

    messages = MESSAGES

    def begin_login(self, redirect_uri: str, next_path: str) -> oidc.LoginStart:
        return oidc.start(self.app.endpoints, self.app.web, redirect_uri, next_path)

    def finish_login(self, login_state: dict[str, str], code: str) -> tuple[WebSession, Principal]:
        return oidc.finish(self.app.endpoints, self.app.web, self.svc.keycloak, login_state, code, self.source)

    def end_login(self) -> None:
        assert self.session is not None
        oidc.end(self.app.endpoints, self.app.web, self.session)

    def landing(self) -> str:
        p = self.principal
        assert p is not None
        if p.is_checker:
            return self.url("ui_queue")
        if p.is_admin:
            return self.url("ui_admin_projects")
        return self.url("ui_my_requests")


def context(request: Request) -> Ctx:
    """The page's context; a logged-in user's session is refreshed against Keycloak when its access
    token has expired (and dropped when Keycloak no longer agrees)."""
    app = web_app(request)
    ctx = Ctx(request, app, pages.pick_lang(request), svc=request.app.state.egress)
    request.state.web_ctx = ctx
    return pages.restore_session(
        ctx, app.box, app.web.web_session_max_seconds,
        refresh=lambda s: oidc.refresh(app.endpoints, app.web, ctx.svc.keycloak, s, ctx.source),
        principal_of=lambda s: oidc.principal_of(s, ctx.source),
    )


def user_context(request: Request) -> Ctx:
    """The context of a page that needs a logged-in user."""
    return pages.require_user(context(request))


async def form_context(request: Request) -> Ctx:
    """The context of a form POST: logged in, and the form's CSRF token matches the session's."""
    return await pages.check_form(context(request))


def _error_status(exc: Exception) -> int | None:
    if isinstance(exc, EgressError):
        return exc.status
    if isinstance(exc, TransitionError):
        return 409
    if isinstance(exc, AuthError):
        return 401
    return None


WebRoute = pages.route_class(context, _error_status)

