"""Keycloak key rotation against the real Keycloak of the test bed, in a throw-away realm (the shared
realm's keys stay untouched): a token signed with a new key is accepted after one re-fetch; a key
the realm retired stops verifying tokens once the cached keys are older than their maximum age;
forged kids re-fetch at most once per interval."""

from __future__ import annotations

import secrets
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from keycloak import KeycloakOpenID

from egress_review.identity.keycloak import KeycloakValidator
from egress_review.identity.principal import AuthError

pytestmark = pytest.mark.integration

CLIENT = "rotation-test"
KEY_PROVIDER = "org.keycloak.keys.KeyProvider"


@pytest.fixture
def rotation_realm(keycloak):
    """A realm of its own with one user and a public client whose tokens carry ``aud: rotation-test``."""
    name = f"rot-{secrets.token_hex(3)}"
    password = secrets.token_urlsafe(12)
    master = keycloak.server.admin(realm="master")
    master.create_realm({
        "realm": name, "enabled": True,
        "clients": [{
            "clientId": CLIENT, "enabled": True, "publicClient": True, "directAccessGrantsEnabled": True,
            "standardFlowEnabled": False,
            "protocolMappers": [{"name": "aud", "protocol": "openid-connect", "protocolMapper": "oidc-audience-mapper",
                                 "config": {"included.client.audience": CLIENT, "access.token.claim": "true",
                                            "id.token.claim": "false"}}],
        }],
        "users": [{"username": "rita", "enabled": True, "firstName": "Rita", "lastName": "Test",
                   "email": "rita@sandkasse.invalid", "emailVerified": True,
                   "credentials": [{"type": "password", "value": password, "temporary": False}]}],
    })
    try:
        yield name, password
    finally:
        master.delete_realm(name)


def _token(keycloak, realm: str, password: str) -> str:
    oid = KeycloakOpenID(server_url=keycloak.url, realm_name=realm, client_id=CLIENT)
    return oid.token("rita", password)["access_token"]


def _kid(token: str) -> str:
    return jwt.get_unverified_header(token)["kid"]


def test_rotated_keys_are_fetched_and_retired_keys_stop_working(keycloak, rotation_realm):
    realm, password = rotation_realm
    admin = keycloak.server.admin(realm=realm)
    issuer = f"{keycloak.url}/realms/{realm}"
    validator = KeycloakValidator(keycloak.url, realm, CLIENT, issuer, max_key_age=2.0, refetch_interval=0.0)

    old = _token(keycloak, realm, password)
    assert validator.validate(old)["preferred_username"] == "rita"

    realm_id = admin.get_realm(realm)["id"]
    before = {c["id"] for c in admin.get_components({"parent": realm_id, "type": KEY_PROVIDER})}
    admin.create_component({
        "name": "rotated-rsa", "providerId": "rsa-generated", "providerType": KEY_PROVIDER, "parentId": realm_id,
        "config": {"priority": ["1000"], "enabled": ["true"], "active": ["true"], "algorithm": ["RS256"],
                   "keySize": ["2048"]},
    })
    new = _token(keycloak, realm, password)
    assert _kid(new) != _kid(old), "the realm signs with the new key"
    assert validator.validate(new)["preferred_username"] == "rita", "unknown kid: fetched again and accepted"
    assert validator.validate(old), "the old key is still published: still valid"

    # Control removed: a validator that never re-reads its cached keys (as before this change).
    frozen = KeycloakValidator(keycloak.url, realm, CLIENT, issuer, max_key_age=float("inf"))
    assert frozen.validate(old) and frozen.validate(new)

    for cid in before:  # retire every key the realm had before the rotation
        if admin.get_component(cid)["providerId"] == "rsa-generated":
            admin.delete_component(cid)
    assert validator.validate(new)
    time.sleep(2.2)
    with pytest.raises(AuthError):
        validator.validate(old)
    assert validator.validate(new)["preferred_username"] == "rita"
    assert frozen.validate(old), "without the maximum key age the retired key keeps working"


def test_forged_kids_refetch_at_most_once_per_interval(keycloak, rotation_realm):
    realm, password = rotation_realm
    issuer = f"{keycloak.url}/realms/{realm}"
    validator = KeycloakValidator(keycloak.url, realm, CLIENT, issuer, refetch_interval=30.0)
    assert validator.validate(_token(keycloak, realm, password))
    fetches = []
    certs = validator._openid.certs
    validator._openid.certs = lambda: fetches.append(1) or certs()
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = {"iss": issuer, "aud": CLIENT, "exp": int(time.time()) + 60, "preferred_username": "rita"}
    for i in range(20):
        forged = jwt.encode(claims, other, algorithm="RS256", headers={"kid": f"forged-{i}"})
        with pytest.raises(AuthError):
            validator.validate(forged)
    assert len(fetches) <= 1, fetches
