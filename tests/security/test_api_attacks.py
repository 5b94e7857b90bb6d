"""Attacks on the egress service's API with real identities: generated requests against the OpenAPI
schema in every role (schemathesis), insecure direct object references on every object id across
projects and roles, and forged Keycloak tokens. Runs the app in process against the test bed's real
Keycloak (its keys, its tokens)."""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import jwt
import pytest
import schemathesis
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from keycloak import KeycloakOpenID
from schemathesis.checks import (content_type_conformance, not_a_server_error, response_schema_conformance,
                                 status_code_conformance)
from sqlalchemy import func, select

from egress_review.models import EgressAuditEvent, FileVersion, Release, ReleaseRequest, RequestFile, Vote
from egress_review.service import EgressService
from sandkasse.stack.keycloak_server import ADMIN_USER
from egress_review.states import RequestState
from tests.security.helpers import KeycloakUsers, egress_settings_for, project_headers, provision
from tests.testbed.keycloak_fixtures import KeycloakTestbed
from tests.unit.egress.egress_factories import Env, api_routes, probe_routes

pytestmark = pytest.mark.integration

# Keycloak users of this suite (fresh passwords per run) and what they are.
KC_USERS = {
    "sec-chris": ("output-checker",),
    "sec-cora": ("output-checker",),
    "sec-mona": ("output-checker",),  # also a member of project alpha: a conflict of interest
    "sec-ada": ("admin",),
    "sec-olga": ("researcher",),  # a researcher with a Keycloak login, member of no project here
    "sec-nora": (),  # a valid realm account without any role of ours
}
PROJECTS = {"alpha": {"alice": "researcher", "anna": "lead", "sec-mona": "researcher"}, "beta": {"bob": "researcher"}}


@dataclass
class Api:
    client: TestClient
    svc: EgressService
    env: Env
    users: KeycloakUsers
    token_key: str

    @property
    def app(self):
        return self.client.app

    def headers(self, who: str) -> dict[str, str]:
        """``user@project`` is a hub project token; a bare name is that user's real Keycloak token."""
        if "@" in who:
            user, project = who.split("@")
            return project_headers(self.token_key, user, project)
        return self.users.headers(who)


@pytest.fixture(scope="module")
def kc_users(keycloak: KeycloakTestbed) -> KeycloakUsers:
    users = KeycloakUsers(keycloak)
    for name, roles in KC_USERS.items():
        users.add(name, roles)
    return users


@pytest.fixture(scope="module")
def api(keycloak: KeycloakTestbed, kc_users: KeycloakUsers, tmp_path_factory: pytest.TempPathFactory):
    from egress_review.app import create_app

    tmp = tmp_path_factory.mktemp("api-attacks")
    token_key = secrets.token_urlsafe(40)
    settings_ = egress_settings_for(tmp, keycloak, token_key)
    provision(settings_.effective_database_url, PROJECTS)
    app = create_app(settings_)
    svc = app.state.egress
    with TestClient(app) as client:
        yield Api(client, svc, Env(svc, settings_), kc_users, token_key)
    svc.close()


# ---- generated requests (schemathesis) ------------------------------------------------------------

ROLES = ("alice@alpha", "sec-chris", "sec-ada")
MAX_EXAMPLES = 10
CASES = {"generated": 0, "calls": 0, "operations": set()}


def _fuzz_operation(api, operation, failures: list[str]) -> None:
    """Hypothesis drives schemathesis' strategy for one operation; each case is sent in every role."""

    @given(case=operation.as_strategy())
    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    def run(case) -> None:
        CASES["generated"] += 1
        CASES["operations"].add(operation.label)
        for role in ROLES:
            response = case.call(headers=api.headers(role))
            CASES["calls"] += 1
            try:
                case.validate_response(response, checks=[not_a_server_error, status_code_conformance,
                                                         content_type_conformance, response_schema_conformance])
            except Exception as exc:  # schemathesis raises a FailureGroup per failing case
                failures.append(f"{operation.label} as {role}: {str(exc)[:400]}")
                return

    run()


def test_generated_requests_in_every_role_give_no_5xx_and_match_the_schema(api):
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.app)
    failures: list[str] = []
    for result in schema.get_all_operations():
        _fuzz_operation(api, result.ok(), failures)
    print(f"\nschemathesis: {CASES['generated']} generated cases over {len(CASES['operations'])} operations, "
          f"{CASES['calls']} calls in roles {', '.join(ROLES)}; {len(failures)} failures")
    assert not failures, "\n".join(failures[:20])
    assert len(CASES["operations"]) >= 15 and CASES["generated"] >= 100, CASES


# ---- IDOR: every object id, every role ------------------------------------------------------------

