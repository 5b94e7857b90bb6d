"""The database goes away and the quarantine store's disk fills up. The service answers each with a
clear error instead of a crash or a half-stored file, and works on when the resource comes back."""

from __future__ import annotations

import subprocess
import threading
import time

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from egress_review.models import FileVersion, ReleaseRequest
from sandkasse.stack.postgres_server import throwaway_postgres
from tests.reliability.conftest import CHECKERS, Flow, table
from tests.reliability.test_faults import _state
from tests.security.helpers import LiveEgress, egress_settings_for, project_headers, provision

pytestmark = pytest.mark.reliability

PROJECTS = {"outage": {"rita": "researcher"}}


@pytest.fixture
def own_postgres():
    """A throw-away cluster of this test's own: stopping it disturbs no other test."""
    server = throwaway_postgres("outage")
    yield server
    server.remove()


def _unavailable(r: httpx.Response) -> None:
    assert r.status_code == 503, (r.status_code, r.text[:300])
    assert r.json()["error"]["code"] == "unavailable" and "database" in r.json()["error"]["message"]
    assert int(r.headers["retry-after"]) > 0


def test_database_unavailable_gives_503_then_recovers(tmp_path, keycloak, token_key, rel_users, own_postgres):
    settings = egress_settings_for(tmp_path, keycloak, token_key, database_url=own_postgres.create_database())
    provision(settings.effective_database_url, PROJECTS)
    live = LiveEgress(settings, tmp_path / "egress.log").start()
    flow = Flow(live.url, token_key, rel_users, timeout=20)
    try:
        h = flow.researcher("rita", "outage")
        req, files = flow.submitted(h, {"a.csv": table(40)})
        draft = flow.draft(h)
        fid = flow.add_file(h, draft, "b.csv")
        before = _state(settings)

        # an upload in flight when the database goes: it must not end as a stored file
        def slow_body():
            yield b"district,year,days\n"
            for i in range(60):
                yield (f"D{i % 97:02d},2024,{100 + i}\n" * 500).encode()
                time.sleep(0.05)

        result = {}
        worker = threading.Thread(target=lambda: result.setdefault("r", flow.client.put(
            f"/api/v1/requests/{draft}/files/{fid}/content", content=slow_body(),
            headers={**h, "Content-Type": "application/octet-stream"})), daemon=True)
        worker.start()
        time.sleep(0.5)
        own_postgres.stop()
        worker.join(30)
        _unavailable(result["r"])
        for method, path, kw in (("GET", "/healthz", {}), ("GET", "/api/v1/requests", {}),
                                 ("POST", "/api/v1/requests", {"json": {}}),
                                 ("PUT", f"/api/v1/requests/{req}/files/{files[0]}/vote", {"json": {"decision": "approve", "comment": "x"}})):
            headers = rel_users.headers(CHECKERS[0]) if "vote" in path else h
            _unavailable(flow.client.request(method, path, headers=headers, **kw))
        assert live.proc.poll() is None, "the service died with its database"

        own_postgres.ensure()
        assert flow.client.get("/healthz").status_code == 200
        after = _state(settings)
        assert after["audit_ok"], after["audit"]
        assert after["requests"] == before["requests"] and after["versions"] == before["versions"]
        assert after["blobs_on_disk"] == after["blobs_named"], "the interrupted upload left a stored blob"
        # and it works on as before
        flow.upload(h, draft, fid, table(30))
        flow.call("POST", f"/api/v1/requests/{draft}/submit", h)
        assert _state(settings)["requests"][draft] == "submitted"
    finally:
        flow.close()
        live.stop()


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MiB tmpfs as the egress store's disk (root only, as the test bed runs)."""
    mount = tmp_path / "egress"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_full_quarantine_disk_refuses_the_upload_cleanly(tmp_path, small_disk, token_key):
    from egress_review.app import create_app

    settings = egress_settings_for(tmp_path, None, token_key, egress_dir=small_disk)
    provision(settings.effective_database_url, PROJECTS)
    app = create_app(settings)
    h = project_headers(token_key, "rita", "outage")
    try:
        with TestClient(app) as client:
            req = client.post("/api/v1/requests", json={}, headers=h).json()["id"]
            fid = client.post(f"/api/v1/requests/{req}/files", json={"name": "big.csv", "context": "c", "controls": "k"},
                              headers=h).json()["id"]
            big = table(400_000)  # about 5 MB: more than the disk holds
            assert len(big) > 4 * 2**20
            r = client.put(f"/api/v1/requests/{req}/files/{fid}/content", content=big,
                           headers={**h, "Content-Type": "application/octet-stream"})
            assert r.status_code == 507, (r.status_code, r.text[:300])
            assert r.json()["error"]["code"] == "insufficient_storage"
            store = settings.quarantine_dir
            leftovers = [p for d in (store / "blobs", store / "tmp", settings.scratch_dir) for p in d.iterdir()]
            assert leftovers == [], leftovers
            with app.state.egress.sessions() as s:
                assert s.execute(select(func.count()).select_from(FileVersion)).scalar_one() == 0
                assert s.execute(select(ReleaseRequest.state).where(ReleaseRequest.id == req)).scalar_one() == "draft"
            # the refusal freed what it took: a normal file still goes in
            ok = client.put(f"/api/v1/requests/{req}/files/{fid}/content", content=table(50),
                            headers={**h, "Content-Type": "application/octet-stream"})
            assert ok.status_code == 200, ok.text
            assert client.post(f"/api/v1/requests/{req}/submit", headers=h).status_code == 200
    finally:
        app.state.egress.close()
