"""Issue 15, items 3 and 4, against a real hub, its real configurable-http-proxy and the meter
(hub/meter/) in front of real notebook containers: browser reads are bounded per (user, project, day),
a single oversized response is refused whole, the audited output volume comes from the meter (a line
the container prints cannot forge it), and a failing audit step still stops the container.

Each control has a "control removed" test beside it: the same request straight to the container's
server (what the browser got before the meter) or the old log-reading audit."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
import uuid
from pathlib import Path

import httpx
import pytest
import yaml
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

from hubtest import run_probe
from sandkasse.settings import REPO_ROOT
from test_lockdown import _execute

pytestmark = pytest.mark.e2e

FORGED = 'sandkasse-output-volume {"user": "mallory", "project": "someone-else", "bytes": 0, "messages": 0}'
BUDGET = 2_000_000


def _audit(hub) -> Path:
    return hub.process.log_path.parent / "audit" / "hub.jsonl"


def _records(hub, action: str, object_id: str) -> list[dict]:
    path = _audit(hub)
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        if rec["action"] == action and rec["object_id"] == object_id:
            out.append({**rec, "detail": json.loads(rec["detail"])})
    return out


def _wait_stopped(hub, user: str, slug: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = hub.docker.containers.list(all=True, filters={"label": [f"org.sandkasse.user={user}", f"org.sandkasse.project={slug}"]})
        if not found:
            return
        time.sleep(0.2)
    raise AssertionError(f"container of {user}/{slug} still there after {timeout}s")


def _client(hub, base: str) -> httpx.Client:
    return httpx.Client(base_url=base, headers={"Authorization": f"token {hub.process.admin_token}"}, timeout=60, trust_env=False)


def _write_in_home(container: str, name: str, kind: str, size: int) -> None:
    run_probe(container, "write_file", {"name": name, "kind": kind, "size": size}, timeout=120)


def _direct_url(hub, container: str, user: str, slug: str) -> str:
    """The container's own server, as the proxy reached it before the meter (host → project bridge)."""
    attrs = hub.docker.containers.get(container).attrs
    ip = next(iter(attrs["NetworkSettings"]["Networks"].values()))["IPAddress"]
    return f"http://{ip}:8888/user/{user}/{slug}/"


# ---- 15.4: the output-volume record ----------------------------------------------------------


@pytest.fixture(scope="module")
def forged(hub, provisioner):
    """A session whose kernel printed output and wrote a forged volume line to the container's log."""
    slug = provisioner.open_project("meter-a", {"erik": "researcher"})
    container = hub.start_server("erik", slug)
    url = hub.server_url("erik", slug)
    with _client(hub, url) as c:
        kernel = c.post("api/kernels", json={"name": "python3"}).json()["id"]
        ws = url.replace("http://", "ws://") + f"api/kernels/{kernel}/channels"
        # After the server's own last total: the forged line is the last one in the log.
        code = (
            "import threading\nprint('x' * 5000)\n"
            f"threading.Timer(1.0, lambda: open('/proc/1/fd/1', 'w').write({FORGED!r} + '\\n')).start()"
        )
        out = asyncio.run(_execute(ws, hub.process.admin_token, code))
        assert out.startswith("x" * 5000)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        logs = hub.docker.containers.get(container).logs().decode(errors="replace")
        if [ln for ln in logs.splitlines() if "sandkasse-output-volume " in ln][-1:] == [FORGED]:
            break  # the kernel did reach the container's log, after the server's own last line
        time.sleep(0.2)
    else:
        raise AssertionError("the forged line did not reach the container log")
    hub.stop_server("erik", slug)
    _wait_stopped(hub, "erik", slug)
    return {"slug": slug, "logs": logs}