COLLECTIONS = {("GET", "/api/v1/requests"), ("GET", "/api/v1/releases"), ("GET", "/api/v1/me"),
               ("GET", "/api/v1/release-key"), ("POST", "/api/v1/requests"), ("GET", "/api/v1/audit"),
               # the caller's own notification preference, nothing of any project
               ("GET", "/api/v1/me/notifications"), ("PUT", "/api/v1/me/notifications"),
               ("GET", "/api/v1/dp/budgets")}
CHECKER_ACTIONS = ("/vote", "/reviews", "/approve", "/return", "/reject")


def _snapshot(svc) -> dict:
    with svc.sessions() as s:
        out = {m.__name__: s.execute(select(func.count()).select_from(m)).scalar_one()
               for m in (ReleaseRequest, RequestFile, FileVersion, Vote, Release)}
        out["states"] = dict(s.execute(select(ReleaseRequest.id, ReleaseRequest.state)).all())
    return out


@pytest.fixture(scope="module")
def alpha_objects(api):
    """Alice's (project alpha) objects in every state that matters, ids as the routes take them."""
    out = {}
    for state in (RequestState.DRAFT, RequestState.SUBMITTED, RequestState.REVIEWED, RequestState.RELEASED):
        req_id = api.env.make_request(state)
        req = api.env.get(req_id)
        with api.svc.sessions() as s:
            rel = s.execute(select(Release.id).where(Release.request_id == req_id)).scalar_one_or_none()
        out[state.value] = {"request_id": req_id, "file_id": req.files[0].id, "release_id": rel or "none", "name": "table.csv"}
    return out


@pytest.mark.parametrize("who", ["bob@beta", "sec-olga", "sec-nora"])
def test_outsiders_reach_no_alpha_object_on_any_route(api, alpha_objects, who):
    """Another project's researcher (project token), a Keycloak researcher of no project, and a realm
    account with none of our roles: every route on every alpha object is 403/404 and leaks nothing."""
    before = _snapshot(api.svc)
    for state, ids in alpha_objects.items():
        for method, path, status, text in probe_routes(api.client, api.headers(who), ids):
            if (method, path) in COLLECTIONS:
                assert ids["request_id"] not in text and (ids["release_id"] == "none" or ids["release_id"] not in text), \
                    f"{who}: {method} {path} leaks alpha's {state} request"
                continue
            assert status in (401, 403, 404), f"{who}: {method} {path} on {state} answered {status}: {text[:200]}"
    after = _snapshot(api.svc)
    assert after["states"] | before["states"] == after["states"] and all(
        after["states"][k] == v for k, v in before["states"].items()), "an alpha request changed state"
    assert {k: after[k] for k in ("RequestFile", "FileVersion", "Vote", "Release")} == \
        {k: before[k] for k in ("RequestFile", "FileVersion", "Vote", "Release")}


def test_member_who_is_not_the_requester_cannot_change_anything(api, alpha_objects):
    """Anna is in project alpha: she may read Alice's request but no mutating route works for her."""
    before = _snapshot(api.svc)
    for state, ids in alpha_objects.items():
        for method, path, status, text in probe_routes(api.client, api.headers("anna@alpha"), ids):
            if method == "GET" or (method, path) in COLLECTIONS:
                continue
            assert status in (403, 404), f"anna: {method} {path} on {state} answered {status}: {text[:200]}"
    after = _snapshot(api.svc)
    assert all(after["states"][k] == v for k, v in before["states"].items())
    assert after["Vote"] == before["Vote"] and after["FileVersion"] == before["FileVersion"]


@pytest.mark.parametrize("who", ["alice@alpha", "sec-olga", "sec-mona"])
def test_no_role_escalation_into_checker_actions(api, alpha_objects, who):
    """A researcher (even the requester, even via Keycloak) and a checker who is a member of the
    project cannot vote, review, approve, return or reject."""
    ids = alpha_objects["submitted"] | {}
    before = _snapshot(api.svc)
    for method, path, status, text in probe_routes(api.client, api.headers(who), ids):
        if path.endswith(CHECKER_ACTIONS):
            assert status in (403, 404), f"{who}: {method} {path} answered {status}: {text[:200]}"
    after = _snapshot(api.svc)
    assert after["Vote"] == before["Vote"]
    assert all(after["states"][k] == v for k, v in before["states"].items())  # POST /requests may add a draft of one's own


def test_released_files_go_only_to_project_members(api, alpha_objects):
    ids = alpha_objects["released"]
    url = f"/api/v1/releases/{ids['release_id']}/files/table.csv"
    assert api.client.get(url, headers=api.headers("anna@alpha")).status_code == 200
    for who in ("sec-chris", "sec-ada", "bob@beta", "sec-olga"):
        assert api.client.get(url, headers=api.headers(who)).status_code in (403, 404), who


def test_only_admins_read_the_audit_log(api):
    assert api.client.get("/api/v1/audit", headers=api.headers("sec-ada")).status_code == 200
    for who in ("sec-chris", "alice@alpha", "sec-olga", "sec-nora"):
        assert api.client.get("/api/v1/audit", headers=api.headers(who)).status_code == 403, who


