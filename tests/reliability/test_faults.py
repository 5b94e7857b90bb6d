"""Crashes: the egress service (a real uvicorn process on a loopback port) is killed with SIGKILL while
it receives an upload, while the second checker's review completes the two-person rule, and while it
releases; then started again on the same state. Each time the request is in one consistent state, no
stored file is lost, nothing is released half-way, and the audit chain verifies."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from egress_review.models import FileVersion, Release, ReleaseRequest, ReviewSubmission
from egress_review.release.release import signed_document
from egress_review.release.verify_cli import verify_release
from egress_review.service import build_service
from tests.reliability.conftest import CHECKERS, Flow, table
from tests.security.helpers import LiveEgress, egress_settings_for, provision

pytestmark = pytest.mark.reliability

PROJECTS = {"faults": {"rita": "researcher"}}
# Moments after the request is sent at which the service is killed: before it has read the request,
# inside the transaction, and after the answer; the same outcome rules must hold at every one.
KILL_AFTER = (0.0, 0.03, 0.12)


@pytest.fixture
def live(tmp_path: Path, keycloak, token_key):
    settings = egress_settings_for(tmp_path, keycloak, token_key)
    provision(settings.effective_database_url, PROJECTS)
    service = LiveEgress(settings, tmp_path / "egress.log").start()
    yield service
    service.stop()


@pytest.fixture
def flow(live, token_key, rel_users):
    f = Flow(live.url, token_key, rel_users)
    yield f
    f.close()


def _state(settings):
    """The service's state as read straight from its database and store (a fresh process's view)."""
    svc = build_service(settings, migrate=False)
    try:
        with svc.sessions() as s:
            report = svc.audit.verify(s)
            out = {
                "audit_ok": report.ok, "audit": str(report),
                "requests": dict(s.execute(select(ReleaseRequest.id, ReleaseRequest.state)).all()),
                "versions": s.execute(select(func.count()).select_from(FileVersion)).scalar_one(),
                "blobs_named": set(s.execute(select(FileVersion.blob)).scalars()),
                "reviews": [(r.request_id, r.reviewer) for r in s.execute(select(ReviewSubmission)).scalars()],
            }
            out["releases"] = {}
            for rel in s.execute(select(Release)).scalars():
                out["releases"][rel.request_id] = (signed_document(rel), [Path(f.path) for f in rel.files])
        out["blobs_on_disk"] = {p.name for p in svc.store.blobs.iterdir()}
        out["public_key"] = settings.public_key_path
        return out
    finally:
        svc.close()


def _in_background(fn) -> threading.Thread:
    def run():
        try:
            fn()
        except (httpx.HTTPError, AssertionError):
            pass  # the service died under it: that is the point

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def _kill_restart(live: LiveEgress, delay: float, worker: threading.Thread) -> None:
    time.sleep(delay)
    live.kill()
    worker.join(15)
    live.start()


def test_kill_during_upload(live, flow):
    h = flow.researcher("rita", "faults")
    req = flow.draft(h)
    fid = flow.add_file(h, req, "big.csv")
    sent = {"chunks": 0}

    def slow_body():
        yield b"district,year,days\n"
        for i in range(400):  # about 10 MB over about 4 s: the kill lands mid-stream
            sent["chunks"] += 1
            yield (f"D{i % 97:02d},2024,{100 + i % 900}\n" * 1200).encode()
            time.sleep(0.01)

    worker = _in_background(lambda: flow.client.put(f"/api/v1/requests/{req}/files/{fid}/content", content=slow_body(),
                                                    headers={**h, "Content-Type": "application/octet-stream"}))
    deadline = time.monotonic() + 10
    while sent["chunks"] < 40 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert 0 < sent["chunks"] < 400, sent
    _kill_restart(live, 0, worker)
    after = _state(live.settings)
    assert after["audit_ok"], after["audit"]
    assert after["requests"][req] == "draft" and after["versions"] == 0, after
    assert after["blobs_on_disk"] == set(), "a half-received upload became a blob"
    detail = flow.call("GET", f"/api/v1/requests/{req}", h).json()
    assert all(not f.get("versions") and not f.get("current_version") for f in detail["files"]), detail
    # the service works on: the same file uploads and submits
    flow.upload(h, req, fid, table(60))
    flow.call("POST", f"/api/v1/requests/{req}/submit", h)
    final = _state(live.settings)
    assert final["versions"] == 1 and final["blobs_named"] == final["blobs_on_disk"] and final["audit_ok"]


def test_kill_during_the_second_approval(live, flow):
    h = flow.researcher("rita", "faults")
    first, second = CHECKERS[0], CHECKERS[1]
    reqs = []
    for i in range(len(KILL_AFTER)):
        req, files = flow.submitted(h, {f"t{j}.csv": table(40, seed=i * 10 + j) for j in range(2)})
        flow.vote_all(first, req, files)
        flow.review(first, req)
        flow.vote_all(second, req, files)
        reqs.append(req)
    before = _state(live.settings)
    for req, delay in zip(reqs, KILL_AFTER):
        worker = _in_background(lambda r=req: flow.review(second, r))
        _kill_restart(live, delay, worker)
        after = _state(live.settings)
        assert after["audit_ok"], (delay, after["audit"])
        state = after["requests"][req]
        mine = (req, second) in after["reviews"]
        # all or nothing: either the second review and the state change both happened, or neither
        assert (state, mine) in {("submitted", False), ("reviewed", True)}, (delay, state, mine)
        assert after["versions"] == before["versions"] and after["blobs_named"] <= after["blobs_on_disk"]
        if state == "submitted":  # the checker simply submits again
            flow.review(second, req)
    final = _state(live.settings)
    assert all(final["requests"][r] == "reviewed" for r in reqs) and final["audit_ok"]


def test_kill_during_release(live, flow):
    h = flow.researcher("rita", "faults")
    a, b = CHECKERS[2], CHECKERS[3]
    reqs = []
    for i in range(len(KILL_AFTER)):
        req, files = flow.submitted(h, {f"r{j}.csv": table(200, seed=i * 10 + j) for j in range(3)})
        for c in (a, b):
            flow.vote_all(c, req, files)
            flow.review(c, req)
        reqs.append(req)
    for req, delay in zip(reqs, KILL_AFTER):
        worker = _in_background(lambda r=req: flow.call("POST", f"/api/v1/requests/{r}/approve", flow.users.headers(a), json={}))
        _kill_restart(live, delay, worker)  # start-up finishes any release an interruption left approved
        after = _state(live.settings)
        assert after["audit_ok"], (delay, after["audit"])
        state = after["requests"][req]
        assert state in ("reviewed", "released"), (delay, state)  # never stuck half-way in "approved"
        if state == "reviewed":
            assert req not in after["releases"]
            flow.call("POST", f"/api/v1/requests/{req}/approve", flow.users.headers(a), json={})
            after = _state(live.settings)
        document, paths = after["releases"][req]
        assert len(paths) == 3 and all(p.is_file() for p in paths), paths
        manifest = live.settings.var_dir / f"manifest-{req}.json"
        manifest.write_text(json.dumps(document))
        assert verify_release(manifest, paths, after["public_key"]) == [], req
    assert _state(live.settings)["audit_ok"]
