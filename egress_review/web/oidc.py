"""The egress UI's Keycloak login: the shared flow of :mod:`sandkasse.web.oidc` (authorization code
+ PKCE) for client ``sandkasse-egress``, with tokens checked by the same
:class:`~egress_review.identity.keycloak.KeycloakValidator` the API uses and the roles taken from the
access token."""

from __future__ import annotations

import time

from egress_review.identity.keycloak import KeycloakValidator
from egress_review.identity.principal import AuthError, Principal, Role, Via
from egress_review.settings import EgressSettings
from egress_review.web.settings import WebSettings
from sandkasse.web import oidc as shared
from sandkasse.web.oidc import HTTP_TIMEOUT, LoginStart, pkce_pair  # noqa: F401 - part of this module's API
from sandkasse.web.session import WebSession


class Endpoints(shared.Endpoints):
    @classmethod
    def from_settings(cls, s: EgressSettings) -> Endpoints:
        return cls.for_realm(s.keycloak_url, s.keycloak_realm, s.issuer)


def client(web: WebSettings) -> shared.Client:
    return shared.Client(web.egress_client_id, web.egress_client_secret, "SANDKASSE_EGRESS_CLIENT_SECRET")


def start(endpoints: shared.Endpoints, web: WebSettings, redirect_uri: str, next_path: str) -> LoginStart:
    return shared.start(endpoints, client(web), redirect_uri, next_path)


def _session_from(tokens: dict, validator: KeycloakValidator, web: WebSettings, source: str,
                  hard_expires: float | None, csrf: str | None) -> tuple[WebSession, Principal]:
    access = tokens.get("access_token")
    if not isinstance(access, str) or not isinstance(tokens.get("refresh_token"), str):
        raise AuthError("Keycloak's answer has no access or refresh token")
    claims = validator.validate(access)
    principal = validator.principal(access, source)
    session = shared.new_session(tokens, principal.username, [r.value for r in principal.roles],
                                 float(claims.get("exp", time.time())), web.web_session_max_seconds, hard_expires, csrf)
    return session, principal


def finish(endpoints: shared.Endpoints, web: WebSettings, validator: KeycloakValidator, login: dict[str, str],
           code: str, source: str) -> tuple[WebSession, Principal]:
    tokens = shared.exchange_code(endpoints, client(web), validator, login, code)
    return _session_from(tokens, validator, web, source, None, None)


def refresh(endpoints: shared.Endpoints, web: WebSettings, validator: KeycloakValidator, session: WebSession,
            source: str) -> tuple[WebSession, Principal]:
    tokens = shared.refresh_tokens(endpoints, client(web), session)
    new, principal = _session_from(tokens, validator, web, source, session.hard_expires, session.csrf)
    if new.username != session.username:
        raise AuthError("the refreshed token is for another user")
    return new, principal


def end(endpoints: shared.Endpoints, web: WebSettings, session: WebSession) -> None:
    shared.end(endpoints, client(web), session)


def principal_of(session: WebSession, source: str) -> Principal:
    roles = frozenset(Role(r) for r in session.roles if r in Role._value2member_map_)
    return Principal(session.username, roles, None, Via.KEYCLOAK, source)
