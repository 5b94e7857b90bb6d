"""Issue 20: the portal accepts only tokens issued for it. A real Keycloak token made for the egress
service (the test client carries the egress audience) opens nothing at the portal, and each service
refuses tokens issued to the other clients whatever audience a realm mapper might add."""

from __future__ import annotations

import secrets

import pytest

from egress_review.identity import keycloak as egress_keycloak
from provisioning.portal.web import PortalValidator
from sandkasse.web.tokens import AuthError

pytestmark = pytest.mark.integration


def test_an_egress_token_opens_nothing_at_the_portal(keycloak):
    name, password = f"pt-tok{secrets.token_hex(3)}", secrets.token_urlsafe(16)
    keycloak.create_user(name, password, realm_roles=["applicant", "dpo"])
    token = keycloak.token(name, password)["access_token"]
    issuer = f"{keycloak.url}/realms/{keycloak.realm}"
    portal = PortalValidator(keycloak.url, keycloak.realm, "sandkasse-portal", issuer)
    with pytest.raises(AuthError, match="aud|udience"):
        portal.validate(token)
    # the same token is good for its own audience: the refusal above is the audience check
    assert egress_keycloak.KeycloakValidator(keycloak.url, keycloak.realm, "sandkasse-egress", issuer).principal(token).username == name
    assert {"sandkasse-hub", "sandkasse-egress"} <= PortalValidator.refused_parties
    assert "sandkasse-portal" in egress_keycloak.REFUSED_AUTHORIZED_PARTIES
