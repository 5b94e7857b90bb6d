"""Forwarded headers are believed from the configured proxy only. A sandbox talks to the egress
service directly (on its network's gateway); if it could set ``X-Forwarded-For`` it would choose the
audit log's source address and reset its rate limit with a fresh address per request."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from egress_review.models import EgressAuditEvent
from egress_review.policy import RateLimitPolicy
from tests.unit.egress.egress_factories import app_client, project_token

pytestmark = pytest.mark.unit

SANDBOX = ("172.30.0.7", 41000)  # a notebook container on a project network
PROXY = ("127.0.0.1", 52000)  # the TLS proxy of docker-compose.yml (host network)
REPO = Path(__file__).resolve().parents[3]


def _client(env, peer: tuple[str, int], trusted: str | None = None) -> AbstractContextManager[TestClient]:
    settings = env.settings if trusted is None else env.settings.model_copy(update={"trusted_proxies": trusted})
    return app_client(settings, client=peer)


def _created_from(client: TestClient, forged: str) -> str:
    headers = {"Authorization": f"Bearer {project_token('alice', 'alpha')}", "X-Forwarded-For": forged}
    r = client.post("/api/v1/requests", json={"title": "t"}, headers=headers)
    assert r.status_code == 201, r.text
    svc = client.app.state.egress
    with svc.read_sessions() as s:
        event = s.execute(select(EgressAuditEvent).where(EgressAuditEvent.action == "request.create",
                                                         EgressAuditEvent.object_id == r.json()["id"])).scalar_one()
        return event.source


def _flood(client: TestClient, n: int) -> list[int]:
    # a new forged address on every request: if it were believed, every request would get a fresh bucket
    return [client.get("/healthz", headers={"X-Forwarded-For": f"10.66.{i // 250}.{i % 250}"}).status_code for i in range(n)]


def _tight(client: TestClient) -> None:
    client.app.state.egress.policy = client.app.state.egress.policy.model_copy(
        update={"rate_limits": RateLimitPolicy(anonymous_per_minute=60, anonymous_burst=10)})


def test_a_sandbox_cannot_forge_its_audit_source_or_dodge_the_rate_limit(env):
    with _client(env, SANDBOX) as client:
        assert _created_from(client, "203.0.113.9") == SANDBOX[0]
        _tight(client)
        codes = _flood(client, 30)
        assert codes[:10] == [200] * 10 and codes.count(429) >= 15, codes


def test_the_configured_proxy_is_believed(env):
    with _client(env, PROXY) as client:
        # nginx appends the peer it saw ($proxy_add_x_forwarded_for); the last untrusted hop counts
        assert _created_from(client, "198.51.100.4, 203.0.113.9") == "203.0.113.9"


def test_control_removed_trusting_everyone_lets_the_sandbox_forge_both(env):
    """``--forwarded-allow-ips '*'`` as before: the forged address lands in the audit log and every
    forged address gets its own bucket, so the tests above fail without the control."""
    with _client(env, SANDBOX, trusted="*") as client:
        assert _created_from(client, "203.0.113.9") == "203.0.113.9"
        _tight(client)
        assert _flood(client, 30) == [200] * 30


def test_the_servers_leave_the_decision_to_the_app():
    """uvicorn's own proxy-header handling would run before the app: both launchers switch it off."""
    script = (REPO / "images" / "egress" / "sandkasse-egress.sh").read_text()
    assert "--no-proxy-headers" in script and "forwarded-allow-ips" not in script
    assert "--no-proxy-headers" in (REPO / "egress_review" / "run.py").read_text()
    from egress_review.settings import EgressSettings

    assert EgressSettings.model_fields["trusted_proxies"].default == "127.0.0.1"
