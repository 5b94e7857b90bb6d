"""The whole path on real components: a researcher submits from "inside" a project (project token),
two checkers with real Keycloak tokens review and approve, the researcher downloads with a Keycloak
token and verifies the manifest. Runs on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import concurrent.futures as cf
import hashlib

import pytest

from egress_review.release.verify_cli import verify_release
from tests.integration.egress.conftest import P
from tests.unit.egress.egress_factories import SAFE_CSV, project_token

pytestmark = pytest.mark.integration

ALPHA = f"{P}alpha"


def _researcher_submits(client, user=f"{P}alice", project=ALPHA, data=SAFE_CSV.encode(), name="table.csv") -> str:
    h = {"Authorization": f"Bearer {project_token(user, project)}"}
    req = client.post("/api/v1/requests", json={"title": "t"}, headers=h)
    assert req.status_code == 201, req.text
    rid = req.json()["id"]
    f = client.post(f"/api/v1/requests/{rid}/files", json={"name": name, "context": "days by district",
                                                           "controls": "all cells >= 10"}, headers=h)
    assert f.status_code == 201, f.text
    up = client.put(f"/api/v1/requests/{rid}/files/{f.json()['id']}/content", content=data,
                    headers={**h, "Content-Type": "application/octet-stream"})
    assert up.status_code == 200, up.text
    assert client.post(f"/api/v1/requests/{rid}/submit", headers=h).status_code == 200
    return rid


def _review(client, realm, rid, checker, decision="approve", comment=""):
    h = realm.headers(checker)
    detail = client.get(f"/api/v1/requests/{rid}", headers=h)
    assert detail.status_code == 200, detail.text
    for f in detail.json()["files"]:
        if f["kind"] == "output":
            v = client.put(f"/api/v1/requests/{rid}/files/{f['id']}/vote", headers=h,
                           json={"decision": decision, "comment": comment})
            assert v.status_code == 200, v.text
    r = client.post(f"/api/v1/requests/{rid}/reviews", headers=h)
    assert r.status_code == 200, r.text
    return r.json()


def test_submit_review_release_download(kc_env, kc_client, realm, tmp_path):
    client = kc_client
    rid = _researcher_submits(client)
    # the queue of a checker shows it; the project member who is a checker does not get it
    q = client.get("/api/v1/requests", params={"to_review": "true"}, headers=realm.headers(f"{P}chris")).json()
    assert [r["id"] for r in q["items"]] == [rid]
    after_one = _review(client, realm, rid, f"{P}chris")
    assert after_one["state"] == "submitted"
    # blinded: cora does not see chris's vote yet
    seen = client.get(f"/api/v1/requests/{rid}", headers=realm.headers(f"{P}cora")).json()
    assert seen["files"][0]["votes"] == [] and seen["files"][0]["decision"] == "pending"
    after_two = _review(client, realm, rid, f"{P}cora")
    assert after_two["state"] == "reviewed"
    assert {v["reviewer"] for v in after_two["files"][0]["votes"]} == {f"{P}chris", f"{P}cora"}
    done = client.post(f"/api/v1/requests/{rid}/approve", json={}, headers=realm.headers(f"{P}chris"))
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "released"
    rel_id = done.json()["release_id"]
    # a checker may not download; the researcher (Keycloak login outside the sandbox) may
    assert client.get(f"/api/v1/releases/{rel_id}/files/table.csv", headers=realm.headers(f"{P}chris")).status_code == 404
    got = client.get(f"/api/v1/releases/{rel_id}/files/table.csv", headers=realm.headers(f"{P}alice"))
    assert got.status_code == 200 and got.content == SAFE_CSV.encode()
    manifest = client.get(f"/api/v1/releases/{rel_id}/manifest", headers=realm.headers(f"{P}alice"))
    (tmp_path / "manifest.json").write_text(manifest.text)
    (tmp_path / "table.csv").write_bytes(got.content)
    key = tmp_path / "key.pem"
    key.write_bytes(client.get("/api/v1/release-key").content)
    assert verify_release(tmp_path / "manifest.json", [tmp_path / "table.csv"], key) == []
    assert manifest.json()["manifest"]["files"][0]["sha256"] == hashlib.sha256(SAFE_CSV.encode()).hexdigest()
    audit = client.get("/api/v1/audit", headers=realm.headers(f"{P}root"))
    assert audit.status_code == 200 and audit.json()["ok"], audit.json()["report"]
    assert client.get("/api/v1/audit", headers=realm.headers(f"{P}chris")).status_code == 403


def test_member_checker_cannot_review_through_the_api(kc_env, kc_client, realm):
    rid = _researcher_submits(kc_client, user=f"{P}bob", project=f"{P}beta")
    h = realm.headers(f"{P}carl")
    detail = kc_client.get(f"/api/v1/requests/{rid}", headers=h).json()
    r = kc_client.put(f"/api/v1/requests/{rid}/files/{detail['files'][0]['id']}/vote", headers=h,
                      json={"decision": "approve"})
    assert r.status_code == 403 and "conflict of interest" in r.json()["error"]["message"]


def test_concurrent_writers_keep_one_audit_chain(kc_env, kc_client):
    """Many submissions at once (threads, one app): every one stored, the chain unforked."""
    with cf.ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda i: _researcher_submits(kc_client, data=SAFE_CSV.replace("120", str(200 + i)).encode()),
                            range(16)))
    assert len(set(ids)) == 16
    with kc_env.svc.sessions() as s:
        assert kc_env.svc.audit.verify(s).ok
