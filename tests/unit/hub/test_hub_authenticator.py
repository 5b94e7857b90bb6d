"""Who the Keycloak authenticator lets in (the login itself runs against the real Keycloak in
tests/e2e/hub/test_researcher_flow.py)."""

from __future__ import annotations

import asyncio

import pytest

from hub.authenticator import KeycloakAuthenticator

pytestmark = pytest.mark.unit


def _model(roles: list[str]) -> dict:
    return {"name": "kari", "admin": None, "auth_state": {"sandkasse": {"roles": roles, "groups": []}}}


@pytest.mark.parametrize("roles,allowed", [(["researcher"], True), (["admin"], True), (["output-checker"], False), ([], False)])
def test_only_researchers_and_admins(roles, allowed):
    auth = KeycloakAuthenticator(keycloak_url="http://127.0.0.1:1", realm="sandkasse")
    assert asyncio.run(auth.check_allowed("kari", _model(roles))) is allowed


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
