"""The meter: a reverse proxy on the host between the hub's proxy and every notebook server.

Everything a notebook server sends to a browser passes here, outside the sandbox and out of the
researcher's reach (inside the container the kernel and the Jupyter server run as the same user, so
any count or header set there can be forged). The meter

* puts :func:`hub.meter.csp.content_security_policy` on every response and drops the server's own
  policy, CORS and reporting headers;
* counts every byte sent to the browser (HTTP bodies and websocket frames) against the daily budget
  of (user, project) in :class:`hub.meter.ledger.Ledger`, refuses a response that would overspend it
  (HTTP 429) or that is larger than ``max_response_bytes`` on its own (HTTP 403), and closes a
  kernel websocket with a reason when the budget runs out;
* keeps per-session figures that the spawner writes to the hub's audit trail when the server stops.

Routes come from JupyterHub's proxy class (:mod:`hub.meter.proxy`): the hub's proxy sends
``/user/<name>/<server>/...`` here and the meter forwards it, path unchanged, to the container.
"""

from __future__ import annotations

import http.cookiejar
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from tornado import httpserver, web, websocket
from tornado.httpclient import HTTPRequest
from tornado.ioloop import PeriodicCallback
from tornado.netutil import bind_sockets

from hub.audit import append_record
from hub.meter.csp import DROPPED_RESPONSE_HEADERS, content_security_policy
from hub.meter.ledger import Ledger

log = logging.getLogger("sandkasse.meter")

HOP_BY_HOP_REQUEST = frozenset(
    ("connection", "keep-alive", "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade", "content-length", "accept-encoding")
)
WEBSOCKET_PATHS = r"(?P<path>/.*/(?:api/kernels/[^/]+/channels|api/events/subscribe))"
CLOSE_POLICY_VIOLATION = 1008


@dataclass(frozen=True)
class Route:
    prefix: str  # JupyterHub routespec, e.g. /user/ingrid/sick-leave-2026/
    target: str  # the container's server, e.g. http://172.30.0.2:8888
    user: str
    project: str


def category(rest: str) -> str:
    """What a path (after the server's prefix) reads, for the audit's breakdown."""
    if rest.startswith("api/contents"):
        return "contents"
    if rest.startswith("lab/api/workspaces"):
        return "workspaces"
    return "other"


class Meter:
    def __init__(
        self,
        ledger: Ledger,
        *,
        max_response_bytes: int,
        audit_file: Path | None = None,
        flush_interval: float = 1.0,
    ) -> None:
        self.ledger = ledger
        self.max_response_bytes = max_response_bytes
        self.audit_file = audit_file
        self.routes: dict[str, Route] = {}
        self.url = ""
        self._server: httpserver.HTTPServer | None = None
        self._flusher = PeriodicCallback(self._flush, flush_interval * 1000)
        # One client forwards everybody's requests: it must never keep a cookie from an answer (its
        # jar would add a researcher's login to the next request, anyone's, without a cookie).
        self.client = httpx.AsyncClient(trust_env=False, timeout=httpx.Timeout(300.0, connect=10.0), follow_redirects=False,
                                        cookies=http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(allowed_domains=[])))
        self.app = web.Application(
            [
                (WEBSOCKET_PATHS, WebSocketRelay, {"meter": self}),
                (r"(?P<path>/.*)", ForwardHandler, {"meter": self}),
            ],
            websocket_max_message_size=64 * 1024 * 1024,
        )

    # ---- lifecycle ----------------------------------------------------------------------------

    def listen(self, port: int = 0, address: str = "127.0.0.1") -> str:
        """Listen on ``address:port`` (0: any free port) in the running event loop; returns the URL."""
        self._server = httpserver.HTTPServer(self.app, xheaders=False, max_body_size=1024 * 1024 * 1024)
        sockets = bind_sockets(port, address)
        self._server.add_sockets(sockets)
        bound = sockets[0].getsockname()[1]
        self.url = f"http://{address}:{bound}"
        self._flusher.start()
        return self.url

    async def close(self) -> None:
        self._flusher.stop()
        if self._server is not None:
            self._server.stop()
        await self.client.aclose()
        self.ledger.close()

    def _flush(self) -> None:
        try:
            self.ledger.flush()
        except Exception:  # a full disk must not stop the traffic; the next flush retries
            log.exception("meter: could not write the ledger")

    # ---- routes -------------------------------------------------------------------------------

    def add_route(self, prefix: str, target: str, user: str, project: str) -> None:
        self.routes[prefix] = Route(prefix, target.rstrip("/"), user, project)
        self.ledger.session(user, project)

    def remove_route(self, prefix: str) -> None:
        self.routes.pop(prefix, None)

    def match(self, path: str) -> Route | None:
        best = None
        for prefix, route in self.routes.items():
            if (path.startswith(prefix) or path + "/" == prefix) and (best is None or len(prefix) > len(best.prefix)):
                best = route
        return best

    def end_session(self, user: str, project: str) -> dict[str, Any]:
        return self.ledger.end_session(user, project)

    # ---- decisions ----------------------------------------------------------------------------

    def spent_message(self, route: Route) -> str:
        return (
            f"The daily browser read budget of {self.ledger.daily_bytes:,} bytes for project {route.project} is spent; "
            "reads and kernel output resume tomorrow (UTC). Export results through the egress review."
        )

    def note_refusal(self, route: Route, reason: str, nbytes: int) -> None:
        count = self.ledger.refused(route.user, route.project)
        if count == 1 and self.audit_file is not None:
            append_record(
                self.audit_file,
                actor=route.user,
                action="notebook.read_refused",
                object_id=f"{route.user}/{route.project}",
                detail={"user": route.user, "project": route.project, "reason": reason, "bytes": nbytes,
                        "day_total": self.ledger.used_today(route.user, route.project), "daily_budget": self.ledger.daily_bytes},
            )


