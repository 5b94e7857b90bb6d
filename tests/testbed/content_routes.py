"""Every route of the egress app, and a probe that calls each one the way an outside researcher could,
looking for rows of a planted extract in the answers. Used by the unit test (in process) and by the
end-to-end test (a real service, a real sandbox, real Keycloak logins).

``CALLS`` names every (method, path) of the app with how to call it. A route the app has and ``CALLS``
does not is an error: whoever adds a route must say how it is called, and the probe then checks that
it gives nothing of a quarantined file to a researcher outside the sandbox.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from tests.unit.egress.egress_factories import ROUTE_BODIES

# Form fields every UI action accepts (the csrf token is added per session).
UI_FORM = {"decision": "approve", "comment": "x", "visibility": "shared", "text": "x", "action": "approve",
           "context": "x", "controls": "x", "quick": "approve"}

# What each route is, for the probe: "read" routes are called first (and again after the actions);
# "act" routes change things; "skip" routes are not called by the probe (the reason beside them).
READ, ACT, SKIP = "read", "act", "skip"
CALLS: dict[tuple[str, str], str] = {
    # API
    ("GET", "/api/v1/requests"): READ,
    ("GET", "/api/v1/requests/{request_id}"): READ,
    ("GET", "/api/v1/requests/{request_id}/files/{file_id}/content"): READ,
    ("GET", "/api/v1/requests/{request_id}/files/{file_id}/report"): READ,
    ("GET", "/api/v1/requests/{request_id}/files/{file_id}/suggestion"): READ,
    ("GET", "/api/v1/requests/{request_id}/suggestions"): READ,  # metadata: names, sizes, hashes
    ("GET", "/api/v1/releases"): READ,
    ("GET", "/api/v1/releases/{release_id}"): READ,
    ("GET", "/api/v1/releases/{release_id}/manifest"): READ,
    ("GET", "/api/v1/releases/{release_id}/files/{name}"): READ,
    ("GET", "/api/v1/releases/{release_id}/ro-crate"): READ,
    ("GET", "/api/v1/release-key"): READ,
    ("GET", "/api/v1/me"): READ,
    ("GET", "/api/v1/me/notifications"): READ,
    ("GET", "/api/v1/dp/budgets"): READ,
    ("GET", "/api/v1/dp/release"): READ,
    ("GET", "/api/v1/audit"): READ,
    ("GET", "/healthz"): READ,
    ("GET", "/metrics"): READ,
    ("GET", "/openapi.json"): READ,
    ("GET", "/docs"): READ,
    ("GET", "/docs/oauth2-redirect"): READ,
    ("GET", "/redoc"): READ,
    ("POST", "/api/v1/requests"): ACT,
    ("POST", "/api/v1/requests/{request_id}/files"): ACT,
    ("PATCH", "/api/v1/requests/{request_id}/files/{file_id}"): ACT,
    ("PUT", "/api/v1/requests/{request_id}/files/{file_id}/content"): ACT,
    ("POST", "/api/v1/requests/{request_id}/files/{file_id}/withdraw"): ACT,
    ("PUT", "/api/v1/requests/{request_id}/files/{file_id}/vote"): ACT,
    ("POST", "/api/v1/requests/{request_id}/comments"): ACT,
    ("POST", "/api/v1/requests/{request_id}/reviews"): ACT,
    ("POST", "/api/v1/requests/{request_id}/approve"): ACT,
    ("POST", "/api/v1/requests/{request_id}/return"): ACT,
    ("POST", "/api/v1/requests/{request_id}/reject"): ACT,
    ("POST", "/api/v1/requests/{request_id}/submit"): ACT,
    ("POST", "/api/v1/requests/{request_id}/withdraw"): ACT,
    ("PUT", "/api/v1/me/notifications"): ACT,
    ("POST", "/api/v1/dp/query"): ACT,  # noisy answers only, and only with the project token
    ("POST", "/api/v1/dp/release"): ACT,
    # UI
    ("GET", "/"): READ,
    ("GET", "/login"): READ,
    ("GET", "/auth/callback"): READ,
    ("GET", "/static/{name}"): READ,
    ("GET", "/my"): READ,
    ("GET", "/queue"): READ,
    ("GET", "/requests/{request_id}"): READ,
    ("GET", "/requests/{request_id}/files/{file_id}/raw"): READ,
    ("GET", "/releases/{release_id}"): READ,
    ("GET", "/releases/{release_id}/files/{name}"): READ,
    ("GET", "/releases/{release_id}/manifest.json"): READ,
    ("GET", "/admin/projects"): READ,
    ("GET", "/admin/audit"): READ,
    ("POST", "/requests/{request_id}/comment"): ACT,
    ("POST", "/requests/{request_id}/decide"): ACT,
    ("POST", "/requests/{request_id}/review"): ACT,
    ("POST", "/requests/{request_id}/submit"): ACT,
    ("POST", "/requests/{request_id}/withdraw"): ACT,
    ("POST", "/requests/{request_id}/files/{file_id}/describe"): ACT,
    ("POST", "/requests/{request_id}/files/{file_id}/vote"): ACT,
    ("POST", "/requests/{request_id}/files/{file_id}/quick"): ACT,
    ("POST", "/requests/{request_id}/files/{file_id}/withdraw"): ACT,
    ("POST", "/logout"): SKIP,  # ends the session the probe runs in; answers a redirect, no content
}


def app_routes(app) -> set[tuple[str, str]]:
    """Every (method, path) the app answers, API and UI, read from the app itself (HEAD left out: it
    is GET without a body)."""

    def walk(routes: Iterable[Any]):
        for r in routes:
            nested = getattr(r, "effective_candidates", None)  # FastAPI's included routers
            if callable(nested):
                yield from walk(nested())
                continue
            nested = getattr(r, "routes", None)  # a mounted sub-application
            if nested is not None and not getattr(r, "methods", None):
                yield from ((m, getattr(r, "path", "") + p) for m, p in walk(nested))
                continue
            for m in getattr(r, "methods", None) or {"?"}:
                if m != "HEAD":
                    yield m, r.path

    return set(walk(app.routes))


def unclassified(app) -> set[tuple[str, str]]:
    return app_routes(app) - set(CALLS)


@dataclass
class Answer:
    who: str
    method: str
    url: str
    status: int
    body: str


def _bodies(method: str, path: str, csrf: str | None) -> dict[str, Any]:
    if path.startswith("/api/"):
        extra = dict(ROUTE_BODIES.get((method, path), {}))
        if method in ("POST", "PUT", "PATCH") and not extra:
            extra = {"json": {}}
        return extra
    if method == "POST":
        return {"data": {**UI_FORM, "csrf": csrf or ""}}
    return {}


def probe(request: Callable[..., Any], who: str, targets: list[tuple[str, list[str]]], *,
          headers: dict[str, str] | None = None, csrf: str | None = None, kinds: tuple[str, ...] = (READ,),
          release_id: str = "0" * 32, name: str = "rows.csv") -> list[Answer]:
    """Call every route of ``CALLS`` of the given kinds on each (request id, file ids) of ``targets``;
    ``request(method, url, headers=..., **body)`` is a TestClient's or an httpx client's ``request``."""
    answers = []
    for (method, path), kind in CALLS.items():
        if kind not in kinds:
            continue
        for request_id, file_ids in targets:
            for file_id in (file_ids if "{file_id}" in path else file_ids[:1]):
                url = path.format(request_id=request_id, file_id=file_id, release_id=release_id, name="app.css"
                                  if path == "/static/{name}" else name)
                extra = _bodies(method, path, csrf)
                hdrs = {**(headers or {}), **extra.pop("headers", {})}
                r = request(method, url, headers=hdrs, **extra)
                answers.append(Answer(who, method, url, r.status_code, r.content.decode("utf-8", "replace")
                                      + "\n" + "\n".join(f"{k}: {v}" for k, v in r.headers.items())))
    return answers


# ----------------------------------------------------------------------------------- the planted file

PSEUDONYM = re.compile(r"PSN[0-9a-f]{12}")


def planted_extract(rows: int = 400) -> tuple[bytes, set[str]]:
    """A sick-leave extract whose every row carries a pseudonym found nowhere else: any answer that
    holds one of them carries a row of the file."""
    pseudonyms = [f"PSN{secrets.token_hex(6)}" for _ in range(rows)]
    lines = ["employee_pseudonym,district,diagnosis_group,days"]
    for i, p in enumerate(pseudonyms):
        lines.append(f"{p},{('Grefsen', 'Sagene', 'Frogner')[i % 3]},{('F32', 'M54', 'J06', 'R51')[i % 4]},{3 + i % 40}")
    return ("\n".join(lines) + "\n").encode(), set(pseudonyms)


def leaks(answers: list[Answer], pseudonyms: set[str]) -> list[str]:
    """Every answer that holds a row of the planted file, as ``who METHOD url -> status (n rows)``."""
    out = []
    for a in answers:
        found = set(PSEUDONYM.findall(a.body)) & pseudonyms
        if found:
            out.append(f"{a.who} {a.method} {a.url} -> {a.status} ({len(found)} rows)")
    return out
