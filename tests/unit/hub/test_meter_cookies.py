"""The meter forwards every browser's requests through one HTTP client: a cookie a notebook server
sets in an answer (JupyterHub's login cookie for that server) must reach that browser only, never be
kept by the meter and added to someone else's request. Found by the "Request release" e2e test: an
anonymous request to a researcher's server came back with their release requests."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from tornado import web
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from hub.meter.app import Meter
from hub.meter.ledger import Ledger

pytestmark = pytest.mark.unit

PREFIX = "/user/dora/proj/"


class Login(web.RequestHandler):
    def get(self) -> None:
        self.set_cookie("jupyterhub-user-dora-proj", "dora-session", path=PREFIX)
        self.write("logged in")


class WhoAmI(web.RequestHandler):
    def get(self) -> None:
        self.write({"cookie": self.request.headers.get("Cookie", "")})


async def _cookie_seen_by_a_stranger(tmp_path: Path, *, remove_control: bool) -> tuple[str, str]:
    app = web.Application([(PREFIX + "login", Login), (PREFIX + "whoami", WhoAmI)])
    server = HTTPServer(app)
    sockets = bind_sockets(0, "127.0.0.1")
    server.add_sockets(sockets)
    meter = Meter(Ledger(tmp_path / "meter.sqlite", 1_000_000), max_response_bytes=100_000, audit_file=tmp_path / "hub.jsonl")
    if remove_control:
        await meter.client.aclose()
        meter.client = httpx.AsyncClient(trust_env=False, follow_redirects=False)  # a default client keeps cookies
    meter.listen(0)
    meter.add_route(PREFIX, f"http://127.0.0.1:{sockets[0].getsockname()[1]}", user="dora", project="proj")
    try:
        async with httpx.AsyncClient(base_url=meter.url + PREFIX, trust_env=False) as dora:
            await dora.get("login")
            mine = (await dora.get("whoami")).json()["cookie"]
        async with httpx.AsyncClient(base_url=meter.url + PREFIX, trust_env=False) as stranger:
            theirs = (await stranger.get("whoami")).json()["cookie"]
        return mine, theirs
    finally:
        await meter.close()
        server.stop()


def test_a_cookie_set_for_one_browser_is_never_sent_for_another(tmp_path):
    mine, theirs = asyncio.run(_cookie_seen_by_a_stranger(tmp_path, remove_control=False))
    assert "dora-session" in mine  # the browser that logged in keeps its own cookie
    assert theirs == ""


def test_control_removed_a_client_that_keeps_cookies_logs_the_stranger_in(tmp_path):
    _, theirs = asyncio.run(_cookie_seen_by_a_stranger(tmp_path, remove_control=True))
    assert "dora-session" in theirs
