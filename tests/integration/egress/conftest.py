"""Integration fixtures: the egress service on the test bed's real Keycloak and on SQLite and the
real PostgreSQL (``database_url``), with Keycloak users for every role."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.testbed.keycloak_fixtures import KeycloakTestbed
from tests.unit.egress.egress_factories import Env, app_client, egress_settings, provision
from egress_review.service import build_service

# Prefixed names: the Keycloak instance is shared with other components' tests.
P = "egr-"
USERS = {
    f"{P}alice": ["researcher"],
    f"{P}anna": ["researcher"],
    f"{P}bob": ["researcher"],
    f"{P}chris": ["output-checker"],
    f"{P}cora": ["output-checker"],
    f"{P}carl": ["output-checker", "researcher"],  # checker who is also a member of beta
    f"{P}root": ["admin"],
    f"{P}nobody": [],
}
PROJECTS = {
    f"{P}alpha": {f"{P}alice": "researcher", f"{P}anna": "lead"},
    f"{P}beta": {f"{P}bob": "researcher", f"{P}carl": "researcher"},
}


@dataclass
class Realm:
    keycloak: KeycloakTestbed
    passwords: dict[str, str]

    def token(self, username: str) -> str:
        return self.keycloak.token(username, self.passwords[username])["access_token"]

    def headers(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(username)}"}


@pytest.fixture(scope="session")
def realm(keycloak: KeycloakTestbed) -> Realm:
    passwords = {}
    for user, roles in USERS.items():
        passwords[user] = secrets.token_urlsafe(16)
        keycloak.create_user(user, passwords[user], realm_roles=roles)
    return Realm(keycloak, passwords)


@pytest.fixture
def kc_env(tmp_path: Path, database_url: str, realm: Realm) -> Env:
    settings = egress_settings(tmp_path, database_url)
    settings.keycloak_url = realm.keycloak.url
    settings.keycloak_realm = realm.keycloak.realm
    provision(database_url, PROJECTS)
    env = Env(build_service(settings), settings)
    yield env
    env.svc.close()


@pytest.fixture
def kc_client(kc_env: Env) -> TestClient:
    with app_client(kc_env.settings) as c:
        yield c
