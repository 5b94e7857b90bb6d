"""The API as a contract: one error body everywhere, OpenAPI with error models, pages and filters,
and Prometheus metrics."""

from __future__ import annotations

import pytest

from egress_review.states import RequestState
from tests.unit.egress.egress_factories import project_token

pytestmark = pytest.mark.unit


def _h(user="alice", project="alpha"):
    return {"Authorization": f"Bearer {project_token(user, project)}"}


def test_openapi_documents_the_error_model_on_every_operation(client):
    spec = client.get("/openapi.json").json()
    assert "ErrorBody" in spec["components"]["schemas"]
    for path, ops in spec["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, op in ops.items():
            assert "404" in op["responses"] and "401" in op["responses"], f"{method} {path}"
            assert op["responses"]["404"]["content"]["application/json"]["schema"]["$ref"].endswith("ErrorBody")


@pytest.mark.parametrize("method,url,status", [
    ("GET", "/api/v1/requests/doesnotexist", 404),
    ("DELETE", "/api/v1/requests", 405),
    ("GET", "/api/v1/nothing-here", 404),
    ("GET", "/api/v1/requests?page=0", 422),
    ("GET", "/api/v1/requests?state=bogus", 422),
])
def test_uniform_error_bodies(client, method, url, status):
    r = client.request(method, url, headers=_h())
    assert r.status_code == status
    assert set(r.json()) == {"error"} and set(r.json()["error"]) == {"code", "message", "detail"}


def test_pagination_and_filters(env, client):
    ids = [env.make_request(RequestState.DRAFT) for _ in range(5)]
    submitted = env.make_request(RequestState.SUBMITTED)
    page1 = client.get("/api/v1/requests", params={"page_size": 2}, headers=_h()).json()
    page3 = client.get("/api/v1/requests", params={"page_size": 2, "page": 3}, headers=_h()).json()
    assert page1["total"] == 6 and len(page1["items"]) == 2 and len(page3["items"]) == 2
    assert {i["id"] for i in page1["items"]}.isdisjoint({i["id"] for i in page3["items"]})
    only = client.get("/api/v1/requests", params={"state": "submitted"}, headers=_h()).json()
    assert [i["id"] for i in only["items"]] == [submitted]
    assert client.get("/api/v1/requests", params={"older_than_hours": 1}, headers=_h()).json()["total"] == 0
    assert client.get("/api/v1/requests", params={"newer_than_hours": 1}, headers=_h()).json()["total"] == 6
    assert client.get("/api/v1/requests", params={"project": "beta"}, headers=_h()).json()["total"] == 0
    capped = client.get("/api/v1/requests", params={"page_size": 10_000}, headers=_h()).json()
    assert capped["page_size"] == env.svc.policy.api.page_size_max
    assert set(ids) <= {i["id"] for i in capped["items"]}


def test_request_detail_shows_owner_and_allowed_actions(env, client):
    rid = env.make_request(RequestState.DRAFT)
    d = client.get(f"/api/v1/requests/{rid}", headers=_h()).json()
    assert d["owner"] == "researcher" and set(d["allowed_actions"]) == {"submit", "withdraw"}
    assert d["files"][0]["current_version"]["check_report"]["verdict"] == d["files"][0]["current_version"]["verdict"]


def test_full_report_is_its_own_audited_endpoint(env, client):
    """Per-cell outcomes are left out of the request's detail and read from the report endpoint."""
    from sqlalchemy import select

    from egress_review.models import EgressAuditEvent

    rid = env.make_request(RequestState.DRAFT, files={"small.csv": b"district,days\nGrefsen,3\nSagene,340\n"})
    d = client.get(f"/api/v1/requests/{rid}", headers=_h()).json()
    f = d["files"][0]
    assert "cell_outcome" not in f["current_version"]["check_report"]
    r = client.get(f"/api/v1/requests/{rid}/files/{f['id']}/report", headers=_h())
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["verdict"] == f["current_version"]["verdict"] and report["cell_outcome"][0][0] == "threshold"
    assert client.get(f"/api/v1/requests/{rid}/files/{f['id']}/report", params={"version": 9}, headers=_h()).status_code == 404
    with env.svc.sessions() as s:
        events = s.execute(select(EgressAuditEvent).where(EgressAuditEvent.action == "file.report_read")).scalars().all()
    assert [e.actor for e in events] == ["alice"]


def test_metrics_report_queue_length(env, client):
    env.make_request(RequestState.SUBMITTED)
    env.make_request(RequestState.REVIEWED)
    env.make_request(RequestState.DRAFT)
    text = client.get("/metrics").text
    assert "sandkasse_egress_queue_length 2.0" in text
    assert 'sandkasse_egress_requests{state="draft"} 1.0' in text
    assert "sandkasse_egress_time_to_decision_seconds" in text


def test_health(client):
    assert client.get("/healthz").text == "ok"
