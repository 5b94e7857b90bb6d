"""Keycloak tokens, validated with python-keycloak against the realm's published keys: signature
(RS256 only), expiry, audience and issuer, and the client the token was issued to (``azp``) is not one
whose tokens are meant for another service. Each service validates for its own audience."""

from __future__ import annotations

import threading
import time

from jwcrypto import jwk
from jwcrypto.common import JWException, JWKeyNotFound
from keycloak import KeycloakOpenID
from keycloak.exceptions import KeycloakError

from sandkasse.usernames import normalise_username

_ALGORITHMS = ["RS256"]
# A token whose kid is unknown makes the validator ask Keycloak again (the realm may have rotated its
# keys), at most once per this many seconds, so forged kids cannot turn the service into a flood.
REFETCH_MIN_SECONDS = 30.0
# The realm's keys are re-read when older than this: a key the realm retired stops verifying tokens
# within this time, instead of living in the cache until the service restarts.
KEYS_MAX_AGE_SECONDS = 300.0


class AuthError(Exception):
    """The credential is missing, malformed, forged, expired or for someone else."""


class TokenValidator:
    # Tokens issued to these clients are refused whatever audience a realm mapper gives them.
    refused_parties: frozenset[str] = frozenset()

    def __init__(self, server_url: str, realm: str, audience: str, issuer: str, *,
                 max_key_age: float = KEYS_MAX_AGE_SECONDS, refetch_interval: float = REFETCH_MIN_SECONDS) -> None:
        self._openid = KeycloakOpenID(server_url=server_url.rstrip("/") + "/", realm_name=realm, client_id=audience)
        self.audience = audience
        self.issuer = issuer
        self.max_key_age = max_key_age
        self.refetch_interval = refetch_interval
        self._keys: jwk.JWKSet | None = None
        self._fetched_at = 0.0
        self._attempted_at = -float("inf")
        self._lock = threading.Lock()

    def _keyset(self, refresh: bool = False) -> jwk.JWKSet:
        with self._lock:
            now = time.monotonic()
            expired = self._keys is None or now - self._fetched_at > self.max_key_age
            may_refetch = now - self._attempted_at > self.refetch_interval
            if expired or (refresh and may_refetch):
                self._attempted_at = now
                try:
                    certs = self._openid.certs()
                except (KeycloakError, OSError) as exc:
                    # Expired keys are not used any longer: fail closed until Keycloak answers.
                    if expired:
                        self._keys = None
                    raise AuthError(f"cannot fetch the realm's keys from Keycloak: {exc}") from exc
                keys = jwk.JWKSet()
                for cert in certs.get("keys", []):
                    if cert.get("use", "sig") == "sig":
                        keys.add(jwk.JWK(**cert))
                self._keys, self._fetched_at = keys, now
            assert self._keys is not None
            return self._keys

    def prefetch(self) -> None:
        """Fetch the realm's keys now (at start-up) rather than on the first request; a Keycloak that
        is not up yet is asked again on that request."""
        try:
            self._keyset()
        except AuthError:
            pass

    def _decode(self, token: str, keys: jwk.JWKSet) -> dict:
        claims = self._openid.decode_token(
            token,
            key=keys,
            algs=_ALGORITHMS,
            leeway=0,
            expected_type="JWS",
            check_claims={"exp": None, "iss": self.issuer, "aud": self.audience},
        )
        if claims.get("azp") in self.refused_parties:
            raise AuthError(f"invalid token: issued to {claims['azp']}, not to a client of this service")
        return claims

    def validate(self, token: str) -> dict:
        try:
            return self._decode(token, self._keyset())
        except JWKeyNotFound:
            pass  # the realm may have rotated its keys: fetch once more (rate-limited), then give up
        except (JWException, ValueError, TypeError, KeyError) as exc:
            raise AuthError(f"invalid token: {exc}") from exc
        try:
            return self._decode(token, self._keyset(refresh=True))
        except (JWException, ValueError, TypeError, KeyError) as exc:
            raise AuthError(f"invalid token: {exc}") from exc


def username_of(claims: dict) -> str:
    username = claims.get("preferred_username") or claims.get("sub")
    if not isinstance(username, str) or not username:
        raise AuthError("invalid token: no username")
    return normalise_username(username)


def realm_roles(claims: dict) -> list[str]:
    roles = (claims.get("realm_access") or {}).get("roles") or []
    return [r for r in roles if isinstance(r, str)]
