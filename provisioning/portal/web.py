"""The portal's page context on :mod:`sandkasse.web.pages`: its Keycloak client and token validator
(audience ``sandkasse-portal``), its caller (:class:`~provisioning.applications.permissions.Caller`),
its labels, and how refusals become pages."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from fastapi import Request
from jinja2 import Environment
from sqlalchemy.orm import Session, sessionmaker

from provisioning import accounts
from provisioning.applications.permissions import PORTAL_ROLES, Caller
from provisioning.applications.workflow import FieldErrors, NotAllowed
from provisioning.errors import InvalidTransition, NotFound, ProvisioningError
from provisioning.portal.messages import MESSAGES
from provisioning.portal.settings import PortalSettings
from sandkasse.db import session_scope
from sandkasse.settings import Settings
from sandkasse.web import oidc, pages
from sandkasse.web.session import CookieBox, WebSession
from sandkasse.web.tokens import AuthError, TokenValidator, realm_roles, username_of

TEMPLATES = Path(__file__).resolve().parent / "templates"
# the portal's cookies are sealed under keys of its own (the egress UI's are not valid here, nor these there)
PORTAL_COOKIES = "portal"


class PortalValidator(TokenValidator):
    # tokens of the other clients open nothing here (the hub keeps its users' tokens in auth state)
    refused_parties = frozenset({"sandkasse-hub", "sandkasse-egress"})


@dataclass
class PortalApp:
    """Built once per application and kept on ``app.state.portal``."""

    settings: Settings
    web: PortalSettings
    box: CookieBox
    endpoints: oidc.Endpoints
    client: oidc.Client
    validator: TokenValidator
    templates: Environment
    sessions: sessionmaker[Session]

    @classmethod
    def build(cls, settings: Settings, web: PortalSettings, sessions: sessionmaker[Session]) -> PortalApp:
        if web.session_secret:
            secret = web.session_secret.encode()
        else:
            from sandkasse.keys import load_master_key

            secret = load_master_key(settings)
        issuer = web.keycloak_issuer or f"{settings.keycloak_url.rstrip('/')}/realms/{settings.keycloak_realm}"
        return cls(
            settings=settings, web=web, box=CookieBox(secret, web.web_insecure_loopback, ui=PORTAL_COOKIES),
            endpoints=oidc.Endpoints.for_realm(settings.keycloak_url, settings.keycloak_realm, issuer),
            client=oidc.Client(web.portal_client_id, web.portal_client_secret, "SANDKASSE_PORTAL_CLIENT_SECRET"),
            validator=PortalValidator(settings.keycloak_url, settings.keycloak_realm, web.portal_client_id, issuer),
            templates=pages.template_env(TEMPLATES), sessions=sessions,
        )


def caller_of(session: WebSession) -> Caller:
    return Caller(session.username, frozenset(r for r in session.roles if r in PORTAL_ROLES), session.email)


def _session_from(app: PortalApp, tokens: dict, hard_expires: float | None, csrf: str | None) -> tuple[WebSession, Caller]:
    access = tokens.get("access_token")
    if not isinstance(access, str):
        raise AuthError("Keycloak's answer has no access token")
    claims = app.validator.validate(access)
    roles = [r for r in realm_roles(claims) if r in PORTAL_ROLES]
    username = username_of(claims)
    _own_name(app, username, claims.get("sub"))
    session = oidc.new_session(tokens, username, roles, float(claims.get("exp", time.time())),
                               app.web.web_session_max_seconds, hard_expires, csrf)
    email = claims.get("email")
    # unverified addresses too (self-registration): it only says where the applicant's own notices go
    session.email = email.strip().lower() if isinstance(email, str) else ""
    return session, caller_of(session)


def _own_name(app: PortalApp, username: str, subject: object) -> None:
    """Refuse an account under a name that belongs to another (deleted) account: with self-registration
    a freed name can be registered again, and would inherit the applications kept under it. Checked at
    login and at every refresh; the first account seen under a name is bound to it."""
    if not isinstance(subject, str) or not subject:
        raise AuthError("Keycloak's token names no account (sub)")
    with session_scope(app.sessions) as s:  # committed before refusing, so the refusal stays in the audit
        ours = accounts.claim(s, username, subject, via="portal-login", actor=username)
    if not ours:
        raise AuthError(f"the user name {username!r} belonged to an account that was deleted and cannot be used "
                        "by another; register under another name, or ask the TRE's administrators")


@dataclass
class Ctx(pages.PageCtx):
    principal: Caller | None = None

    messages = MESSAGES

    @property
    def caller(self) -> Caller:
        if self.principal is None:
            raise pages.LoginRequired()
        return self.principal

    def begin_login(self, redirect_uri: str, next_path: str) -> oidc.LoginStart:
        return oidc.start(self.app.endpoints, self.app.client, redirect_uri, next_path)

    def finish_login(self, login_state: dict[str, str], code: str) -> tuple[WebSession, Caller]:
        tokens = oidc.exchange_code(self.app.endpoints, self.app.client, self.app.validator, login_state, code)
        return _session_from(self.app, tokens, None, None)

    def end_login(self) -> None:
        assert self.session is not None
        oidc.end(self.app.endpoints, self.app.client, self.session)

    def landing(self) -> str:
        return self.url("ui_applications")


def _refresh(app: PortalApp, session: WebSession) -> tuple[WebSession, Caller]:
    new, caller = _session_from(app, oidc.refresh_tokens(app.endpoints, app.client, session), session.hard_expires,
                                session.csrf)
    if new.username != session.username:
        raise AuthError("the refreshed token is for another user")
    return new, caller


def context(request: Request) -> Ctx:
    app: PortalApp = request.app.state.portal
    ctx = Ctx(request, app, pages.pick_lang(request))
    request.state.web_ctx = ctx
    return pages.restore_session(ctx, app.box, app.web.web_session_max_seconds,
                                 refresh=lambda s: _refresh(app, s), principal_of=caller_of)


def user_context(request: Request) -> Ctx:
    return pages.require_user(context(request))


async def form_context(request: Request) -> Ctx:
    return await pages.check_form(context(request))


def _error_status(exc: Exception) -> int | None:
    if isinstance(exc, NotAllowed):
        return 403
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, InvalidTransition):
        return 409
    if isinstance(exc, (FieldErrors, ProvisioningError)):
        return 400
    if isinstance(exc, AuthError):
        return 401
    return None


WebRoute = pages.route_class(context, _error_status)
