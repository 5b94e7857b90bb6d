"""Attacks on the egress service that need no identity provider: cross-site request forgery against
the web UI's forms, and floods of requests that carry no credential (rate limit). The rate-limit
control is also switched off to show the same flood then goes through."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from egress_review.models import Comment, EgressAuditEvent, ReleaseRequest, Vote
from egress_review.policy import RateLimitPolicy
from egress_review.states import RequestState
from egress_review.web.session import SESSION_COOKIE, CookieBox, WebSession
from egress_review.web.settings import WebSettings
from tests.unit.egress.egress_factories import make_env

pytestmark = pytest.mark.unit

SESSION_SECRET = "csrf-test-session-secret-0123456789abcdef"


@pytest.fixture
def env(tmp_path: Path):
    e = make_env(tmp_path)
    yield e
    e.svc.close()


@pytest.fixture
def app(env):
    from egress_review.app import create_app

    application = create_app(env.settings)
    application.state.egress_web_settings = WebSettings(session_secret=SESSION_SECRET)
    yield application
    application.state.egress.close()


def _session_cookie(username: str, roles: list[str]) -> tuple[str, str]:
    """A logged-in browser's cookie, sealed exactly as the login callback seals it; returns it and
    the session's CSRF token (what the page would have embedded in its forms)."""
    now = time.time()
    s = WebSession(username=username, roles=roles, access_expires=now + 3600, refresh_token="unused",
                   refresh_expires=now + 7200, hard_expires=now + 7200)
    return CookieBox(SESSION_SECRET.encode()).seal_session(s), s.csrf


def _walk(routes, prefix: str = ""):
    """Every route with its full path; FastAPI keeps included routers as nested objects."""
    for r in routes:
        if hasattr(r, "original_router"):  # an included router (FastAPI >= 0.16x)
            yield from _walk(r.original_router.routes, prefix + (r.include_context.prefix or ""))
        elif isinstance(r, APIRoute):
            yield prefix + r.path, r.methods


def _web_form_routes(app) -> list[str]:
    return sorted({path for path, methods in _walk(app.routes) if "POST" in methods and not path.startswith("/api/")})


def _mutations(env) -> dict[str, int]:
    with env.svc.sessions() as s:
        out = {m.__name__: s.execute(select(func.count()).select_from(m)).scalar_one() for m in (Vote, Comment, EgressAuditEvent)}
        out["states"] = sorted(s.execute(select(ReleaseRequest.state)).scalars())
    return out


FORM = {"decision": "approve", "comment": "looks fine", "visibility": "shared", "action": "approve",
        "context": "changed", "controls": "changed", "text": "hello"}


def test_every_web_form_refuses_a_post_without_the_sessions_csrf_token(env, app):
    """A page on another site can make the browser POST with its cookies, but cannot read the CSRF
    token: every form route must refuse a missing or foreign token and change nothing."""
    req_id = env.make_request(RequestState.SUBMITTED)
    file_id = env.get(req_id).files[0].id
    chris, chris_csrf = _session_cookie("chris", ["output-checker"])
    _, other_csrf = _session_cookie("mallory", ["output-checker"])
    routes = _web_form_routes(app)
    assert len(routes) >= 8, routes  # vote, review, decide, comment, submit, withdraw, describe, withdraw file, logout
    before = _mutations(env)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        for path in routes:
            url = path.format(request_id=req_id, file_id=file_id)
            if path == "/logout":
                continue  # logging someone out is not a state change worth a token (and it only clears cookies)
            for token in (None, other_csrf, ""):
                data = dict(FORM, **({"csrf": token} if token is not None else {}))
                r = client.post(url, data=data, headers={"cookie": f"{SESSION_COOKIE}={chris}",
                                                         "origin": "https://evil.invalid"}, follow_redirects=False)
                assert r.status_code == 403, (url, token, r.status_code, r.text[:300])
    assert _mutations(env) == before
    # the control is the token and nothing else: the same vote with the session's token goes through
    with TestClient(app, base_url="http://127.0.0.1") as client:
        r = client.post(f"/requests/{req_id}/files/{file_id}/vote", data=dict(FORM, csrf=chris_csrf),
                        headers={"cookie": f"{SESSION_COOKIE}={chris}"}, follow_redirects=False)
    assert r.status_code in (200, 303), r.text[:500]
    assert _mutations(env)["Vote"] == before["Vote"] + 1


def test_session_cookie_is_httponly_samesite_and_not_readable(env, app):
    with TestClient(app, base_url="http://127.0.0.1") as client:
        r = client.get("/login", follow_redirects=False)
    cookies = [v for k, v in r.headers.multi_items() if k.lower() == "set-cookie"]
    assert cookies, r.headers
    for c in cookies:
        low = c.lower()
        assert "httponly" in low and "samesite=lax" in low and "secure" in low, c


def _flood(client, n: int) -> list[int]:
    return [client.get("/api/v1/release-key" if i % 2 else "/healthz").status_code for i in range(n)]


def test_credential_less_flood_is_rate_limited(env, app):
    app.state.egress.policy = app.state.egress.policy.model_copy(
        update={"rate_limits": RateLimitPolicy(anonymous_per_minute=60, anonymous_burst=20)})
    with TestClient(app) as client:
        codes = _flood(client, 60)
        assert codes[:20] == [200] * 20, codes
        assert codes.count(429) >= 35, codes
        r = client.get("/healthz")
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert r.json()["error"]["code"] == "too_many_requests"
        # a caller with a credential is not throttled by the anonymous flood
        from tests.unit.egress.egress_factories import project_token

        ok = client.get("/api/v1/requests", headers={"Authorization": f"Bearer {project_token('alice', 'alpha')}"})
        assert ok.status_code == 200


def test_control_removed_rate_limit_off_lets_the_flood_through(env, app):
    """Control disabled (the limit raised beyond the flood): the same 60 requests all succeed, so
    the test above fails when the rate limiter is removed."""
    app.state.egress.policy = app.state.egress.policy.model_copy(
        update={"rate_limits": RateLimitPolicy(anonymous_per_minute=10**9, anonymous_burst=10**9)})
    with TestClient(app) as client:
        assert _flood(client, 60) == [200] * 60
