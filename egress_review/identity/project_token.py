"""Project tokens: the credential the hub gives one notebook server so that what it submits is
attributed to (user, project), never to a project name the client chooses.

A project token is a JWT (HS256 under ``SANDKASSE_PROJECT_TOKEN_KEY``, shared by hub and egress
service) with ``sub`` = username, ``project`` = project slug, a short expiry, and a fixed issuer and
audience so it cannot be confused with a Keycloak token. The egress service additionally re-checks
``provisioning.api.can_access_project`` on every request, so a token of a suspended project, or of a
removed member, stops working before it expires.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from dataclasses import dataclass

import jwt

ISSUER = "sandkasse-hub"
AUDIENCE = "sandkasse-egress-project"
ALGORITHM = "HS256"
KEY_ENV = "SANDKASSE_PROJECT_TOKEN_KEY"
MIN_KEY_BYTES = 32
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
_USERNAME = re.compile(r"^[A-Za-z0-9._@-]{1,255}$")


class ProjectTokenError(Exception):
    """Not a valid, current project token."""


@dataclass(frozen=True)
class ProjectPrincipal:
    username: str
    project: str
    expires_at: int
    token_id: str


def load_project_token_key(value: str | None = None) -> bytes:
    """The shared key: the UTF-8 bytes of ``SANDKASSE_PROJECT_TOKEN_KEY`` (use a long random string,
    e.g. from ``sandkasse init``)."""
    text = value if value is not None else os.environ.get(KEY_ENV, "")
    key = text.encode()
    _check_key(key)
    return key


def _check_key(key: bytes) -> None:
    if len(key) < MIN_KEY_BYTES:
        raise ProjectTokenError(f"the project token key must be at least {MIN_KEY_BYTES} bytes ({KEY_ENV})")


def issue_project_token(username: str, project: str, key: bytes, ttl_seconds: int) -> str:
    """A token for ``username`` working in ``project``, valid for ``ttl_seconds``."""
    _check_key(key)
    if not _USERNAME.match(username):
        raise ProjectTokenError(f"not a valid username: {username!r}")
    if not _SLUG.match(project):
        raise ProjectTokenError(f"not a valid project slug: {project!r}")
    if ttl_seconds <= 0:
        raise ProjectTokenError("ttl_seconds must be positive")
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": username,
        "project": project,
        "iat": now,
        "nbf": now - 5,
        "exp": now + int(ttl_seconds),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM, headers={"typ": "sandkasse-project+jwt"})


def verify_project_token(token: str, key: bytes, *, max_ttl_seconds: int | None = None) -> ProjectPrincipal:
    """Check signature (HS256 only: ``alg: none`` and algorithm swaps are refused), expiry, issuer,
    audience and claim shapes; return who and which project."""
    _check_key(key)
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "iss", "aud", "jti"]},
        )
    except jwt.PyJWTError as exc:
        raise ProjectTokenError(f"invalid project token: {exc}") from exc
    username, project = claims.get("sub"), claims.get("project")
    if not isinstance(username, str) or not _USERNAME.match(username):
        raise ProjectTokenError("invalid project token: bad subject")
    if not isinstance(project, str) or not _SLUG.match(project):
        raise ProjectTokenError("invalid project token: bad project")
    if max_ttl_seconds is not None and int(claims["exp"]) - int(claims["iat"]) > max_ttl_seconds:
        raise ProjectTokenError("invalid project token: lifetime longer than the policy allows")
    return ProjectPrincipal(username, project, int(claims["exp"]), str(claims["jti"]))


def looks_like_project_token(token: str) -> bool:
    """Cheap routing hint only (never trusted): does the unverified payload name our issuer?"""
    try:
        return jwt.decode(token, options={"verify_signature": False}).get("iss") == ISSUER
    except jwt.PyJWTError:
        return False
