"""ASGI middleware: capping every request body except file uploads (which the quarantine store caps
as it streams), so an oversized JSON body is refused with 413 before the application parses it; and
rate-limiting requests that carry no credential."""

from __future__ import annotations

import math
import re
import time

from egress_review.api.errors import error_response

_UPLOAD = re.compile(r"^/api/v1/requests/[^/]+/files/[^/]+/content$")


class _TooLarge(Exception):
    pass


class BodyLimit:
    def __init__(self, app, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or (scope["method"] == "PUT" and _UPLOAD.match(scope["path"])):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await self._refuse(scope, receive, send)
            return
        # Chunked bodies have no length: read up to the cap, then hand the buffered body on.
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope, receive, send) -> None:
        response = error_response(413, f"the request body is larger than {self.max_bytes} bytes")
        await response(scope, receive, send)


class AnonymousRateLimit:
    """ASGI middleware: a token bucket per client address for requests that carry no credential (no
    bearer token, no session cookie), i.e. everything anyone can call without logging in. The rates
    come from the policy (read on every request, so a changed policy applies at once)."""

    _MAX_CLIENTS = 10_000  # bounded memory under a flood of spoofed-looking addresses

    def __init__(self, app, limits) -> None:
        self.app = app
        self.limits = limits  # () -> RateLimitPolicy
        self._buckets: dict[str, tuple[float, float]] = {}

    @staticmethod
    def _has_credential(scope) -> bool:
        from egress_review.web.session import SESSION_COOKIE

        for name, value in scope.get("headers") or []:
            if name == b"authorization" and value.strip():
                return True
            if name == b"cookie" and SESSION_COOKIE.encode() + b"=" in value:
                return True
        return False

    def _take(self, client: str) -> float:
        """Take one token; return 0 when allowed, else the seconds until the next token."""
        policy = self.limits()
        rate = policy.anonymous_per_minute / 60.0
        now = time.monotonic()
        tokens, last = self._buckets.pop(client, (float(policy.anonymous_burst), now))
        tokens = min(float(policy.anonymous_burst), tokens + (now - last) * rate)
        if len(self._buckets) >= self._MAX_CLIENTS:
            self._buckets.pop(next(iter(self._buckets)))
        if tokens >= 1.0:
            self._buckets[client] = (tokens - 1.0, now)
            return 0.0
        self._buckets[client] = (tokens, now)
        return (1.0 - tokens) / rate

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or self._has_credential(scope):
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("", 0))[0]
        wait = self._take(client)
        if wait:
            response = error_response(429, "too many requests without a credential from this address; slow down",
                                      headers={"Retry-After": str(max(1, math.ceil(wait)))})
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
