"""The real Keycloak: a user logs in with python-keycloak and reads its realm roles, groups and
audience from a token whose signature is checked against the realm's public key."""

from __future__ import annotations

import json
import secrets

import jwt
import pytest
from keycloak.exceptions import KeycloakAuthenticationError

from sandkasse.stack.keycloak_server import REALM_FILE
from tests.testbed.keycloak_fixtures import KeycloakTestbed


def _verify(keycloak: KeycloakTestbed, access_token: str) -> dict:
    pem = "-----BEGIN PUBLIC KEY-----\n" + keycloak.openid().public_key() + "\n-----END PUBLIC KEY-----"
    return jwt.decode(
        access_token,
        key=pem,
        algorithms=["RS256"],
        audience="sandkasse-egress",
        issuer=f"{keycloak.url}/realms/{keycloak.realm}",
    )


@pytest.mark.integration
def test_researcher_token_carries_role_groups_and_audience(keycloak: KeycloakTestbed) -> None:
    password = secrets.token_urlsafe(12)
    user_id = keycloak.create_user("tb-researcher", password, realm_roles=["researcher"], groups=["tb-project"])
    assert keycloak.create_user("tb-researcher", password, realm_roles=["researcher"]) == user_id  # idempotent

    claims = _verify(keycloak, keycloak.token("tb-researcher", password)["access_token"])

    assert "researcher" in claims["realm_access"]["roles"]
    assert "output-checker" not in claims["realm_access"]["roles"]
    assert "admin" not in claims["realm_access"]["roles"]
    assert claims["groups"] == ["tb-project"]
    assert claims["preferred_username"] == "tb-researcher"


@pytest.mark.integration
def test_checker_gets_checker_role_only(keycloak: KeycloakTestbed) -> None:
    password = secrets.token_urlsafe(12)
    keycloak.create_user("tb-checker", password, realm_roles=["output-checker"])
    roles = _verify(keycloak, keycloak.token("tb-checker", password)["access_token"])["realm_access"]["roles"]
    assert "output-checker" in roles and "researcher" not in roles


@pytest.mark.integration
def test_wrong_password_and_forged_token_are_refused(keycloak: KeycloakTestbed) -> None:
    password = secrets.token_urlsafe(12)
    keycloak.create_user("tb-forger", password, realm_roles=["researcher"])
    with pytest.raises(KeycloakAuthenticationError):
        keycloak.token("tb-forger", password + "x")
    header, payload, signature = keycloak.token("tb-forger", password)["access_token"].split(".")
    claims = json.loads(jwt.utils.base64url_decode(payload))
    claims["realm_access"]["roles"].append("admin")
    forged_payload = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    with pytest.raises(jwt.InvalidSignatureError):
        _verify(keycloak, f"{header}.{forged_payload}.{signature}")


@pytest.mark.integration
def test_confidential_clients_hold_the_generated_secrets(keycloak: KeycloakTestbed) -> None:
    admin = keycloak.admin()
    for client_id in ("sandkasse-hub", "sandkasse-egress"):
        uuid = admin.get_client_id(client_id)
        assert admin.get_client_secrets(uuid)["value"] == keycloak.client_secret(client_id)
        assert len(keycloak.client_secret(client_id)) >= 32
    egress = admin.get_client(admin.get_client_id("sandkasse-egress"))
    assert egress["attributes"]["pkce.code.challenge.method"] == "S256"
    assert egress["standardFlowEnabled"] and not egress["publicClient"]


@pytest.mark.unit
def test_realm_file_has_no_users_or_secrets() -> None:
    realm = json.loads(REALM_FILE.read_text())
    assert realm["realm"] == "sandkasse"
    assert {r["name"] for r in realm["roles"]["realm"]} == {
        "researcher", "output-checker", "admin", "applicant", "dataset-owner", "dpo", "controller"}
    assert "users" not in realm

    def secret_like(node: object) -> list[str]:
        found = []
        if isinstance(node, dict):
            for key, value in node.items():
                if any(w in key.lower() for w in ("secret", "password", "credential")) and not isinstance(value, bool):
                    found.append(key)
                found += secret_like(value)
        elif isinstance(node, list):
            for item in node:
                found += secret_like(item)
        return found

    assert secret_like(realm) == []
