"""A researcher of project beta can neither see, submit to, nor download from project alpha: probed
on every API route (the route list is read from the app, so a new route is covered automatically)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from egress_review.models import EgressAuditEvent, FileVersion, Release, ReleaseRequest, RequestFile, Vote
from egress_review.states import RequestState
from tests.unit.egress.egress_factories import ROUTE_BODIES, api_routes, probe_routes, project_token

pytestmark = pytest.mark.unit

# Routes about no particular object: what they return is checked for leaks instead.
COLLECTIONS = {("GET", "/api/v1/requests"), ("GET", "/api/v1/releases"), ("GET", "/api/v1/me"),
               ("GET", "/api/v1/release-key"), ("POST", "/api/v1/requests"), ("GET", "/api/v1/audit"),
               # the caller's own notification preference, nothing of any project
               ("GET", "/api/v1/me/notifications"), ("PUT", "/api/v1/me/notifications"),
               ("GET", "/api/v1/dp/budgets")}


def _snapshot(env):
    with env.svc.sessions() as s:
        counts = {m.__name__: s.execute(select(func.count()).select_from(m)).scalar_one()
                  for m in (ReleaseRequest, RequestFile, FileVersion, Vote, Release)}
        states = dict(s.execute(select(ReleaseRequest.id, ReleaseRequest.state)).all())
    return counts, states


@pytest.fixture
def alpha_objects(env):
    """One alpha request in each interesting state, and a release."""
    objs = {state: env.make_request(state) for state in
            (RequestState.DRAFT, RequestState.SUBMITTED, RequestState.REVIEWED, RequestState.RETURNED, RequestState.RELEASED)}
    return objs


def test_every_route_is_known_to_the_probe(client):
    for method, path in api_routes(client.app):
        if method in ("POST", "PUT", "PATCH") and (method, path) not in COLLECTIONS:
            needs_body = path.endswith(("/files", "/vote", "/comments", "/approve", "/return", "/reject", "/content")) \
                or method == "PATCH"
            assert not needs_body or (method, path) in ROUTE_BODIES, f"add a valid body for {method} {path}"


@pytest.mark.parametrize("state", ["draft", "submitted", "reviewed", "returned", "released"])
def test_researcher_of_beta_is_refused_on_every_alpha_object(env, client, alpha_objects, state):
    req_id = alpha_objects[RequestState(state)]
    req = env.get(req_id)
    from egress_review.models import Release as R

    with env.svc.sessions() as s:
        rel = s.execute(select(R.id).where(R.request_id == req_id)).scalar_one_or_none()
    ids = {"request_id": req_id, "file_id": req.files[0].id, "release_id": rel or "nope", "name": "table.csv"}
    before = _snapshot(env)
    with env.svc.sessions() as s:
        events_before = s.execute(select(func.count()).select_from(EgressAuditEvent)).scalar_one()
    bob = {"Authorization": f"Bearer {project_token('bob', 'beta')}"}
    for method, path, status, text in probe_routes(client, bob, ids):
        if (method, path) in COLLECTIONS:
            assert req_id not in text, f"{method} {path} leaks alpha's request to bob"
            if rel:
                assert rel not in text
            continue
        assert status in (403, 404), f"{method} {path} answered {status} to bob: {text[:200]}"
        assert req.files[0].name not in text or status == 404 and "table.csv" in path
    counts, states = _snapshot(env)
    bob_requests = counts["ReleaseRequest"] - before[0]["ReleaseRequest"]
    assert bob_requests <= 1  # POST /requests creates bob's own draft in beta, nothing in alpha
    assert {k: v for k, v in states.items() if k in before[1]} == before[1]
    with env.svc.sessions() as s:
        new_events = list(s.execute(select(EgressAuditEvent).where(EgressAuditEvent.seq > events_before)).scalars())
    assert all(e.object_id != req_id for e in new_events)


def test_project_token_cannot_be_pointed_at_another_project(env, client, alpha_objects):
    """Bob's token is for beta; the project comes from the token, never from the client."""
    bob = {"Authorization": f"Bearer {project_token('bob', 'beta')}"}
    r = client.post("/api/v1/requests", json={"title": "x"}, headers=bob)
    assert r.status_code == 201 and r.json()["project"] == "beta"
    assert client.post("/api/v1/requests", json={"project": "alpha"}, headers=bob).status_code == 422
    listing = client.get("/api/v1/requests", params={"project": "alpha"}, headers=bob).json()
    assert listing["total"] == 0


def test_member_of_the_same_project_sees_but_cannot_change(env, client, alpha_objects):
    req_id = alpha_objects[RequestState.DRAFT]
    anna = {"Authorization": f"Bearer {project_token('anna', 'alpha')}"}
    assert client.get(f"/api/v1/requests/{req_id}", headers=anna).status_code == 200
    assert client.post(f"/api/v1/requests/{req_id}/submit", headers=anna).status_code == 403
    assert client.post(f"/api/v1/requests/{req_id}/withdraw", headers=anna).status_code == 403
