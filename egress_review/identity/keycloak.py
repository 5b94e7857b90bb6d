"""Keycloak access tokens, validated with python-keycloak against the realm's published keys:
signature (RS256 only), expiry, audience ``sandkasse-egress`` and issuer, and the client the token
was issued to (``azp``) is not one whose tokens are meant for another service (the hub's or the
portal's). Roles come
from ``realm_access.roles``."""

from __future__ import annotations

from sandkasse.web.tokens import KEYS_MAX_AGE_SECONDS, REFETCH_MIN_SECONDS, TokenValidator, realm_roles, username_of
from egress_review.identity.principal import Principal, Role, Via

__all__ = ["KEYS_MAX_AGE_SECONDS", "REFETCH_MIN_SECONDS", "REFUSED_AUTHORIZED_PARTIES", "KeycloakValidator"]

# Tokens issued to these clients are never accepted, whatever audience a realm mapper gives them: the
# hub keeps its users' tokens in auth state, which must not become keys to the egress service; the
# portal's tokens are for applications only.
REFUSED_AUTHORIZED_PARTIES = frozenset({"sandkasse-hub", "sandkasse-portal"})


class KeycloakValidator(TokenValidator):
    """The shared validator (:mod:`sandkasse.web.tokens`) for audience ``sandkasse-egress``."""

    @property
    def refused_parties(self) -> frozenset[str]:  # type: ignore[override]
        return REFUSED_AUTHORIZED_PARTIES  # read at each call: tests switch this layer off alone

    def principal(self, token: str, source: str = "") -> Principal:
        claims = self.validate(token)
        roles = frozenset(Role(r) for r in realm_roles(claims) if r in Role._value2member_map_)
        return Principal(username=username_of(claims), roles=roles, project=None, via=Via.KEYCLOAK, source=source)
