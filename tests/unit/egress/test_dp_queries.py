"""DP queries through the API with a project token: the answer is computed beside the data in a
worker process, over the catalogue's declared domain, paid from the ledger with an audit event;
a query the budget cannot pay is refused and changes nothing."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from egress_review.models import EgressAuditEvent
from tests.unit.egress.dp_fixtures import add_dp_dataset
from tests.unit.egress.egress_factories import make_env, project_token

DIAGNOSES_DECLARED = 10  # policies/dp-catalogue.yaml; the test data has three of them


@pytest.fixture
def dp_client(tmp_path, monkeypatch):
    monkeypatch.setenv("SANDKASSE_VAR_DIR", str(tmp_path / "var"))
    from sandkasse.settings import get_settings

    get_settings.cache_clear()
    env = make_env(tmp_path)
    add_dp_dataset(env.settings.effective_database_url, tmp_path, total=1.0)
    from egress_review.app import create_app

    app = create_app(env.settings)
    with TestClient(app) as c:
        yield c, env
    app.state.egress.close()
    env.svc.close()


def _auth(user: str = "alice", project: str = "alpha") -> dict[str, str]:
    return {"Authorization": f"Bearer {project_token(user, project)}"}


def _audited(env) -> int:
    with env.svc.read_sessions() as s:
        return s.execute(select(func.count()).select_from(EgressAuditEvent).where(EgressAuditEvent.action == "dp.query")).scalar_one()


def _budget(c, headers) -> dict:
    r = c.get("/api/v1/dp/budgets", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["items"][0]


def test_histogram_over_declared_domain_spends_and_audits(dp_client):
    c, env = dp_client
    r = c.post("/api/v1/dp/query", headers=_auth(), json={
        "dataset": "sick-leave", "kind": "histogram", "columns": ["diagnosis_group"], "epsilon": 0.05, "max_rows": 1})
    assert r.status_code == 200, r.text
    out = r.json()
    assert len(out["cells"]) == DIAGNOSES_DECLARED  # every declared cell, present in the data or not
    assert out["mechanism"] == "discrete Laplace" and out["scale"] == pytest.approx(1 / 0.05)
    assert all(cell["low"] < cell["value"] < cell["high"] for cell in out["cells"])
    # noise of scale 20 on ten cells: the seven absent categories are not all exactly 0
    assert any(cell["value"] != 0 for cell in out["cells"][3:])
    assert out["budget"]["spent"] == pytest.approx(0.05)
    assert _budget(c, _auth())["remaining"] == pytest.approx(0.95)
    assert _audited(env) == 1


def test_query_beyond_the_budget_is_refused_and_changes_nothing(dp_client):
    c, env = dp_client
    r = c.post("/api/v1/dp/query", headers=_auth(), json={"dataset": "sick-leave", "kind": "count", "epsilon": 0.6})
    assert r.status_code == 200, r.text
    before = _budget(c, _auth())
    r = c.post("/api/v1/dp/query", headers=_auth(), json={"dataset": "sick-leave", "kind": "count", "epsilon": 0.6})
    assert r.status_code == 409
    assert "privacy budget spent" in r.json()["error"]["message"]
    assert _budget(c, _auth()) == before
    assert _audited(env) == 1


def test_column_without_declared_domain_is_refused(dp_client):
    c, env = dp_client
    r = c.post("/api/v1/dp/query", headers=_auth(), json={
        "dataset": "sick-leave", "kind": "histogram", "columns": ["days"], "epsilon": 0.1})
    assert r.status_code == 422 and "category domain" in r.json()["error"]["message"]
    assert _budget(c, _auth())["spent"] == 0 and _audited(env) == 0


def test_budget_visible_to_own_project_only(dp_client):
    c, _ = dp_client
    assert _budget(c, _auth())["project"] == "alpha"
    assert c.get("/api/v1/dp/budgets", headers=_auth("bob", "beta")).json()["items"] == []
    assert c.get("/api/v1/dp/budgets?project=alpha", headers=_auth("bob", "beta")).status_code == 403
    r = c.post("/api/v1/dp/query", headers=_auth("bob", "beta"), json={"dataset": "sick-leave", "kind": "count", "epsilon": 0.1})
    assert r.status_code == 403  # beta has no budget (and no grant) on the dataset
