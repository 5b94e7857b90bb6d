"""Project tokens: the credential the hub gives one notebook server so that what it submits is
attributed to (user, project), never to a project name the client chooses.

A project token is a JWT (HS256 under ``SANDKASSE_PROJECT_TOKEN_KEY``, shared by hub and egress
service) with ``sub`` = username, ``project`` = project slug, a short expiry, and a fixed issuer and
audience so it cannot be confused with a Keycloak token. The egress service additionally re-checks
``provisioning.api.can_access_project`` on every request, so a token of a suspended project, or of a
removed member, stops working before it expires.

The token is printed as easily as any other value in the notebook, so it is bound to where it may be
used: the ``net`` claim is the project network's subnet, and the egress service accepts the token only
from a peer inside it (:func:`peer_in_network`). Copied to a laptop it opens nothing.
"""

from __future__ import annotations

import ipaddress
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
    # The project network (CIDR) the token may be used from; None for tokens minted without one.
    network: str | None = None


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


def issue_project_token(username: str, project: str, key: bytes, ttl_seconds: int, *, network: str | None = None) -> str:
    """A token for ``username`` working in ``project``, valid for ``ttl_seconds`` and, with
    ``network`` (the project network's subnet), only from inside that network."""
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
    if network is not None:
        claims["net"] = str(ipaddress.ip_network(network, strict=False))
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
    network = claims.get("net")
    if network is not None:
        try:
            network = str(ipaddress.ip_network(network))
        except (TypeError, ValueError) as exc:
            raise ProjectTokenError("invalid project token: bad network") from exc
    return ProjectPrincipal(username, project, int(claims["exp"]), str(claims["jti"]), network)


def peer_in_network(peer: str, network: str) -> bool:
    """Is the TCP peer (the address that opened the connection, never a forwarded header) inside the
    token's network? A host name or anything unparsable is not."""
    try:
        return ipaddress.ip_address(peer) in ipaddress.ip_network(network)
    except ValueError:
        return False


def looks_like_project_token(token: str) -> bool:
    """Cheap routing hint only (never trusted): does the unverified payload name our issuer?"""
    try:
        return jwt.decode(token, options={"verify_signature": False}).get("iss") == ISSUER
    except jwt.PyJWTError:
        return False
