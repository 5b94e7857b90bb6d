"""Keycloak fixture: the test instance on a fixed loopback port (started for the run and stopped after
it, or reused and left running when it was already up), the ``sandkasse`` realm from the repository,
and helpers to make users and get real tokens."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import pytest
from keycloak import KeycloakAdmin, KeycloakOpenID

from sandkasse.stack.keycloak_server import KeycloakServer, keycloak_server
from tests.testbed.timing import timed

TEST_PORT = int(os.environ.get("SANDKASSE_TEST_KEYCLOAK_PORT", "8181"))
TEST_CLIENT = "sandkasse-test"
MAPPERS_FROM = "sandkasse-egress"  # tokens the egress service accepts (issue 15.5: the hub client's are not)


@dataclass
class KeycloakTestbed:
    server: KeycloakServer

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def realm(self) -> str:
        return self.server.realm

    def admin(self) -> KeycloakAdmin:
        return self.server.admin()

    def client_secret(self, client_id: str) -> str:
        return self.server.client_secret(client_id)

    def openid(self, client_id: str = TEST_CLIENT, client_secret: str | None = None) -> KeycloakOpenID:
        return KeycloakOpenID(
            server_url=self.url, realm_name=self.realm, client_id=client_id, client_secret_key=client_secret
        )

    def create_user(
        self, username: str, password: str, realm_roles: Iterable[str] = (), groups: Iterable[str] = ()
    ) -> str:
        """Create the user or bring an existing one to exactly this password, and at least these roles
        and groups; returns the user id."""
        admin = self.admin()
        user_id = admin.get_user_id(username)
        if user_id is None:
            user_id = admin.create_user(
                {
                    "username": username,
                    "enabled": True,
                    # the default user profile requires these; without them login asks to complete it
                    "firstName": username,
                    "lastName": "Test",
                    "email": f"{username}@sandkasse.invalid",
                    "emailVerified": True,
                },
                exist_ok=True,
            )
        admin.set_user_password(user_id, password, temporary=False)
        have = {r["name"] for r in admin.get_realm_roles_of_user(user_id)}
        missing = [admin.get_realm_role(r) for r in realm_roles if r not in have]
        if missing:
            admin.assign_realm_roles(user_id, missing)
        for group in groups:
            group_id = _ensure_group(admin, group)
            admin.group_user_add(user_id, group_id)
        return user_id

    def token(self, username: str, password: str) -> dict:
        """A real token response (``access_token``, ``id_token``, ...) from the test-only public client."""
        return self.openid().token(username, password, scope="openid")

    def stop(self) -> None:
        self.server.stop()


def _ensure_group(admin: KeycloakAdmin, name: str) -> str:
    for group in admin.get_groups({"search": name, "exact": "true"}):
        if group["name"] == name:
            return group["id"]
    return admin.create_group({"name": name}, skip_exists=True) or _ensure_group(admin, name)


def ensure_test_client(server: KeycloakServer) -> None:
    """Add the test-only public client (direct access grants) with the same token mappers as the egress
    client, so tests get the claims the real clients get without a browser. Never in the realm file."""
    admin = server.admin()
    if admin.get_client_id(TEST_CLIENT) is not None:
        return
    hub = admin.get_client(admin.get_client_id(MAPPERS_FROM))
    mappers = [{k: v for k, v in m.items() if k != "id"} for m in hub.get("protocolMappers", [])]
    admin.create_client(
        {
            "clientId": TEST_CLIENT,
            "name": "Test bed only (direct grants)",
            "enabled": True,
            "publicClient": True,
            "standardFlowEnabled": False,
            "directAccessGrantsEnabled": True,
            "fullScopeAllowed": True,
            "defaultClientScopes": hub.get("defaultClientScopes", []),
            "optionalClientScopes": [],
            "protocolMappers": mappers,
        },
        skip_exists=True,
    )


@contextmanager
def keycloak_for_run(server: KeycloakServer) -> Iterator[KeycloakServer]:
    """Start (or reuse) ``server`` for one test run. One this run started is stopped when the run ends
    (a Keycloak left behind holds the port with admin credentials another checkout does not know);
    one that was already running, or any with ``SANDKASSE_TEST_KEEP_KEYCLOAK=1`` (faster repeated
    runs), is left running on purpose."""
    server.ensure()
    started_here = server.process is not None
    try:
        ensure_test_client(server)
        yield server
    finally:
        if started_here and os.environ.get("SANDKASSE_TEST_KEEP_KEYCLOAK", "") in {"", "0"}:
            server.stop()


@pytest.fixture(scope="session")
def keycloak() -> Iterator[KeycloakTestbed]:
    with ExitStack() as stack:
        with timed("keycloak"):
            server = stack.enter_context(keycloak_for_run(keycloak_server("test", TEST_PORT)))
        yield KeycloakTestbed(server)
