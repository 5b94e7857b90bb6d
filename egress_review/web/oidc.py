"""Keycloak login for the UI: OpenID Connect authorization-code flow with PKCE (S256).

The browser is sent to the realm's authorization endpoint (the public issuer's URL); the code comes
back to ``/auth/callback`` and is exchanged at the token endpoint (the back-channel URL) with the
client secret and the PKCE verifier, over httpx. Tokens are checked by the same
:class:`~egress_review.identity.keycloak.KeycloakValidator` the API uses (signature, expiry, issuer,
audience), the ID token's nonce against the one we sent, and the roles taken from the access token.
Only the refresh token is kept (in the encrypted session cookie); access tokens are re-fetched and
re-validated when they expire, so role changes in Keycloak reach the UI within minutes.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx

from egress_review.identity.keycloak import KeycloakValidator
from egress_review.identity.principal import AuthError, Principal, Role, Via
from egress_review.settings import EgressSettings
from egress_review.web.session import WebSession
from egress_review.web.settings import WebSettings

HTTP_TIMEOUT = 15.0


@dataclass(frozen=True)
class Endpoints:
    authorize: str  # what the browser opens (public issuer)
    token: str  # back channel
    logout: str  # back channel

    @classmethod
    def from_settings(cls, s: EgressSettings) -> Endpoints:
        backchannel = f"{s.keycloak_url.rstrip('/')}/realms/{s.keycloak_realm}/protocol/openid-connect"
        return cls(
            authorize=f"{s.issuer.rstrip('/')}/protocol/openid-connect/auth",
            token=f"{backchannel}/token",
            logout=f"{backchannel}/logout",
        )


@dataclass(frozen=True)
class LoginStart:
    url: str
    state: dict[str, str]


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def start(endpoints: Endpoints, web: WebSettings, redirect_uri: str, next_path: str) -> LoginStart:
    verifier, challenge = pkce_pair()
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    query = urlencode({
        "response_type": "code",
        "client_id": web.egress_client_id,
        "redirect_uri": redirect_uri,
        "scope": "openid",
        "state": state,
        "nonce": nonce,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    })
    return LoginStart(
        url=f"{endpoints.authorize}?{query}",
        state={"state": state, "nonce": nonce, "verifier": verifier, "next": next_path, "redirect_uri": redirect_uri},
    )


def _token_call(endpoints: Endpoints, web: WebSettings, form: dict[str, str]) -> dict:
    if not web.egress_client_secret:
        raise AuthError("the UI has no client secret (set SANDKASSE_EGRESS_CLIENT_SECRET)")
    try:
        response = httpx.post(endpoints.token, data=form, auth=(web.egress_client_id, web.egress_client_secret),
                              timeout=HTTP_TIMEOUT)
    except httpx.HTTPError as exc:
        raise AuthError(f"cannot reach Keycloak's token endpoint: {exc}") from exc
    if response.status_code != 200:
        try:
            why = response.json().get("error_description") or response.json().get("error")
        except ValueError:
            why = response.text[:200]
        raise AuthError(f"Keycloak refused the token request: {why}")
    return response.json()


def _session_from(tokens: dict, validator: KeycloakValidator, web: WebSettings, source: str,
                  hard_expires: float | None, csrf: str | None) -> tuple[WebSession, Principal]:
    access = tokens.get("access_token")
    refresh = tokens.get("refresh_token")
    if not isinstance(access, str) or not isinstance(refresh, str):
        raise AuthError("Keycloak's answer has no access or refresh token")
    claims = validator.validate(access)
    principal = validator.principal(access, source)
    now = time.time()
    session = WebSession(
        username=principal.username,
        roles=sorted(r.value for r in principal.roles),
        access_expires=float(claims.get("exp", now)),
        refresh_token=refresh,
        refresh_expires=now + float(tokens.get("refresh_expires_in") or 0),
        hard_expires=hard_expires or now + web.web_session_max_seconds,
    )
    if csrf:
        session.csrf = csrf
    return session, principal


def finish(endpoints: Endpoints, web: WebSettings, validator: KeycloakValidator, login: dict[str, str], code: str,
           source: str) -> tuple[WebSession, Principal]:
    tokens = _token_call(endpoints, web, {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": login["redirect_uri"],
        "code_verifier": login["verifier"],
    })
    id_token = tokens.get("id_token")
    if not isinstance(id_token, str):
        raise AuthError("Keycloak's answer has no ID token")
    id_claims = validator.validate(id_token)  # same signature, issuer and audience checks as the API
    if not secrets.compare_digest(str(id_claims.get("nonce", "")).encode(), login["nonce"].encode()):
        raise AuthError("the ID token's nonce does not match this login")
    session, principal = _session_from(tokens, validator, web, source, None, None)
    access_sub = validator.validate(tokens["access_token"]).get("sub")
    if id_claims.get("sub") != access_sub:
        raise AuthError("the ID token and the access token name different users")
    return session, principal


def refresh(endpoints: Endpoints, web: WebSettings, validator: KeycloakValidator, session: WebSession,
            source: str) -> tuple[WebSession, Principal]:
    tokens = _token_call(endpoints, web, {"grant_type": "refresh_token", "refresh_token": session.refresh_token})
    new, principal = _session_from(tokens, validator, web, source, session.hard_expires, session.csrf)
    if new.username != session.username:
        raise AuthError("the refreshed token is for another user")
    return new, principal


def end(endpoints: Endpoints, web: WebSettings, session: WebSession) -> None:
    """End the Keycloak session too (back channel), so the next login asks for the password again."""
    if not web.egress_client_secret:
        return
    try:
        httpx.post(endpoints.logout, data={"refresh_token": session.refresh_token},
                   auth=(web.egress_client_id, web.egress_client_secret), timeout=HTTP_TIMEOUT)
    except httpx.HTTPError:
        pass  # the cookie goes anyway; Keycloak's session then ends on its idle timeout


def principal_of(session: WebSession, source: str) -> Principal:
    roles = frozenset(Role(r) for r in session.roles if r in Role._value2member_map_)
    return Principal(session.username, roles, None, Via.KEYCLOAK, source)
