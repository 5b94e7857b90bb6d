"""Who the Keycloak authenticator lets in (the login itself runs against the real Keycloak in
tests/e2e/hub/test_researcher_flow.py)."""

from __future__ import annotations

import asyncio

import pytest

from hub.authenticator import HUB_OPERATORS_GROUP, KeycloakAuthenticator, hub_operator_role

pytestmark = pytest.mark.unit


def _model(roles: list[str], sub: str = "kc-kari") -> dict:
    return {"name": "kari", "admin": None, "auth_state": {"sandkasse": {"roles": roles, "groups": [], "sub": sub}}}


@pytest.mark.parametrize("roles,allowed", [(["researcher"], True), (["admin"], True), (["applicant"], True), (["output-checker"], False), ([], False)])
def test_only_researchers_and_admins(roles, allowed):
    auth = KeycloakAuthenticator(keycloak_url="http://127.0.0.1:1", realm="sandkasse")

    async def owns_name(username: str, subject: str) -> bool:
        return True

    auth.owns_name = owns_name
    assert asyncio.run(auth.check_allowed("kari", _model(roles))) is allowed


def test_a_deleted_accounts_name_registered_again_is_refused_at_the_hub(tmp_path):
    """A self-registered newcomer under the name of a deleted applicant's account would open the twins
    and workspaces kept under that name: the name stays bound to its first account (provisioning.accounts),
    the same binding the portal and the Keycloak sync keep."""
    from sqlalchemy import select

    from provisioning import db
    from provisioning.models import ProvisioningAuditEvent
    from sandkasse.db import make_engine, make_sessionmaker, session_scope

    url = f"sqlite:///{tmp_path / 'prov.db'}"
    db.migrate(engine=make_engine(url))
    auth = KeycloakAuthenticator(keycloak_url="http://127.0.0.1:1", realm="sandkasse", database_url=url)
    assert asyncio.run(auth.check_allowed("kari", _model(["applicant"], sub="kc-kari")))  # first seen: bound
    assert not asyncio.run(auth.check_allowed("kari", _model(["applicant"], sub="kc-newcomer")))
    assert not asyncio.run(auth.check_allowed("kari", _model(["applicant"], sub="")))  # no account named: nobody
    assert asyncio.run(auth.check_allowed("kari", _model(["applicant"], sub="kc-kari")))
    with session_scope(make_sessionmaker(make_engine(url))) as s:
        actions = s.scalars(select(ProvisioningAuditEvent.action).where(ProvisioningAuditEvent.object_id == "kari")).all()
    assert actions == ["account.bind", "account.name_refused"]


def test_endpoints_follow_the_realm():
    auth = KeycloakAuthenticator(keycloak_url="http://127.0.0.1:8180", realm="r1", keycloak_public_url="https://tre.example/auth")
    assert auth.token_url == "http://127.0.0.1:8180/realms/r1/protocol/openid-connect/token"
    assert auth.authorize_url == "https://tre.example/auth/realms/r1/protocol/openid-connect/auth"
    assert auth.enable_auth_state is True


@pytest.mark.parametrize("spelling", ["Ingrid", "INGRID", " ingrid ", "ingrid"])
def test_user_names_are_one_spelling(spelling):
    """The hub's user is provisioning's member and the egress requester whatever the case typed."""
    auth = KeycloakAuthenticator(keycloak_url="http://127.0.0.1:1", realm="sandkasse")
    assert auth.normalize_username(spelling) == "ingrid"
# ---- issue 15.5: Keycloak admins are hub operators, not hub admins ---------------------------------

FORBIDDEN_TO_OPERATORS = {"access:servers", "admin:auth_state", "tokens", "admin:users", "admin:servers", "shares", "servers", "users"}


def _logged_in(roles: list[str], groups: list[str]) -> dict:
    """What the authenticator makes of a login. The token's signature check is replaced here (it runs
    against the real Keycloak in tests/integration/hub/test_hub_keycloak_login.py)."""
    auth = KeycloakAuthenticator(keycloak_url="http://127.0.0.1:1", realm="sandkasse")
    auth._verified_claims = lambda token: {"realm_access": {"roles": roles}, "groups": groups, "sub": "kc-anne"}
    return asyncio.run(auth.update_auth_model({"name": "anne", "admin": None, "auth_state": {"access_token": "t"}}))


def test_keycloak_admin_joins_the_operator_group_and_is_not_a_hub_admin():
    model = _logged_in(["admin"], ["/project-x"])
    assert model["admin"] is False
    assert model["auth_state"]["sandkasse"]["groups"] == sorted(["project-x", HUB_OPERATORS_GROUP])


def test_operator_group_comes_only_from_the_admin_role_not_from_keycloak_groups():
    model = _logged_in(["researcher"], [f"/{HUB_OPERATORS_GROUP}", "/project-x"])
    assert model["admin"] is False
    assert model["auth_state"]["sandkasse"]["groups"] == ["project-x"]


def test_operator_role_lists_and_stops_but_never_opens_servers_or_reads_tokens():
    from jupyterhub.scopes import expand_scopes

    role = hub_operator_role(["ops"])
    expanded = {s.split("!", 1)[0] for s in expand_scopes(role["scopes"])}
    assert {"list:users", "read:servers", "delete:servers"} <= expanded
    assert not expanded & FORBIDDEN_TO_OPERATORS, expanded & FORBIDDEN_TO_OPERATORS
    assert role["groups"] == [HUB_OPERATORS_GROUP] and role["users"] == ["ops"]