class _Metered:
    meter: Meter
    route: Route | None

    def set_default_headers(self) -> None:  # also after clear(), so errors carry the policy too
        self.clear_header("Server")
        self.set_header("Content-Security-Policy", content_security_policy(self.request.host))
        self.set_header("X-Content-Type-Options", "nosniff")

    def refuse(self, status: int, message: str) -> None:
        self.clear()
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"message": message, "reason": "sandkasse-meter"}))


class ForwardHandler(_Metered, web.RequestHandler):
    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

    def initialize(self, meter: Meter) -> None:
        self.meter = meter
        self.route = None

    def compute_etag(self) -> None:
        return None  # the server's own ETag is passed on as it is

    async def _forward(self, path: str) -> None:
        meter = self.meter
        route = meter.match(path)
        if route is None:
            raise web.HTTPError(404)
        if self.request.headers.get("Upgrade", "").lower() == "websocket":
            return self.refuse(403, "This websocket endpoint is not available in the research environment.")
        remaining = meter.ledger.remaining(route.user, route.project)
        if remaining <= 0 and self.request.method in ("GET", "HEAD"):
            meter.note_refusal(route, "budget spent", 0)
            return self.refuse(429, meter.spent_message(route))
        # A write (saving a notebook) still reaches the server when the budget is spent, so no work is
        # lost; only its answer is withheld if it does not fit.
        headers = {k: v for k, v in self.request.headers.get_all() if k.lower() not in HOP_BY_HOP_REQUEST}
        # Bodies pass through as the server sends them; asking for identity keeps counted = shown bytes.
        headers["Accept-Encoding"] = "identity"
        body = bytearray()
        try:
            async with meter.client.stream(
                self.request.method, route.target + self.request.uri, headers=headers, content=self.request.body or None
            ) as resp:
                async for chunk in resp.aiter_raw():
                    body += chunk
                    if len(body) > meter.max_response_bytes:
                        break
                status, upstream_headers = resp.status_code, resp.headers.multi_items()
        except httpx.TransportError as exc:
            log.warning("meter: %s unreachable: %s", route.target, exc)
            return self.refuse(502, "The notebook server does not answer.")
        what = category(path[len(route.prefix):])
        if len(body) > meter.max_response_bytes:
            meter.note_refusal(route, f"{what} response larger than max_response_bytes", len(body))
            return self.refuse(
                403,
                f"This response is larger than the {meter.max_response_bytes:,} bytes the browser may receive at once "
                "from a research notebook server; it was not sent.",
            )
        if len(body) > remaining:
            meter.note_refusal(route, "budget spent", len(body))
            return self.refuse(429, meter.spent_message(route))
        self.set_status(status)
        for name, value in upstream_headers:
            if name.lower() in DROPPED_RESPONSE_HEADERS:
                continue
            if name.lower() == "set-cookie":
                self.add_header(name, value)
            else:
                self.set_header(name, value)
        meter.ledger.add(route.user, route.project, what, len(body))
        if body and status not in (204, 304):
            self.write(bytes(body))
        await self.finish()

    async def get(self, path: str) -> None:
        await self._forward(path)

    head = post = put = patch = delete = options = get


