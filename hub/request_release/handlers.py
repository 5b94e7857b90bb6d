"""The handlers under ``<base_url>/sandkasse/release/``: Jupyter's own login and XSRF check (the
``APIHandler`` base, ``authenticated``, ``authorized``), paths confined to the researcher's home
(``egress_review.client.home_files``), and answers built by ``egress_review.client.release_panel``
(views without the token or any file content)."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web

from egress_review.client import EgressClient, ExportError
from egress_review.client import release_panel as panel
from egress_review.client.home_files import OutsideHome

AUTH_RESOURCE = "sandkasse-release"
MAX_BODY = 200_000
ROUTE = "sandkasse/release"


class _ReleaseHandler(APIHandler):
    auth_resource = AUTH_RESOURCE

    def initialize(self, home: panel.Home) -> None:
        self.home = home

    def _body(self) -> dict[str, Any]:
        if len(self.request.body or b"") > MAX_BODY:
            raise web.HTTPError(413, "request too large")
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            raise web.HTTPError(400, "the body is not JSON") from None
        if not isinstance(body, dict):
            raise web.HTTPError(400, "the body is not a JSON object")
        return body

    async def _answer(self, work: Callable[[EgressClient], Any], status: int = 200) -> None:
        """Run ``work`` with a client holding the project token (in a thread: the client blocks) and
        answer with its view, or with the reason it was refused."""

        def run() -> Any:
            with EgressClient(timeout=120.0) as client:
                return work(client)

        try:
            out = await asyncio.to_thread(run)
        except OutsideHome as exc:
            self.set_status(403)
            out = {"message": str(exc)}
        except ExportError as exc:
            self.set_status(400)
            out = {"message": str(exc)}
        else:
            self.set_status(status)
        self.finish(json.dumps(out))


class RequestsHandler(_ReleaseHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self._answer(lambda c: {"requests": panel.my_requests(c)})

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self._body()

        def texts(key: str) -> list[str]:
            value = body.get(key) or []
            return [str(v) for v in value] if isinstance(value, list) else []

        await self._answer(lambda c: {"request": panel.request_release(
            c, self.home, texts("outputs"), supporting=texts("supporting"), context=str(body.get("context") or ""),
            controls=str(body.get("controls") or ""), title=str(body.get("title") or ""))}, status=201)


class RequestHandler(_ReleaseHandler):
    @web.authenticated
    @authorized
    async def get(self, request_id: str) -> None:
        await self._answer(lambda c: {"request": panel.request_view(c.request(panel.check_id(request_id)))})


class VersionHandler(_ReleaseHandler):
    @web.authenticated
    @authorized
    async def post(self, request_id: str, file_id: str) -> None:
        body = self._body()
        await self._answer(lambda c: {"request": panel.new_version(
            c, self.home, request_id, file_id, str(body.get("path") or ""),
            resubmit_now=bool(body.get("resubmit", True)))}, status=201)


class ResubmitHandler(_ReleaseHandler):
    @web.authenticated
    @authorized
    async def post(self, request_id: str) -> None:
        await self._answer(lambda c: {"request": panel.resubmit(c, request_id)})


def home_of(serverapp) -> panel.Home:
    """The researcher's home confines every path; the Jupyter root (where the file browser's paths
    start) is usually the same folder."""
    root = os.path.realpath(os.environ.get("HOME") or os.path.expanduser("~"))
    base = os.path.realpath(getattr(serverapp, "root_dir", None) or root)
    mounts = [p for p in os.environ.get("SANDKASSE_DATA_MOUNTS", "/data").split(":") if p]
    return panel.Home(root, base, mounts)


def setup_handlers(serverapp) -> None:
    web_app = serverapp.web_app
    base = url_path_join(web_app.settings["base_url"], ROUTE)
    args = {"home": home_of(serverapp)}
    ident = r"([A-Za-z0-9_-]{1,64})"
    web_app.add_handlers(".*$", [
        (url_path_join(base, "requests"), RequestsHandler, args),
        (url_path_join(base, "requests", ident), RequestHandler, args),
        (url_path_join(base, "requests", ident, "files", ident, "versions"), VersionHandler, args),
        (url_path_join(base, "requests", ident, "resubmit"), ResubmitHandler, args),
    ])
