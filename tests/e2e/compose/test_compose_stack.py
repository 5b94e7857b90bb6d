"""The production deployment works end to end (issue 9): the stack from ``docker-compose.yml``, with
Debian's ``docker-compose`` on the real Docker engine, serves a researcher's whole export path through
the TLS proxy, and a ``down`` / ``up`` keeps every request, decision and audit event.

The browser is played by httpx (real Keycloak login pages, real redirects, real cookies, TLS verified
against the certificate the proxy generated); the researcher's code runs inside the real notebook
container the hub spawned, with the credential the hub gave it.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import secrets
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import docker
import httpx
import psycopg
import pytest

from sandkasse.stack.compose import ComposeStack

pytestmark = pytest.mark.e2e

PROJECT = "sick-leave-2026"
RESEARCHER = "ingrid"
CHECKERS = ("kari", "per")
EXPORT_CSV = "service_area,year,employees,sick_leave_pct\nHealth,2025,412,7.9\nSchools,2025,655,6.1\n"

_FORM_ACTION = re.compile(r'<form[^>]*id="kc-form-login"[^>]*action="([^"]+)"', re.S)


def _browser(stack: ComposeStack, ca: Path) -> httpx.Client:
    return httpx.Client(base_url=stack.public_url, verify=str(ca), timeout=60, trust_env=False)


def _submit_login_form(client: httpx.Client, page: httpx.Response, username: str, password: str) -> httpx.Response:
    assert page.status_code == 200 and "kc-form-login" in page.text, f"no Keycloak login page at {page.url}: {page.status_code}"
    action = html.unescape(_FORM_ACTION.search(page.text).group(1))
    assert action.startswith(client.base_url.__str__().rstrip("/") + "/auth/"), f"login form posts outside the proxy: {action}"
    return client.post(action, data={"username": username, "password": password, "credentialId": ""})


def hub_login(stack: ComposeStack, ca: Path, username: str, password: str) -> httpx.Client:
    """Log in to the hub the way a browser does: hub -> Keycloak login page -> back to the hub."""
    client = _browser(stack, ca)
    page = client.get("/hub/oauth_login", params={"next": "/hub/home"}, follow_redirects=True)
    done = _submit_login_form(client, page, username, password)
    assert done.status_code == 302, done.text[:500]
    home = client.get(done.headers["location"], follow_redirects=True)
    assert home.status_code == 200 and home.url.path == "/hub/home", (home.status_code, str(home.url))
    return client


def egress_token(stack: ComposeStack, ca: Path, username: str, password: str) -> str:
    """A token for the egress API from the authorization code flow with PKCE (client sandkasse-egress)."""
    public = stack.public_url
    oidc = "/auth/realms/sandkasse/protocol/openid-connect"
    redirect_uri = f"{stack.egress_url}/auth/callback"  # the egress UI's own origin
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    with _browser(stack, ca) as client:
        query = urlencode({
            "client_id": "sandkasse-egress", "response_type": "code", "scope": "openid", "redirect_uri": redirect_uri,
            "state": secrets.token_urlsafe(8), "code_challenge": challenge, "code_challenge_method": "S256",
        })  # fmt: skip
        page = client.get(f"{oidc}/auth?{query}", follow_redirects=True)
        done = _submit_login_form(client, page, username, password)
        assert done.status_code == 302, done.text[:500]
        location = done.headers["location"]
        assert location.startswith(redirect_uri), location
        code = parse_qs(urlsplit(location).query)["code"][0]
        token = client.post(f"{oidc}/token", data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, "client_id": "sandkasse-egress",
            "client_secret": stack.settings["SANDKASSE_EGRESS_CLIENT_SECRET"], "code_verifier": verifier,
        })  # fmt: skip
        assert token.status_code == 200, token.text
        return token.json()["access_token"]


def _egress(stack: ComposeStack, ca: Path, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{stack.egress_url}/api/v1", verify=str(ca), timeout=120, trust_env=False,
        headers={"Authorization": f"Bearer {token}"},
    )  # fmt: skip


def _wait_for_server(stack: ComposeStack, ca: Path, user: str, name: str, timeout: float = 180) -> dict:
    admin = {"Authorization": f"token {stack.settings['SANDKASSE_HUB_ADMIN_TOKEN']}"}
    deadline = time.monotonic() + timeout
    with _browser(stack, ca) as client:
        while time.monotonic() < deadline:
            info = client.get(f"/hub/api/users/{user}", headers=admin)
            assert info.status_code == 200, info.text
            server = info.json().get("servers", {}).get(name) or {}
            if server.get("ready"):
                return server
            time.sleep(1)
    raise AssertionError(f"server {user}/{name} not ready after {timeout:.0f} s:\n{stack.logs_tail(60)}")


def _sandbox(stack: ComposeStack, user: str, project: str):  # noqa: ANN202 - docker Container
    found = docker.from_env().containers.list(
        filters={"label": [f"org.sandkasse.user={user}", f"org.sandkasse.project={project}", "org.sandkasse.role=notebook"]}
    )
    found = [c for c in found if c.name.startswith(f"{stack.project}-")]
    assert len(found) == 1, [c.name for c in found]
    return found[0]


def _snapshot(stack: ComposeStack) -> dict[str, set[tuple]]:
    """Every row of the egress tables and of both audit chains, straight from PostgreSQL."""
    s = stack.settings
    dsn = f"host=127.0.0.1 port={s['SANDKASSE_POSTGRES_PORT']} dbname=sandkasse user=sandkasse password={s['SANDKASSE_DB_PASSWORD']}"
    with psycopg.connect(dsn) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
                "AND (table_name LIKE 'egress_%' OR table_name LIKE '%audit%') "
                "AND table_name <> 'egress_audit_head' ORDER BY 1"  # the sealed head moves with every new event
            )
        ]
        return {t: {tuple(map(str, row)) for row in conn.execute(f'SELECT * FROM "{t}"')} for t in tables}


# Building the images and two cold starts of the whole stack (Keycloak's first start creates its
# schema) take minutes on a busy 2-core machine; the default per-test timeout is for ordinary tests.
@pytest.mark.timeout(3000)
def test_researcher_exports_through_the_stack_and_a_restart_keeps_everything(compose_stack: ComposeStack, tls_ca: Path) -> None:
    stack, ca = compose_stack, tls_ca
    password = stack.settings["SANDKASSE_DEMO_PASSWORD"]
    assert stack.health() | {"init": "done"} == {s: ("done" if s == "init" else "healthy") for s in stack.health()}

    # The researcher logs in through the proxy and Keycloak, and starts the project's server.
    browser = hub_login(stack, ca, RESEARCHER, password)
    browser.get(f"/hub/spawn/{RESEARCHER}/{PROJECT}", follow_redirects=True)
    _wait_for_server(stack, ca, RESEARCHER, PROJECT)
    lab = browser.get(f"/user/{RESEARCHER}/{PROJECT}/lab", follow_redirects=True)
    assert lab.status_code == 200 and "JupyterLab" in lab.text, (lab.status_code, str(lab.url))
    # The server's API answers the researcher's session (cookie + XSRF token, as JupyterLab sends them).
    xsrf = next(c.value for c in browser.cookies.jar if c.name == "_xsrf" and c.path.startswith(f"/user/{RESEARCHER}/"))
    status = browser.get(f"/user/{RESEARCHER}/{PROJECT}/api/status", headers={"X-XSRFToken": xsrf})
    assert status.status_code == 200 and "started" in status.json(), (status.status_code, status.text[:300])
    # Issue 15.2: the notebook page carries the meter's policy, and the egress UI is not on this origin.
    assert "default-src 'self'" in lab.headers.get("content-security-policy", ""), lab.headers
    assert browser.get("/egress/api/v1/requests", follow_redirects=True).status_code == 404  # the hub's own 404
    with httpx.Client(base_url=stack.egress_url, verify=str(ca), timeout=60, trust_env=False) as egress_origin:
        assert egress_origin.get("/healthz").status_code == 200
    # Issue 20: the application portal on its own origin; its DCAT-AP-NO export is public.
    with httpx.Client(base_url=stack.portal_url, verify=str(ca), timeout=60, trust_env=False) as portal_origin:
        assert portal_origin.get("/healthz").status_code == 200
        dcat = portal_origin.get("/catalogue.ttl")
        assert dcat.status_code == 200 and "dcat:Dataset" in dcat.text

    # Inside the sandbox, the researcher's code sends a table to the egress service.
    sandbox = _sandbox(stack, RESEARCHER, PROJECT)
    code = (
        "import json, pathlib\n"
        "from egress_review.client import request_export\n"
        f"p = pathlib.Path('/tmp/sick_leave_by_area.csv'); p.write_text({EXPORT_CSV!r})\n"
        "r = request_export(p, context='Sick-leave percentage per service area, 2025', "
        "controls='Aggregated over at least 400 employees per cell', show=False)\n"
        "print(json.dumps({'id': r.request_id, 'state': r.state}))\n"
    )
    run = sandbox.exec_run(["python", "-c", code], user="1000")
    assert run.exit_code == 0, run.output.decode()
    submitted = json.loads(run.output.decode().strip().splitlines()[-1])
    request_id = submitted["id"]
    assert submitted["state"] == "submitted", submitted

    # Two different output checkers each vote and submit their review; then the request is approved.
    for checker in CHECKERS:
        with _egress(stack, ca, egress_token(stack, ca, checker, password)) as api:
            detail = api.get(f"/requests/{request_id}")
            assert detail.status_code == 200, detail.text
            outputs = [f for f in detail.json()["files"] if f.get("kind", "output") == "output"]
            assert outputs, detail.json()
            for f in outputs:
                vote = api.put(f"/requests/{request_id}/files/{f['id']}/vote", json={"decision": "approve", "comment": "safe"})
                assert vote.status_code == 200, vote.text
            review = api.post(f"/requests/{request_id}/reviews")
            assert review.status_code == 200, review.text
    with _egress(stack, ca, egress_token(stack, ca, CHECKERS[1], password)) as api:
        approved = api.post(f"/requests/{request_id}/approve", json={"comment": "two independent approvals"})
        assert approved.status_code == 200, approved.text
        assert approved.json()["state"] in {"approved", "released"}, approved.json()

    # The researcher downloads the released file through the proxy: the bytes that were submitted.
    with _egress(stack, ca, egress_token(stack, ca, RESEARCHER, password)) as api:
        releases = api.get("/releases").json()["items"]
        release = next(r for r in releases if r["request_id"] == request_id)
        name = release["files"][0]["name"] if isinstance(release["files"][0], dict) else release["files"][0]
        download = api.get(f"/releases/{release['id']}/files/{name}")
        assert download.status_code == 200, download.text
        assert download.content.decode() == EXPORT_CSV

    # down (volumes kept) and up again: every request, vote, review, release and audit event survives.
    before = _snapshot(stack)
    assert before["egress_requests"] and before["egress_votes"] and before["egress_audit_events"]
    stack.down(volumes=False)
    assert not [c for c in stack.containers().values() if c["State"]["Running"]]
    stack.up(build=False)
    after = _snapshot(stack)
    for table, rows in before.items():
        missing = rows - after.get(table, set())
        assert not missing, f"{table}: {len(missing)} rows lost over down/up"

    verify = docker.from_env().containers.get(stack.containers()["egress"]["Id"]).exec_run(["sandkasse", "audit", "verify"])
    assert verify.exit_code == 0, verify.output.decode()
    assert "OK" in verify.output.decode(), verify.output.decode()

    # And the released file is still there for the researcher after the restart.
    with _egress(stack, ca, egress_token(stack, ca, RESEARCHER, password)) as api:
        again = api.get(f"/releases/{release['id']}/files/{name}")
        assert again.status_code == 200 and again.content.decode() == EXPORT_CSV