def test_output_volume_comes_from_the_meter_and_a_forged_line_changes_nothing(hub, forged):
    slug = forged["slug"]
    records = _records(hub, "notebook.output_volume", f"erik/{slug}")
    assert len(records) == 1, records
    detail = records[0]["detail"]
    assert detail["source"] == "meter" and detail["user"] == "erik" and detail["project"] == slug
    assert detail["bytes"] > 5000 and detail["messages"] > 0  # the kernel's real output, not the forged 0
    assert not [ln for ln in _audit(hub).read_text().splitlines() if "mallory" in ln]
    from hub.audit import verify_file

    ok, _, problem = verify_file(_audit(hub))
    assert ok, problem


def _legacy_record_from_logs(logs: str) -> dict:
    """The record as the spawner made it before the meter: the last marker line of the container log."""
    marker = "sandkasse-output-volume "
    lines = [ln for ln in logs.splitlines() if marker in ln]
    return json.loads(lines[-1].split(marker, 1)[1])


def test_control_removed_reading_the_container_log_accepts_the_forged_line(forged):
    legacy = _legacy_record_from_logs(forged["logs"])
    assert legacy["user"] == "mallory" and legacy["project"] == "someone-else" and legacy["bytes"] == 0


async def _print_until_closed(ws_url: str, token: str) -> tuple[int | None, str | None]:
    conn = await websocket_connect(HTTPRequest(ws_url, headers={"Authorization": f"token {token}"}, connect_timeout=30))
    conn.write_message(json.dumps({
        "header": {"msg_id": uuid.uuid4().hex, "msg_type": "execute_request", "username": "t", "session": uuid.uuid4().hex, "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell",
        "content": {"code": "for i in range(100): print('y' * 10000)", "silent": False, "store_history": False,
                    "user_expressions": {}, "allow_stdin": False},
    }))
    for _ in range(10_000):
        if await asyncio.wait_for(conn.read_message(), 60) is None:
            break
    return conn.close_code, conn.close_reason


# ---- 15.3: the daily budget --------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_budget_hub(hub_factory, egress_service, tmp_path_factory):
    """A hub whose policy allows 2,000,000 bytes per (user, project, day): the issue's 100 MB in
    1 MB reads, scaled down 50 times so the test stays fast."""
    policies = tmp_path_factory.mktemp("policies")
    for src in (REPO_ROOT / "policies").glob("*.yaml"):
        shutil.copy(src, policies / src.name)
    security = yaml.safe_load((policies / "security.yaml").read_text())
    security["browser_reads"] = {"daily_bytes": BUDGET, "max_response_bytes": 20_000_000}
    (policies / "security.yaml").write_text(yaml.safe_dump(security))
    return hub_factory("null", egress_port=egress_service, extra_env={"SANDKASSE_POLICIES_DIR": str(policies)})


@pytest.fixture(scope="module")
def budget_server(small_budget_hub, provisioner):
    slug = provisioner.open_project("meter-b", {"fiona": "researcher"})
    container = small_budget_hub.start_server("fiona", slug)
    for i in range(3):
        _write_in_home(container, f"part{i}.txt", "text", 20_000)
    _write_in_home(container, "big-metadata.ipynb", "notebook-metadata", 50_000_000)
    return {"slug": slug, "container": container, "url": small_budget_hub.server_url("fiona", slug)}


def test_a_notebook_with_50_mb_of_metadata_is_refused_whole(small_budget_hub, budget_server):
    with _client(small_budget_hub, budget_server["url"]) as c:
        resp = c.get("api/contents/big-metadata.ipynb?content=1")
    assert resp.status_code == 403, resp.text[:300]
    assert "larger than" in resp.json()["message"] and len(resp.content) < 10_000


def test_control_removed_straight_to_the_container_the_50_mb_notebook_comes_back(small_budget_hub, budget_server):
    url = _direct_url(small_budget_hub, budget_server["container"], "fiona", budget_server["slug"])
    with _client(small_budget_hub, url) as c:
        resp = c.get("api/contents/big-metadata.ipynb?content=1")
    assert resp.status_code == 200 and len(resp.content) > 50_000_000


def test_reads_stop_when_the_daily_budget_is_spent_and_the_audit_shows_the_bytes(small_budget_hub, budget_server):
    """Reads of about 20 KB against a 2 MB budget: every read is served until the next one would
    overspend the budget (about the 100th), that one and every later one is refused with 429, a kernel
    websocket is refused too, and the session's audit record shows the bytes."""
    slug, url = budget_server["slug"], budget_server["url"]
    served, statuses = 0, []
    with _client(small_budget_hub, url) as c:
        for i in range(130):
            resp = c.get(f"api/contents/part{i % 3}.txt?content=1")
            statuses.append(resp.status_code)
            if resp.status_code == 200:
                served += len(resp.content)
                size = len(resp.content)
            elif len(statuses) > 1 and statuses[-2] != 200:
                break
        refused = resp
    first_refused = statuses.index(429)
    assert set(statuses[:first_refused]) == {200} and statuses[first_refused:] == [429] * len(statuses[first_refused:])
    assert served <= BUDGET < served + size + 2000  # the refused read would have overspent the budget
    assert 95 <= first_refused <= 100, first_refused  # the 101st 20 KB read at the latest
    assert "budget" in refused.json()["message"]
    with _client(small_budget_hub, url) as c:
        kernel = c.post("api/kernels", json={"name": "python3"})
    ws_url = url.replace("http://", "ws://") + f"api/kernels/{kernel.json()['id']}/channels"
    code, reason = asyncio.run(_print_until_closed(ws_url, small_budget_hub.process.admin_token))
    assert code == 1008 and "budget" in reason  # the rest of the budget went to kernel output, then the meter closed it
    try:  # a new websocket: refused at once, or closed at its first frame that does not fit
        again = asyncio.run(_print_until_closed(ws_url, small_budget_hub.process.admin_token))
        assert again[0] == 1008, again
    except HTTPClientError as exc:
        assert exc.code == 429
    small_budget_hub.stop_server("fiona", slug)
    _wait_stopped(small_budget_hub, "fiona", slug)
    volume = _records(small_budget_hub, "notebook.output_volume", f"fiona/{slug}")[-1]["detail"]
    assert volume["source"] == "meter" and volume["contents"] >= served and volume["refused"] >= 2
    assert volume["day_total"] <= BUDGET and volume["daily_budget"] == BUDGET
    spent = _records(small_budget_hub, "notebook.read_refused", f"fiona/{slug}")
    assert spent and spent[0]["detail"]["reason"]


def test_control_removed_straight_to_the_container_reads_never_stop(small_budget_hub, provisioner):
    slug = provisioner.open_project("meter-c", {"gard": "researcher"})
    container = small_budget_hub.start_server("gard", slug)
    _write_in_home(container, "part.txt", "text", 20_000)
    with _client(small_budget_hub, _direct_url(small_budget_hub, container, "gard", slug)) as c:
        statuses = {c.get("api/contents/part.txt?content=1").status_code for _ in range(120)}
    assert statuses == {200}
    small_budget_hub.stop_server("gard", slug)


# ---- 15.4: stop() stops whatever the audit step does ----------------------------------------


def test_a_failing_audit_step_still_stops_the_container(small_budget_hub, provisioner):
    slug = provisioner.open_project("meter-d", {"hilde": "researcher"})
    small_budget_hub.start_server("hilde", slug)
    audit = _audit(small_budget_hub)
    audit.parent.mkdir(parents=True, exist_ok=True)
    saved = audit.with_suffix(".saved")
    if audit.exists():
        audit.rename(saved)
    audit.mkdir()  # the hub can no longer append its record: the audit step raises
    try:
        small_budget_hub.stop_server("hilde", slug)
        _wait_stopped(small_budget_hub, "hilde", slug)
    finally:
        audit.rmdir()
        if saved.exists():
            saved.rename(audit)
    assert "could not audit the output volume" in small_budget_hub.process.log_path.read_text()
