"""Egress replicas (issue 19.3): two service processes on one PostgreSQL and one quarantine folder, as
the Kubernetes Deployment runs them (deploy/kubernetes/egress.yaml). A request is made through both at
random, each file is checked once by whichever replica's worker takes it, its bytes read the same from
either, and a replica killed with work on its hands leaves nothing unchecked: the other takes it over.

Throughput with 1, 2 and 4 replicas is measured by bench/bench_capacity.py (--parts egress)."""

from __future__ import annotations

import yaml

import pytest

from tests.reliability.conftest import table
from tests.security.helpers import LiveEgress, egress_settings_for, project_headers, provision
from tests.unit.egress.egress_factories import wait_checked
from sandkasse.settings import REPO_ROOT

pytestmark = pytest.mark.reliability
LEASE_SECONDS = 3  # short, so the takeover after a kill is quick


def _settings(tmp_path, token_key, postgres_server):
    policy = yaml.safe_load((REPO_ROOT / "policies" / "egress.yaml").read_text())
    policy["uploads"]["check_lease_seconds"] = LEASE_SECONDS
    policy["uploads"]["check_sweep_seconds"] = 1
    path = tmp_path / "egress.yaml"
    path.write_text(yaml.safe_dump(policy))
    settings = egress_settings_for(tmp_path, None, token_key, database_url=postgres_server.create_database(),
                                   egress_policy_file=path)
    provision(settings.effective_database_url, {"rep": {f"rr{i}": "researcher" for i in range(4)}})
    return settings


def _request(client_of, h: dict, data: bytes) -> tuple[str, str]:
    """create on replica 0, add the file on 1, upload on 0, submit on 1."""
    r = client_of(0).post("/api/v1/requests", headers=h, json={"title": "replicas"})
    assert r.status_code == 201, r.text
    req = r.json()["id"]
    f = client_of(1).post(f"/api/v1/requests/{req}/files", headers=h, json={"name": "t.csv", "context": "c", "controls": "k"})
    assert f.status_code == 201, f.text
    fid = f.json()["id"]
    up = client_of(0).put(f"/api/v1/requests/{req}/files/{fid}/content", headers={**h, "Content-Type": "application/octet-stream"}, content=data)
    assert up.status_code == 200, up.text
    return req, fid


def test_two_replicas_share_the_database_and_the_quarantine(tmp_path, token_key, postgres_server):
    import httpx

    settings = _settings(tmp_path, token_key, postgres_server)
    replicas = [LiveEgress(settings, tmp_path / f"egress-{i}.log").start() for i in range(2)]
    clients = [httpx.Client(base_url=r.url, timeout=30, trust_env=False) for r in replicas]
    try:
        for i in range(4):
            h = project_headers(token_key, f"rr{i}", "rep")
            data = table(40, seed=i)
            req, fid = _request(lambda k: clients[(k + i) % 2], h, data)
            assert clients[(i + 1) % 2].post(f"/api/v1/requests/{req}/submit", headers=h).status_code == 200
            for c in clients:  # both see it checked, with the same verdict
                d = wait_checked(c, h, req)
                assert d["state"] == "submitted" and d["files"][0]["current_version"]["verdict"] != "pending"
            contents = [c.get(f"/api/v1/requests/{req}/files/{fid}/content", headers=h) for c in clients]
            assert [r.status_code for r in contents] == [200, 200] and contents[0].content == contents[1].content

        # A replica dies with an upload it acknowledged: the survivor's sweep checks it once the lease ends.
        h = project_headers(token_key, "rr0", "rep")
        req, fid = _request(lambda k: clients[1], h, table(40, seed=9))
        replicas[1].kill()
        d = wait_checked(clients[0], h, req, timeout=LEASE_SECONDS + 30)
        assert d["files"][0]["current_version"]["verdict"] != "pending"
        assert clients[0].get(f"/api/v1/requests/{req}/files/{fid}/content", headers=h).status_code == 200
    finally:
        for c in clients:
            c.close()
        for r in replicas:
            r.stop()