class WebSocketRelay(_Metered, websocket.WebSocketHandler):
    """Relays a kernel's websocket; frames towards the browser are counted and stop at the budget."""

    def initialize(self, meter: Meter) -> None:
        self.meter = meter
        self.route = None
        self.upstream: websocket.WebSocketClientConnection | None = None
        self._early: list[str | bytes] = []
        self._opened = False

    async def prepare(self) -> None:
        path = self.request.path
        route = self.meter.match(path)
        if route is None:
            raise web.HTTPError(404)
        self.route = route
        if self.meter.ledger.remaining(route.user, route.project) <= 0:
            self.meter.note_refusal(route, "budget spent (websocket)", 0)
            self.refuse(429, self.meter.spent_message(route))
            return
        if self.request.headers.get("Upgrade", "").lower() != "websocket":
            return
        forwarded = {
            k: v
            for k, v in self.request.headers.get_all()
            if k.lower() in {"cookie", "authorization", "origin", "host", "user-agent", "x-xsrftoken"}
        }
        protocols = [p.strip() for p in self.request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
        url = "ws" + route.target[len("http"):] + self.request.uri
        try:
            self.upstream = await websocket.websocket_connect(
                HTTPRequest(url, headers=forwarded, connect_timeout=30, request_timeout=30),
                on_message_callback=self._from_upstream,
                subprotocols=protocols or None,
                max_message_size=64 * 1024 * 1024,
            )
        except Exception as exc:  # the server's own refusal (403, 404) or an unreachable container
            code = getattr(exc, "code", 502) or 502
            self.refuse(code if 400 <= code < 600 else 502, f"The notebook server refused the websocket ({exc}).")

    def check_origin(self, origin: str) -> bool:
        return True  # the Origin header is forwarded and judged by the notebook server

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        return self.upstream.selected_subprotocol if self.upstream else None

    def open(self, *args: Any, **kwargs: Any) -> None:
        self._opened = True
        for message in self._early:
            self._send(message)
        self._early.clear()

    def on_message(self, message: str | bytes) -> None:
        if self.upstream is not None:
            self.upstream.write_message(message, binary=isinstance(message, bytes))

    def _from_upstream(self, message: str | bytes | None) -> None:
        if message is None:
            if self._opened:
                self.close()
            return
        if not self._opened:
            self._early.append(message)
            return
        self._send(message)

    def _send(self, message: str | bytes) -> None:
        route = self.route
        assert route is not None
        nbytes = len(message) if isinstance(message, bytes) else len(message.encode())
        if self.meter.ledger.remaining(route.user, route.project) < nbytes:
            self.meter.note_refusal(route, "budget spent (kernel output)", nbytes)
            self.close(CLOSE_POLICY_VIOLATION, "Daily browser read budget spent; kernel output resumes tomorrow (UTC).")
            if self.upstream is not None:
                self.upstream.close()
            return
        self.meter.ledger.add(route.user, route.project, "kernel", nbytes, messages=1)
        try:
            self.write_message(message, binary=isinstance(message, bytes))
        except websocket.WebSocketClosedError:
            if self.upstream is not None:
                self.upstream.close()

    def on_close(self) -> None:
        if self.upstream is not None:
            self.upstream.close()

    def on_connection_close(self) -> None:
        super().on_connection_close()
        if self.upstream is not None:
            self.upstream.close()


_current: Meter | None = None


def set_current(meter: Meter | None) -> None:
    global _current
    _current = meter


def current() -> Meter | None:
    """The meter of this hub process, if its proxy class runs one (the spawner reads its figures)."""
    return _current
