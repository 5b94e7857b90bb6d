import pytest

from egress_review.states import RequestState
from tests.unit.egress.egress_factories import SAFE_CSV, project_token, wait_checked

pytestmark = pytest.mark.unit


def test_researcher_submits_through_the_api(client):
    h = {"Authorization": f"Bearer {project_token('alice', 'alpha')}"}
    r = client.post("/api/v1/requests", json={"title": "first"}, headers=h)
    assert r.status_code == 201, r.text
    req = r.json()
    assert req["state"] == "draft" and req["project"] == "alpha" and req["requester"] == "alice"
    f = client.post(f"/api/v1/requests/{req['id']}/files", json={"name": "t.csv", "context": "c", "controls": "k"}, headers=h)
    assert f.status_code == 201, f.text
    up = client.put(f"/api/v1/requests/{req['id']}/files/{f.json()['id']}/content", content=SAFE_CSV.encode(),
                    headers={**h, "Content-Type": "application/octet-stream"})
    assert up.status_code == 200, up.text
    assert up.json()["version"]["verdict"] == "pending"  # stored at once; the checks follow
    s = client.post(f"/api/v1/requests/{req['id']}/submit", headers=h)
    assert s.status_code == 200, s.text
    assert s.json()["state"] == "submitted"
    checked = wait_checked(client, h, req["id"])
    assert checked["files"][0]["current_version"]["verdict"] in ("pass", "review", "fail")


@pytest.mark.parametrize("state", list(RequestState))
def test_factory_reaches_every_state(env, state):
    req_id = env.make_request(state)
    assert env.get(req_id).state == state.value
