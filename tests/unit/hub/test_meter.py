"""The hub's meter (hub/meter/) between the proxy and a notebook server: the real meter on loopback in
front of a small tornado server that plays a notebook server the researcher controls (it sets its own
headers and serves whatever it is asked to). The meter's decisions, its file and the audit are real."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from tornado import web, websocket
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.netutil import bind_sockets
from tornado.httpserver import HTTPServer

from hub.audit import verify_file
from hub.meter.app import Meter
from hub.meter.ledger import Ledger

pytestmark = pytest.mark.unit

PREFIX = "/user/dora/proj/"


class Blob(web.RequestHandler):
    def get(self, size: str) -> None:
        # A server in the researcher's reach loosens the policy and opens CORS.
        self.set_header("Content-Security-Policy", "default-src *")
        self.set_header("Access-Control-Allow-Origin", "*")
        self.set_header("Content-Type", "application/json")
        self.write(json.dumps({"content": "x" * max(0, int(size) - 15)}))


class Saved(web.RequestHandler):
    bodies: list[bytes] = []

    def put(self) -> None:
        Saved.bodies.append(self.request.body)
        self.write({"name": "save", "type": "notebook", "content": None})


class Channels(websocket.WebSocketHandler):
    def select_subprotocol(self, subprotocols):
        return "v1.kernel.websocket.jupyter.org" if "v1.kernel.websocket.jupyter.org" in subprotocols else None

    async def on_message(self, message):
        count, size = (int(x) for x in str(message).split())
        for _ in range(count):
            await self.write_message("y" * size)


def _upstream() -> tuple[HTTPServer, int]:
    app = web.Application([
        (PREFIX + r"api/contents/(\d+)", Blob),
        (PREFIX + r"api/contents/save", Saved),
        (PREFIX + r"lab/api/workspaces/(\d+)", Blob),
        (PREFIX + r"static/(\d+)", Blob),
        (PREFIX + r"api/kernels/k1/channels", Channels),
    ])
    server = HTTPServer(app)
    sockets = bind_sockets(0, "127.0.0.1")
    server.add_sockets(sockets)
    return server, sockets[0].getsockname()[1]


def run(coro):
    return asyncio.run(coro)


async def _with_meter(tmp_path: Path, body, *, daily: int = 1_000_000, max_response: int = 500_000):
    upstream, port = _upstream()
    meter = Meter(Ledger(tmp_path / "meter.sqlite", daily), max_response_bytes=max_response, audit_file=tmp_path / "hub.jsonl")
    meter.listen(0)
    meter.add_route(PREFIX, f"http://127.0.0.1:{port}", user="dora", project="proj")
    try:
        async with httpx.AsyncClient(base_url=meter.url + PREFIX, trust_env=False, timeout=30) as client:
            return await body(meter, client)
    finally:
        await meter.close()
        upstream.stop()


def test_every_response_carries_the_meters_policy_and_not_the_servers(tmp_path):
    async def body(meter, client):
        return await client.get("api/contents/100", headers={"Host": "tre.example:8000"}), await client.get("no/such/route")

    ok, missing = run(_with_meter(tmp_path, body))
    assert ok.status_code == 200
    csp = ok.headers.get_list("content-security-policy")
    assert len(csp) == 1 and "default-src 'self'" in csp[0] and "*" not in csp[0]
    assert "img-src 'self' data: blob:" in csp[0] and "connect-src 'self' ws://tre.example:8000 wss://tre.example:8000" in csp[0]
    assert "access-control-allow-origin" not in ok.headers
    assert "default-src 'self'" in missing.headers["content-security-policy"]  # errors too


def test_reads_stop_at_the_daily_budget_and_the_refusal_says_why(tmp_path):
    """Budget 2,000,000 bytes, reads of 20,000: the 101st is refused (the issue's 100 MB in 1 MB reads, scaled)."""

    async def body(meter, client):
        codes = [(await client.get("api/contents/20000")).status_code for _ in range(101)]
        last = await client.get("api/contents/20000")
        return codes, last, meter.ledger.used_today("dora", "proj")

    codes, last, used = run(_with_meter(tmp_path, body, daily=2_000_000))
    assert codes[:100] == [200] * 100 and codes[100] == 429
    assert last.status_code == 429 and "budget" in last.json()["message"]
    assert used == 2_000_000
    records = [json.loads(line) for line in (tmp_path / "hub.jsonl").read_text().splitlines()]
    assert records[0]["action"] == "notebook.read_refused" and json.loads(records[0]["detail"])["day_total"] == 2_000_000


def test_one_response_larger_than_the_cap_is_refused_whole(tmp_path):
    async def body(meter, client):
        return await client.get("api/contents/600000"), meter.ledger.used_today("dora", "proj")

    resp, used = run(_with_meter(tmp_path, body, max_response=500_000))
    assert resp.status_code == 403 and "larger than" in resp.json()["message"]
    assert "x" * 1000 not in resp.text and used == 0


def test_workspaces_and_everything_else_count_too(tmp_path):
    async def body(meter, client):
        for path in ("api/contents/1000", "lab/api/workspaces/2000", "static/3000"):
            assert (await client.get(path)).status_code == 200
        return meter.end_session("dora", "proj")

    figures = run(_with_meter(tmp_path, body))
    assert (figures["contents"], figures["workspaces"], figures["other"], figures["total"]) == (1000, 2000, 3000, 6000)


async def _ws(meter: Meter, frames: int, size: int) -> tuple[int, int | None, str | None]:
    conn = await websocket.websocket_connect(
        HTTPRequest(meter.url.replace("http", "ws") + PREFIX + "api/kernels/k1/channels"),
        subprotocols=["v1.kernel.websocket.jupyter.org"],
    )
    assert conn.selected_subprotocol == "v1.kernel.websocket.jupyter.org"
    conn.write_message(f"{frames} {size}")
    got = 0
    while got < frames:
        if await asyncio.wait_for(conn.read_message(), 10) is None:
            break
        got += 1
    conn.close()
    return got, conn.close_code, conn.close_reason


def test_kernel_output_is_counted_and_the_websocket_closes_with_a_reason_when_spent(tmp_path):
    async def body(meter, client):
        first = await _ws(meter, 10, 1000)
        second = await _ws(meter, 100, 1000)
        try:
            await websocket.websocket_connect(meter.url.replace("http", "ws") + PREFIX + "api/kernels/k1/channels")
            again = None
        except HTTPClientError as exc:
            again = exc.code
        return first, second, again, meter.end_session("dora", "proj")

    first, second, again, figures = run(_with_meter(tmp_path, body, daily=50_000))
    assert first[0] == 10
    got, code, reason = second
    assert got == 40 and code == 1008 and "budget" in reason
    assert again == 429
    assert figures["kernel"] == 50_000 and figures["kernel_messages"] == 50 and figures["refused"] >= 2


def test_the_spent_budget_survives_a_restart_and_sessions_resume(tmp_path):
    async def spend(meter, client):
        for _ in range(5):
            assert (await client.get("api/contents/20000")).status_code == 200
        return None

    async def after(meter, client):
        return (await client.get("api/contents/20000")).status_code, meter.ledger.used_today("dora", "proj"), meter.end_session("dora", "proj")

    run(_with_meter(tmp_path, spend, daily=100_000))  # closes (flushes) like a stopping hub
    status, used, figures = run(_with_meter(tmp_path, after, daily=100_000))
    assert status == 429 and used == 100_000
    assert figures["contents"] == 100_000  # the session opened before the restart, resumed after it
    ok, count, problem = verify_file(tmp_path / "hub.jsonl")
    assert ok, problem


def test_control_removed_without_a_budget_the_101st_read_goes_through(tmp_path):
    async def body(meter, client):
        return [(await client.get("api/contents/20000")).status_code for _ in range(101)]

    codes = run(_with_meter(tmp_path, body, daily=10**12))
    assert codes == [200] * 101


def test_the_proxy_class_sends_user_routes_through_the_meter_and_reports_the_container(tmp_path, monkeypatch):
    """MeteredProxy without a running configurable-http-proxy: what it would store there, and what it
    reports back to JupyterHub's route check (also after a hub restart, with a new, empty meter)."""
    from hub.meter import app as meter_app
    from hub.meter.proxy import MeteredProxy

    stored: dict[str, dict] = {}

    async def fake_api_request(self, path, method="GET", body=None, client=None):
        stored[path] = dict(body)

    monkeypatch.setattr(MeteredProxy, "api_request", fake_api_request)

    async def body():
        proxy = MeteredProxy(ledger_file=str(tmp_path / "m.sqlite"), audit_file=str(tmp_path / "a.jsonl"), daily_bytes=1000, max_response_bytes=1000)
        meter = proxy.meter
        await proxy.add_route(PREFIX, "http://172.30.0.2:8888", {"user": "dora", "server_name": "proj"})
        await proxy.add_route("/", "http://127.0.0.1:8081", {"hub": True})
        chp = {path: dict(data) for path, data in stored.items()}
        user_route = chp[proxy._routespec_to_chp_path(PREFIX)]
        reported = proxy._reformat_routespec(PREFIX, dict(user_route))
        hub_route = chp[proxy._routespec_to_chp_path("/")]
        # A restart: a new meter that knows no route learns it from the proxy's data.
        await meter.close()
        meter_app.set_current(None)
        restarted = MeteredProxy(ledger_file=str(tmp_path / "m.sqlite"), audit_file=str(tmp_path / "a.jsonl"), daily_bytes=1000, max_response_bytes=1000)
        user_route_old = dict(user_route)
        stale = restarted._reformat_routespec(PREFIX, dict(user_route_old))  # the old meter's port: re-add
        user_route_old["target"] = restarted.meter.url
        relearned = restarted._reformat_routespec(PREFIX, dict(user_route_old))
        known = restarted.meter.match(PREFIX + "api/contents")
        unmetered = restarted._reformat_routespec(PREFIX, {"target": "http://172.30.0.2:8888", "jupyterhub": True, "user": "dora", "server_name": "proj"})
        await restarted.meter.close()
        meter_app.set_current(None)
        return meter.url, user_route, reported, hub_route, stale, relearned, known, unmetered

    meter_url, user_route, reported, hub_route, stale, relearned, known, unmetered = run(body())
    assert user_route["target"] == meter_url and reported["target"] == "http://172.30.0.2:8888"
    assert hub_route["target"] == "http://127.0.0.1:8081"  # the hub's own route is not metered
    assert stale["target"] != "http://172.30.0.2:8888"  # JupyterHub sees a mismatch and re-adds it
    assert relearned["target"] == "http://172.30.0.2:8888" and known is not None and known.target == "http://172.30.0.2:8888"
    assert unmetered["target"] != "http://172.30.0.2:8888"


def test_a_save_still_reaches_the_server_when_the_budget_is_spent_but_its_answer_is_withheld(tmp_path):
    async def body(meter, client):
        assert (await client.get("api/contents/1000")).status_code == 200
        save = await client.put("api/contents/save", content=b'{"content": "my work"}')
        return save, Saved.bodies

    Saved.bodies = []
    save, bodies = run(_with_meter(tmp_path, body, daily=1000))
    assert bodies == [b'{"content": "my work"}']  # the notebook server got the save
    assert save.status_code == 429 and "budget" in save.json()["message"]
