"""The hub's login against the real Keycloak (authorization code flow through Keycloak's login page):
researchers get in, admins get in as hub admins with their groups, users without either role are
refused with 403. No notebook is started here (tests/e2e/hub/test_researcher_flow.py does that)."""

from __future__ import annotations

import secrets
import socket

import httpx
import pytest

from hub.run import start_hub
from hub.scripted_login import LoginFailed, browser_client, hub_login
from provisioning.db import migrate

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery staple 7"
RUN = secrets.token_hex(3)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def hub(keycloak, tmp_path_factory):
    state = tmp_path_factory.mktemp("kc-hub")
    migrate(f"sqlite:///{state / 'sandkasse.db'}")
    port = _free_port()
    proc = start_hub(
        {
            "SANDKASSE_DATABASE_URL": f"sqlite:///{state / 'sandkasse.db'}",
            "SANDKASSE_KEYCLOAK_URL": keycloak.url,
            "SANDKASSE_KEYCLOAK_REALM": keycloak.realm,
            "SANDKASSE_HUB_CLIENT_SECRET": keycloak.client_secret("sandkasse-hub"),
            "SANDKASSE_HUB_STATE_DIR": str(state),
            "SANDKASSE_HUB_PORT": str(port),
            "SANDKASSE_HUB_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "SANDKASSE_HUB_API_PORT": str(_free_port()),
            "SANDKASSE_HUB_PROXY_API_PORT": str(_free_port()),
            "SANDKASSE_HUB_LIFECYCLE": "false",  # no notebooks here; the e2e tests cover enforcement
        }
    )
    yield proc
    proc.stop()


def _login(hub, username: str) -> httpx.Response:
    with browser_client(timeout=60) as browser:
        return hub_login(browser, hub.url, username, PASSWORD)


def test_researcher_logs_in(hub, keycloak):
    name = f"rita{RUN}"
    keycloak.create_user(name, PASSWORD, realm_roles=["researcher"], groups=[f"team-{RUN}"])
    landed = _login(hub, name)
    assert landed.status_code == 200
    with hub.api() as api:
        user = api.get(f"/users/{name}").json()
    assert user["admin"] is False
    assert f"team-{RUN}" in user["groups"]


def test_admin_becomes_hub_admin(hub, keycloak):
    name = f"adam{RUN}"
    keycloak.create_user(name, PASSWORD, realm_roles=["admin"])
    _login(hub, name)
    with hub.api() as api:
        assert api.get(f"/users/{name}").json()["admin"] is True


@pytest.mark.parametrize("roles", [[], ["output-checker"]])
def test_users_without_researcher_or_admin_role_are_refused(hub, keycloak, roles):
    name = f"nora{'-'.join(roles).replace('-', '')}{RUN}"
    keycloak.create_user(name, PASSWORD, realm_roles=roles)
    with pytest.raises(LoginFailed) as refused:
        _login(hub, name)
    assert refused.value.response.status_code == 403
    with hub.api() as api:
        assert api.get(f"/users/{name}").status_code == 404


def test_wrong_password_does_not_log_in(hub, keycloak):
    name = f"rolf{RUN}"
    keycloak.create_user(name, PASSWORD, realm_roles=["researcher"])
    with browser_client(timeout=60) as browser, pytest.raises(LoginFailed):
        hub_login(browser, hub.url, name, PASSWORD + "x")
