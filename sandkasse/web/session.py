"""Browser sessions as encrypted cookies, and CSRF tokens.

The session is a Fernet token (AES-CBC + HMAC, from ``cryptography``) under a key derived with HKDF
from ``SANDKASSE_SESSION_SECRET`` (or the master key): the browser holds it but can neither read nor
change it, and no server-side store has to be shared between workers. It carries the user, their
roles from the last validated access token, the access token's expiry and the refresh token, so
roles are re-read from Keycloak (and a disabled account is thrown out) every few minutes.

Cookies are ``HttpOnly``, ``SameSite=Lax`` (the callback from Keycloak is a cross-site top-level
navigation, which ``Strict`` would strip) and ``Secure``; forms additionally carry a per-session CSRF
token checked on every POST.
"""

from __future__ import annotations

import base64
import hmac
import ipaddress
import json
import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from starlette.requests import Request
from starlette.responses import Response

SESSION_COOKIE = "sk_session"
LOGIN_COOKIE = "sk_login"
LANG_COOKIE = "sk_lang"
LOGIN_SECONDS = 600


def derive_key(secret: bytes, purpose: bytes) -> bytes:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"sandkasse web " + purpose).derive(secret)
    return base64.urlsafe_b64encode(key)


@dataclass
class WebSession:
    username: str
    roles: list[str]
    access_expires: float
    refresh_token: str
    refresh_expires: float
    hard_expires: float
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    email: str = ""  # from the token, for UIs that write to the user (the portal's notices)

    @property
    def expired(self) -> bool:
        now = time.time()
        return now >= self.hard_expires or now >= self.refresh_expires

    @property
    def needs_refresh(self) -> bool:
        return time.time() >= self.access_expires - 10


class CookieBox:
    """Seals and opens the UI's cookies (session and the short-lived login state)."""

    def __init__(self, secret: bytes, insecure_loopback: bool = False, ui: str = "") -> None:
        # ``ui`` binds the cookies to one UI: the portal's and the egress UI's keys differ even when
        # both derive them from the master key, so a session of one is nobody at the other
        # (and names them apart: cookies ignore ports, so two UIs on one host would overwrite each other's)
        suffix = f" {ui}".encode() if ui else b""
        self._session = Fernet(derive_key(secret, b"session" + suffix))
        self._login = Fernet(derive_key(secret, b"login" + suffix))
        prefix = f"sk_{ui}_" if ui else "sk_"
        self.session_cookie, self.login_cookie = prefix + "session", prefix + "login"
        self.insecure_loopback = insecure_loopback

    # -- sealing
    def seal_session(self, s: WebSession) -> str:
        return self._session.encrypt(json.dumps(asdict(s)).encode()).decode()

    def open_session(self, value: str | None, max_age: int) -> WebSession | None:
        if not value:
            return None
        try:
            data = json.loads(self._session.decrypt(value.encode(), ttl=max_age))
            return WebSession(**data)
        except (InvalidToken, ValueError, TypeError):
            return None

    def seal_login(self, data: dict[str, Any]) -> str:
        return self._login.encrypt(json.dumps(data).encode()).decode()

    def open_login(self, value: str | None) -> dict[str, Any] | None:
        if not value:
            return None
        try:
            return json.loads(self._login.decrypt(value.encode(), ttl=LOGIN_SECONDS))
        except (InvalidToken, ValueError):
            return None

    # -- cookies
    def secure_for(self, request: Request) -> bool:
        """Secure always, except when explicitly configured for a plain-HTTP loopback demo or test."""
        if not self.insecure_loopback or request.url.scheme == "https":
            return True
        return not is_loopback(request.url.hostname or "")

    def set(self, request: Request, response: Response, name: str, value: str, max_age: int) -> None:
        response.set_cookie(
            name, value, max_age=max_age, path=cookie_path(request), secure=self.secure_for(request),
            httponly=True, samesite="lax",
        )

    def clear(self, request: Request, response: Response, name: str) -> None:
        response.delete_cookie(name, path=cookie_path(request), secure=self.secure_for(request), httponly=True,
                               samesite="lax")


def cookie_path(request: Request) -> str:
    return (request.scope.get("root_path") or "").rstrip("/") + "/"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def csrf_ok(session: WebSession | None, submitted: str | None) -> bool:
    return bool(session and submitted) and hmac.compare_digest(session.csrf.encode(), str(submitted).encode())
