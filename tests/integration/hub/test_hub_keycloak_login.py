"""The hub's login against the real Keycloak (authorization code flow through Keycloak's login page):
researchers get in, admins get in as hub operators (never hub admins), users without either role are
refused with 403. No notebook is started here (tests/e2e/hub/test_researcher_flow.py does that)."""

from __future__ import annotations

import secrets

import httpx
import jwt
import pytest

from hub.run import start_hub
from hub.scripted_login import LoginFailed, browser_client, hub_login
from provisioning.db import migrate
from sandkasse.stack.process import free_port

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery staple 7"
RUN = secrets.token_hex(3)


@pytest.fixture(scope="module")
def hub(keycloak, tmp_path_factory):
    state = tmp_path_factory.mktemp("kc-hub")
    migrate(f"sqlite:///{state / 'sandkasse.db'}")
    port = free_port()
    proc = start_hub(
        {
            "SANDKASSE_DATABASE_URL": f"sqlite:///{state / 'sandkasse.db'}",
            "SANDKASSE_KEYCLOAK_URL": keycloak.url,
            "SANDKASSE_KEYCLOAK_REALM": keycloak.realm,
            "SANDKASSE_HUB_CLIENT_SECRET": keycloak.client_secret("sandkasse-hub"),
            "SANDKASSE_HUB_STATE_DIR": str(state),
            "SANDKASSE_HUB_PORT": str(port),
            "SANDKASSE_HUB_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "SANDKASSE_HUB_API_PORT": str(free_port()),
            "SANDKASSE_HUB_PROXY_API_PORT": str(free_port()),
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


def test_admin_is_a_hub_operator_not_a_hub_admin(hub, keycloak):
    """Issue 15.5: a Keycloak admin lists users and stops servers, but cannot open a researcher's
    notebook, read their Keycloak tokens (auth state) or mint tokens for them."""
    researcher, admin = f"rhea{RUN}", f"adam{RUN}"
    keycloak.create_user(researcher, PASSWORD, realm_roles=["researcher"])
    keycloak.create_user(admin, PASSWORD, realm_roles=["admin"])
    _login(hub, researcher)
    _login(hub, admin)
    with hub.api() as api:
        assert api.get(f"/users/{admin}").json()["admin"] is False
        # A token carrying everything the admin's roles give (what any page or API call of theirs gets).
        minted = api.post(f"/users/{admin}/tokens", json={"note": "issue 15.5"})
        assert minted.status_code == 201, minted.text
        token = minted.json()["token"]
    with httpx.Client(base_url=hub.api_url, headers={"Authorization": f"token {token}"}, timeout=30, trust_env=False) as as_admin:
        raw = set(as_admin.get("/user").json()["scopes"])
        assert {"list:users", "read:servers", "delete:servers"} <= raw, raw
        # Every user has these on their own things (``!user=<self>``); an admin has them on nobody else's.
        beyond_self = {s for s in raw if s.split("!", 1)[0] in {"access:servers", "admin:auth_state", "tokens", "admin:users",
                                                                   "admin:servers", "servers", "users"} and not s.endswith(f"!user={admin}")}
        assert not beyond_self, beyond_self
        listed = as_admin.get("/users")
        assert listed.status_code == 200 and researcher in {u["name"] for u in listed.json()}
        assert "auth_state" not in as_admin.get(f"/users/{researcher}").json()
        assert as_admin.get(f"/users/{researcher}?include_stopped_servers").status_code == 200
        assert as_admin.post(f"/users/{researcher}/tokens", json={}).status_code == 403
        assert as_admin.post(f"/users/{researcher}/servers/any", json={}).status_code in (403, 404)
    with hub.api() as api:
        assert api.get(f"/users/{researcher}").json()["servers"] == {}, "the admin started a researcher's server"


def _egress_validator(keycloak):
    """The egress service's validator as the service builds it (egress_review/service.py)."""
    from egress_review.identity.keycloak import KeycloakValidator

    return KeycloakValidator(keycloak.url, keycloak.realm, "sandkasse-egress", f"{keycloak.url}/realms/{keycloak.realm}")


def test_tokens_issued_to_the_hub_client_are_refused_by_the_egress_service(hub, keycloak, monkeypatch):
    """Issue 15.5: the real access token Keycloak gave the hub at login (kept in the user's auth state)
    opens nothing at the egress service; a token of the egress's own kind for the same user does."""
    from egress_review.identity import keycloak as kc
    from egress_review.identity.principal import AuthError

    name = f"ruth{RUN}"
    keycloak.create_user(name, PASSWORD, realm_roles=["researcher", "admin"])
    _login(hub, name)
    with hub.api() as api:  # the test's own service token may read auth state; operators may not
        hub_token = api.get(f"/users/{name}").json()["auth_state"]["access_token"]
    claims = jwt.decode(hub_token, options={"verify_signature": False})
    assert claims["azp"] == "sandkasse-hub"
    aud = claims.get("aud") or []
    assert "sandkasse-egress" not in (aud if isinstance(aud, list) else [aud]), claims.get("aud")

    validator = _egress_validator(keycloak)
    with pytest.raises(AuthError):
        validator.principal(hub_token)
    assert validator.principal(keycloak.token(name, PASSWORD)["access_token"]).username == name
    # Each layer holds alone: with the client refusal off, the audience still refuses it.
    monkeypatch.setattr(kc, "REFUSED_AUTHORIZED_PARTIES", frozenset())
    with pytest.raises(AuthError, match="aud|udience"):
        validator.principal(hub_token)


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