# ---- forged Keycloak tokens ------------------------------------------------------------------------

def _b64(d: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()


def _claims_of(token: str) -> tuple[dict, dict]:
    return jwt.get_unverified_header(token), jwt.decode(token, options={"verify_signature": False})


@pytest.fixture(scope="module")
def forgeries(api, keycloak: KeycloakTestbed):
    """Tokens an attacker could present, each built from a genuine checker token of this realm."""
    real = api.users.token("sec-chris")
    header, claims = _claims_of(real)
    attacker_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    out = {
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims | {'realm_access': {'roles': ['admin']}})}.",
        "HS256 with the realm's public key as secret": jwt.encode(
            claims, keycloak.openid().public_key().encode(), algorithm="HS256", headers={"kid": header.get("kid")}),
        "wrong key, same kid": jwt.encode(claims, attacker_key, algorithm="RS256", headers={"kid": header.get("kid")}),
        "escalated roles, original signature": ".".join(
            [real.split(".")[0], _b64(claims | {"realm_access": {"roles": ["admin", "output-checker"]}}), real.split(".")[2]]),
    }
    # Genuine tokens that are not for us: another client's audience, and another realm (master).
    other_client = KeycloakOpenID(server_url=keycloak.url, realm_name=keycloak.realm, client_id="admin-cli")
    out["wrong audience (realm's admin-cli client)"] = other_client.token(
        "sec-chris", api.users.passwords["sec-chris"])["access_token"]
    master = KeycloakOpenID(server_url=keycloak.url, realm_name="master", client_id="admin-cli")
    out["another realm (master)"] = master.token(ADMIN_USER, keycloak.server.admin_password)["access_token"]
    # Expired: a real token of a client whose tokens live two seconds (created here, test-only).
    out["expired"] = _short_lived_token(keycloak, api.users)
    return out


def _short_lived_token(keycloak: KeycloakTestbed, users: KeycloakUsers) -> str:
    from tests.testbed.keycloak_fixtures import MAPPERS_FROM

    client_id = "sandkasse-sec-short"
    admin = keycloak.admin()
    if admin.get_client_id(client_id) is None:
        hub = admin.get_client(admin.get_client_id(MAPPERS_FROM))
        mappers = [{k: v for k, v in m.items() if k != "id"} for m in hub.get("protocolMappers", [])]
        admin.create_client({
            "clientId": client_id, "name": "Security suite only: 2-second tokens", "enabled": True, "publicClient": True,
            "standardFlowEnabled": False, "directAccessGrantsEnabled": True, "fullScopeAllowed": True,
            "attributes": {"access.token.lifespan": "2"}, "protocolMappers": mappers,
            "defaultClientScopes": hub.get("defaultClientScopes", []),
        }, skip_exists=True)
    oid = KeycloakOpenID(server_url=keycloak.url, realm_name=keycloak.realm, client_id=client_id)
    token = oid.token("sec-chris", users.passwords["sec-chris"])["access_token"]
    _, claims = _claims_of(token)
    assert claims["exp"] - claims["iat"] <= 5 and "sandkasse-egress" in (claims.get("aud") or []), claims
    time.sleep(max(0.0, claims["exp"] - time.time() + 1.5))
    return token


FORGERIES = ["alg none", "HS256 with the realm's public key as secret", "wrong key, same kid",
             "escalated roles, original signature", "wrong audience (realm's admin-cli client)",
             "another realm (master)", "expired"]


@pytest.mark.parametrize("case", FORGERIES)
def test_forged_or_foreign_keycloak_tokens_are_refused(api, forgeries, case, alpha_objects):
    before = _snapshot(api.svc)
    with api.svc.sessions() as s:
        events = s.execute(select(func.count()).select_from(EgressAuditEvent)).scalar_one()
    h = {"Authorization": f"Bearer {forgeries[case]}"}
    ids = alpha_objects["submitted"]
    for method, url in (("GET", "/api/v1/me"), ("GET", "/api/v1/requests"), ("GET", "/api/v1/audit"),
                        ("POST", f"/api/v1/requests/{ids['request_id']}/reject")):
        r = api.client.request(method, url, headers=h, json={"comment": "x"} if method == "POST" else None)
        assert r.status_code == 401, (case, url, r.status_code, r.text[:200])
        assert r.json()["error"]["code"] == "not_authenticated"
    assert _snapshot(api.svc) == before
    with api.svc.sessions() as s:
        assert s.execute(select(func.count()).select_from(EgressAuditEvent)).scalar_one() == events


def test_the_genuine_token_the_forgeries_came_from_is_accepted(api):
    """The forgeries above are refused for what was changed, not because the base token is bad."""
    r = api.client.get("/api/v1/me", headers=api.headers("sec-chris"))
    assert r.status_code == 200 and r.json()["roles"] == ["output-checker"], r.text
