"""Keycloak tokens as the egress service sees them: real tokens accepted with their roles; tokens
that are forged, unsigned, expired, for another audience or from another realm refused with 401;
and a researcher logged in through Keycloak is held to their own projects on every route."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from keycloak import KeycloakOpenID

from tests.integration.egress.conftest import P
from tests.unit.egress.egress_factories import probe_routes
from tests.integration.egress.test_egress_integration_flow import _researcher_submits

pytestmark = pytest.mark.integration


def _b64(d: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()


def _parts(token: str) -> tuple[dict, dict]:
    h, p, _ = token.split(".")
    return json.loads(jwt.utils.base64url_decode(h)), json.loads(jwt.utils.base64url_decode(p))


def _me(client, token):
    return client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})


def test_real_tokens_give_username_and_roles(kc_client, realm):
    for user, roles in ((f"{P}chris", ["output-checker"]), (f"{P}alice", ["researcher"]), (f"{P}root", ["admin"])):
        r = _me(kc_client, realm.token(user))
        assert r.status_code == 200, r.text
        assert r.json() == {"username": user, "roles": roles, "project": None, "via": "keycloak"}


def test_account_without_a_sandkasse_role_is_refused(kc_client, realm):
    assert _me(kc_client, realm.token(f"{P}nobody")).status_code == 403


def test_forged_tokens_are_refused(kc_client, realm):
    real = realm.token(f"{P}alice")
    header, claims = _parts(real)
    claims["realm_access"]["roles"] = ["admin", "output-checker"]
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem_public = "-----BEGIN PUBLIC KEY-----\n" + realm.keycloak.openid().public_key() + "\n-----END PUBLIC KEY-----"
    forgeries = {
        "payload edited, signature kept": ".".join([real.split(".")[0], _b64(claims), real.split(".")[2]]),
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.",
        "signed with another key, same kid": jwt.encode(claims, other_key, algorithm="RS256", headers={"kid": header["kid"]}),
        "HS256 with the public key as secret": _hs256_with(pem_public.encode(), header["kid"], claims),
        "unknown kid": jwt.encode(claims, other_key, algorithm="RS256", headers={"kid": "not-a-realm-key"}),
    }
    for name, token in forgeries.items():
        r = _me(kc_client, token)
        assert r.status_code == 401, f"{name}: {r.status_code} {r.text}"
        assert r.json()["error"]["code"] == "not_authenticated"


def _hs256_with(secret: bytes, kid: str, claims: dict) -> str:
    # pyjwt refuses PEM keys as HMAC secrets, so sign by hand: the classic algorithm-confusion attack
    import hashlib
    import hmac

    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}.{_b64(claims)}"
    sig = base64.urlsafe_b64encode(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()).rstrip(b"=")
    return f"{signing_input}.{sig.decode()}"


def _client_with(realm, client_id: str, *, audience_mapper: bool, lifespan: int | None = None) -> KeycloakOpenID:
    """A real Keycloak client (created once) whose tokens lack our audience or expire fast."""
    admin = realm.keycloak.admin()
    if admin.get_client_id(client_id) is None:
        test_client = admin.get_client(admin.get_client_id("sandkasse-test"))
        mappers = [{k: v for k, v in m.items() if k != "id"} for m in test_client.get("protocolMappers", [])]
        if not audience_mapper:
            mappers = [m for m in mappers if m.get("protocolMapper") != "oidc-audience-mapper"]
        admin.create_client({
            "clientId": client_id, "enabled": True, "publicClient": True, "standardFlowEnabled": False,
            "directAccessGrantsEnabled": True, "fullScopeAllowed": True, "protocolMappers": mappers,
            "defaultClientScopes": test_client.get("defaultClientScopes", []),
            "attributes": {"access.token.lifespan": str(lifespan)} if lifespan else {},
        }, skip_exists=True)
    return KeycloakOpenID(server_url=realm.keycloak.url, realm_name=realm.keycloak.realm, client_id=client_id)


def test_token_for_another_audience_is_refused(kc_client, realm):
    oid = _client_with(realm, "egr-test-noaud", audience_mapper=False)
    token = oid.token(f"{P}chris", realm.passwords[f"{P}chris"])["access_token"]
    aud = _parts(token)[1].get("aud")
    assert "sandkasse-egress" not in (aud if isinstance(aud, list) else [aud])
    r = _me(kc_client, token)
    assert r.status_code == 401 and "aud" in r.json()["error"]["message"].lower()


def test_expired_token_is_refused(kc_client, realm):
    oid = _client_with(realm, "egr-test-short", audience_mapper=True, lifespan=2)
    token = oid.token(f"{P}chris", realm.passwords[f"{P}chris"])["access_token"]
    assert _me(kc_client, token).status_code == 200
    claims = _parts(token)[1]
    time.sleep(max(0, claims["exp"] - time.time()) + 1.5)
    r = _me(kc_client, token)
    assert r.status_code == 401 and "expire" in r.json()["error"]["message"].lower()


def test_token_from_another_realm_is_refused(kc_client, realm):
    admin = realm.keycloak.admin()
    admin.get_realm("master")  # the admin connection logs in lazily, to the master realm
    token = admin.connection.token["access_token"]  # a real, Keycloak-signed token of the master realm
    assert _parts(token)[1]["iss"].endswith("/realms/master")
    assert _me(kc_client, token).status_code == 401


def test_keycloak_researcher_is_held_to_their_projects_on_every_route(kc_env, kc_client, realm):
    rid = _researcher_submits(kc_client)
    req = kc_env.get(rid)
    ids = {"request_id": rid, "file_id": req.files[0].id, "release_id": "none", "name": "table.csv"}
    bob = realm.headers(f"{P}bob")
    for method, path, status, text in probe_routes(kc_client, bob, ids):
        if path in ("/api/v1/requests", "/api/v1/releases", "/api/v1/me", "/api/v1/release-key",
                    "/api/v1/me/notifications"):
            assert rid not in text
            continue
        assert status in (403, 404), f"{method} {path} answered {status} to bob: {text[:200]}"
    # and the owner sees it from outside the sandbox, but cannot upload from there
    alice = realm.headers(f"{P}alice")
    assert kc_client.get(f"/api/v1/requests/{rid}", headers=alice).status_code == 200
    assert kc_client.post("/api/v1/requests", json={}, headers=alice).status_code == 403
