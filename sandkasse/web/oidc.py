"""Keycloak login for a server-rendered UI: OpenID Connect authorization-code flow with PKCE (S256).

The browser is sent to the realm's authorization endpoint (the public issuer's URL); the code comes
back to the UI's ``/auth/callback`` and is exchanged at the token endpoint (the back-channel URL) with
the client secret and the PKCE verifier, over httpx. The ID token is checked by the UI's validator
(signature, expiry, issuer, audience) and its nonce against the one we sent. Only the refresh token
is kept (in the encrypted session cookie); access tokens are re-fetched and re-validated when they
expire, so role changes in Keycloak reach the UI within minutes.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlencode

import httpx

from sandkasse.web.session import WebSession
from sandkasse.web.tokens import AuthError

HTTP_TIMEOUT = 15.0


class Validator(Protocol):
    def validate(self, token: str) -> dict: ...


@dataclass(frozen=True)
class Client:
    """The UI's confidential Keycloak client."""

    id: str
    secret: str | None
    secret_setting: str = "the client secret"


@dataclass(frozen=True)
class Endpoints:
    authorize: str  # what the browser opens (public issuer)
    token: str  # back channel
    logout: str  # back channel

    @classmethod
    def for_realm(cls, keycloak_url: str, realm: str, issuer: str) -> Endpoints:
        backchannel = f"{keycloak_url.rstrip('/')}/realms/{realm}/protocol/openid-connect"
        return cls(
            authorize=f"{issuer.rstrip('/')}/protocol/openid-connect/auth",
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


def start(endpoints: Endpoints, client: Client, redirect_uri: str, next_path: str) -> LoginStart:
    verifier, challenge = pkce_pair()
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    query = urlencode({
        "response_type": "code",
        "client_id": client.id,
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


def token_call(endpoints: Endpoints, client: Client, form: dict[str, str]) -> dict:
    if not client.secret:
        raise AuthError(f"the UI has no client secret (set {client.secret_setting})")
    try:
        response = httpx.post(endpoints.token, data=form, auth=(client.id, client.secret), timeout=HTTP_TIMEOUT)
    except httpx.HTTPError as exc:
        raise AuthError(f"cannot reach Keycloak's token endpoint: {exc}") from exc
    if response.status_code != 200:
        try:
            why = response.json().get("error_description") or response.json().get("error")
        except ValueError:
            why = response.text[:200]
        raise AuthError(f"Keycloak refused the token request: {why}")
    return response.json()


def exchange_code(endpoints: Endpoints, client: Client, validator: Validator, login: dict[str, str],
                  code: str) -> dict:
    """The tokens for this login's code, once the ID token is valid, carries our nonce, and names the
    same user as the access token."""
    tokens = token_call(endpoints, client, {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": login["redirect_uri"],
        "code_verifier": login["verifier"],
    })
    id_token, access = tokens.get("id_token"), tokens.get("access_token")
    if not isinstance(id_token, str):
        raise AuthError("Keycloak's answer has no ID token")
    id_claims = validator.validate(id_token)  # same signature, issuer and audience checks as the API
    if not secrets.compare_digest(str(id_claims.get("nonce", "")).encode(), login["nonce"].encode()):
        raise AuthError("the ID token's nonce does not match this login")
    if not isinstance(access, str) or not isinstance(tokens.get("refresh_token"), str):
        raise AuthError("Keycloak's answer has no access or refresh token")
    if id_claims.get("sub") != validator.validate(access).get("sub"):
        raise AuthError("the ID token and the access token name different users")
    return tokens


def refresh_tokens(endpoints: Endpoints, client: Client, session: WebSession) -> dict:
    return token_call(endpoints, client, {"grant_type": "refresh_token", "refresh_token": session.refresh_token})


def new_session(tokens: dict, username: str, roles: list[str], access_expires: float, max_seconds: int,
                hard_expires: float | None = None, csrf: str | None = None) -> WebSession:
    refresh = tokens.get("refresh_token")
    if not isinstance(tokens.get("access_token"), str) or not isinstance(refresh, str):
        raise AuthError("Keycloak's answer has no access or refresh token")
    now = time.time()
    session = WebSession(
        username=username,
        roles=sorted(roles),
        access_expires=access_expires,
        refresh_token=refresh,
        refresh_expires=now + float(tokens.get("refresh_expires_in") or 0),
        hard_expires=hard_expires or now + max_seconds,
    )
    if csrf:
        session.csrf = csrf
    return session


def end(endpoints: Endpoints, client: Client, session: WebSession) -> None:
    """End the Keycloak session too (back channel), so the next login asks for the password again."""
    if not client.secret:
        return
    try:
        httpx.post(endpoints.logout, data={"refresh_token": session.refresh_token},
                   auth=(client.id, client.secret), timeout=HTTP_TIMEOUT)
    except httpx.HTTPError:
        pass  # the cookie goes anyway; Keycloak's session then ends on its idle timeout
