"""The address that opened the connection, kept before forwarded headers replace ``scope["client"]``.

The forwarded address is right for the audit source and the rate limit, but a credential bound to a
network (a project token) must be checked against the peer the kernel saw: a request through the
public proxy comes from the proxy, whatever address it forwards.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

_KEY = "sandkasse.direct_peer"
# What a reverse proxy adds to every request it relays (nginx, ingress-nginx, Traefik, HAProxy, Envoy)
RELAY_HEADERS = ("x-forwarded-for", "x-real-ip", "forwarded", "via", "x-envoy-external-address")


class RecordDirectPeer:
    """ASGI middleware; must wrap :class:`uvicorn.middleware.proxy_headers.ProxyHeadersMiddleware`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            client = scope.get("client")
            scope[_KEY] = client[0] if client else ""
        await self.app(scope, receive, send)


def direct_peer(request: Request) -> str:
    """The TCP peer's address; without the middleware (never in the app) the client address."""
    if _KEY in request.scope:
        return request.scope[_KEY]
    return request.client.host if request.client else ""


def relayed(request: Request) -> bool:
    """The request came through a reverse proxy. On Kubernetes the ingress controller is a pod inside the
    pod range a project token is bound to, so its TCP address alone would let a token copied out of a
    notebook in from the internet; a sandbox calls the egress service directly and adds none of these."""
    return any(h in request.headers for h in RELAY_HEADERS)
