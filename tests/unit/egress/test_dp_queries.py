"""DP queries through the API with a project token: the answer is computed beside the data in a
worker process, over the catalogue's declared domain, paid from the ledger with an audit event;
a query the budget cannot pay is refused and changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from egress_review.models import EgressAuditEvent
from tests.unit.egress.dp_fixtures import add_dp_dataset
from tests.unit.egress.egress_factories import app_client, make_env, project_token

DIAGNOSES_DECLARED = 10  # policies/dp-catalogue.yaml; the test data has three of them


@pytest.fixture
def dp_client(tmp_path, monkeypatch):
    monkeypatch.setenv("SANDKASSE_VAR_DIR", str(tmp_path / "var"))
    from sandkasse.settings import get_settings

    get_settings.cache_clear()
    env = make_env(tmp_path)
    add_dp_dataset(env.settings.effective_database_url, tmp_path, total=1.0)
    with app_client(env.settings) as c:
        yield c, env
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


def _export(c, headers, table: bytes, sidecar: dict) -> str:
    import uuid

    req = c.post("/api/v1/requests", headers={**headers, "Idempotency-Key": uuid.uuid4().hex}, json={"title": "dp"}).json()
    f = c.post(f"/api/v1/requests/{req['id']}/files", headers=headers, json={
        "name": "dp.csv", "kind": "output", "context": "DP histogram", "controls": "differential privacy",
        "sidecar": sidecar}).json()
    r = c.put(f"/api/v1/requests/{req['id']}/files/{f['id']}/content", content=table,
              headers={**headers, "Content-Type": "application/octet-stream"})
    assert r.status_code < 300, r.text
    return f["id"]


def _guarantee(env, file_id: str) -> dict | None:
    from egress_review.dp_service.guarantee import guarantee_of
    from egress_review.models import RequestFile

    with env.svc.sessions() as s:
        v = s.get(RequestFile, file_id).current_version
        return guarantee_of(s, env.svc.store, "alpha", v)


def test_exported_dp_table_shows_its_audited_guarantee_to_checkers(dp_client, tmp_path):
    import json

    from egress_review.dp import DPAnswer

    c, env = dp_client
    r = c.post("/api/v1/dp/query", headers=_auth(), json={
        "dataset": "sick-leave", "kind": "histogram", "columns": ["gender"], "epsilon": 0.2, "max_rows": 2})
    table, sidecar = DPAnswer(r.json()).export(tmp_path / "dp.csv")
    claim = json.loads(sidecar.read_text())

    g = _guarantee(env, _export(c, _auth(), table.read_bytes(), claim))
    assert g["verified"] and (g["measure"], g["amount"], g["max_rows"], g["by"]) == ("epsilon", 0.2, 2, "alice")

    # the same claim on a table whose numbers were changed afterwards
    rows = table.read_text().splitlines()
    cells = rows[1].split(",")
    cells[1] = str(int(cells[1]) + 1)
    forged = "\n".join([rows[0], ",".join(cells), *rows[2:]]) + "\n"
    g = _guarantee(env, _export(c, _auth(), forged.encode(), claim))
    assert not g["verified"] and "differ" in g["why"]

    # a claim naming a query the log does not have (or another project's)
    g = _guarantee(env, _export(c, _auth(), table.read_bytes(), {"dp": {**claim["dp"], "query_id": "f" * 32}}))
    assert not g["verified"] and "audit log" in g["why"]


def test_the_checkers_request_page_shows_the_guarantee(dp_client, tmp_path):
    from egress_review.dp import DPAnswer
    from tests.unit.web.test_web_ui import _client, _login

    c, env = dp_client
    r = c.post("/api/v1/dp/query", headers=_auth(), json={
        "dataset": "sick-leave", "kind": "histogram", "columns": ["gender"], "epsilon": 0.2, "max_rows": 2})
    table, sidecar = DPAnswer(r.json()).export(tmp_path / "dp.csv")
    import json

    file_id = _export(c, _auth(), table.read_bytes(), json.loads(sidecar.read_text()))
    from egress_review.models import RequestFile

    with env.svc.sessions() as s:
        req_id = s.get(RequestFile, file_id).request_id
    assert c.post(f"/api/v1/requests/{req_id}/submit", headers=_auth()).status_code == 200
    with _client(env) as web:
        _login(web, "chris", ["output-checker"])
        page = web.get(f"/requests/{req_id}").text
    assert 'class="dp-verified"' in page and "epsilon=0.2" in page and "at most 2 rows" in page


def test_released_dp_table_carries_its_guarantee_in_the_signed_manifest(dp_client, tmp_path):
    import json

    from egress_review import review
    from egress_review.dp import DPAnswer
    from egress_review.models import Release, RequestFile
    from egress_review.release.release import release
    from egress_review.states import VoteDecision
    from tests.unit.egress.egress_factories import checker, wait_checked

    c, env = dp_client
    r = c.post("/api/v1/dp/query", headers=_auth(), json={
        "dataset": "sick-leave", "kind": "histogram", "columns": ["gender"], "epsilon": 0.2, "max_rows": 2})
    table, sidecar = DPAnswer(r.json()).export(tmp_path / "dp.csv")
    file_id = _export(c, _auth(), table.read_bytes(), json.loads(sidecar.read_text()))
    with env.svc.sessions() as s:
        req_id = s.get(RequestFile, file_id).request_id
    assert c.post(f"/api/v1/requests/{req_id}/submit", headers=_auth()).status_code == 200
    wait_checked(c, _auth(), req_id)
    for name in ("chris", "cora"):
        env.vote_all(req_id, name, VoteDecision.APPROVE)
        env.act(lambda s, q, n=name: review.submit_review(s, env.svc.audit, env.svc.policy, checker(n), q), req_id)
    env.act(lambda s, q: review.approve(s, env.svc.audit, env.svc.policy, checker("chris"), q), req_id)
    env.act(lambda s, q: release(s, env.svc.audit, env.svc.store, env.svc.signer, env.svc.release_dir, q), req_id)
    with env.svc.sessions() as s:
        rel = s.query(Release).filter_by(request_id=req_id).one()
        manifest = json.loads(rel.manifest)
    dp = manifest["files"][0]["dp"]
    assert (dp["measure"], dp["amount"], dp["mechanism"], dp["max_rows"]) == ("epsilon", 0.2, "discrete Laplace", 2)
    from egress_review.release.signing import verify_document

    assert verify_document({"manifest": manifest, "signature": rel.signature}, env.svc.signer.public)["files"][0]["dp"] == dp


def test_admin_sees_every_budget_on_the_projects_page_and_checkers_through_the_api(dp_client):
    from egress_review.dp_service.queries import budgets_for
    from tests.unit.egress.egress_factories import admin, checker
    from tests.unit.web.test_web_ui import _client, _login

    c, env = dp_client
    assert c.post("/api/v1/dp/query", headers=_auth(), json={"dataset": "sick-leave", "kind": "count", "epsilon": 0.25}).status_code == 200
    for who in (checker("chris"), admin()):
        (b,) = budgets_for(env.svc, who, None)
        assert (b["project"], b["spent"], b["total"]) == ("alpha", 0.25, 1.0)
    with _client(env) as web:
        _login(web, "root", ["admin"])
        page = web.get("/admin/projects").text
    assert 'id="dp-budgets"' in page and "epsilon 0.25 of 1 (0.75 left)" in page


def test_dp_answers_are_released_without_review_only_when_the_policy_says_so(dp_client):
    import hashlib
    import json

    from egress_review.policy import DPPolicy
    from egress_review.release.signing import verify_document

    c, env = dp_client
    q = c.post("/api/v1/dp/query", headers=_auth(), json={
        "dataset": "sick-leave", "kind": "histogram", "columns": ["gender"], "epsilon": 0.2, "max_rows": 2}).json()
    # the shipped policy: review by checkers, no release on request
    r = c.post("/api/v1/dp/release", headers=_auth(), json={"query_id": q["query_id"]})
    assert r.status_code == 403 and "request_export" in r.json()["error"]["message"]

    svc = c.app.state.egress
    svc.policy = svc.policy.model_copy(update={"dp": DPPolicy(answers="release")})
    assert c.post("/api/v1/dp/release", headers=_auth("anna"), json={"query_id": q["query_id"]}).status_code == 403
    r = c.post("/api/v1/dp/release", headers=_auth(), json={"query_id": q["query_id"]})
    assert r.status_code == 200, r.text
    out = r.json()
    manifest = verify_document(out["document"], svc.signer.public)
    assert (manifest["measure"], manifest["epsilon"], manifest["mechanism"], manifest["max_rows"]) == (
        "epsilon", 0.2, "discrete Laplace", 2)
    assert manifest["files"][0]["sha256"] == hashlib.sha256(out["table"].encode()).hexdigest()
    # the table is the noisy answer the researcher got, rebuilt by the service
    import csv

    rows = list(csv.DictReader(out["table"].splitlines()))
    assert [(r["gender"], int(r["value"])) for r in rows] == [(cell["gender"], cell["value"]) for cell in q["cells"]]
    again = c.get("/api/v1/dp/release", headers=_auth("anna"), params={"query_id": q["query_id"]}).json()
    assert again["document"] == out["document"]
    assert c.get("/api/v1/dp/release", headers=_auth("bob", "beta"),
                 params={"query_id": q["query_id"], "project": "alpha"}).status_code == 404
    with env.svc.read_sessions() as s:
        assert s.execute(select(func.count()).select_from(EgressAuditEvent)
                         .where(EgressAuditEvent.action == "dp.released")).scalar_one() == 1
    assert json.loads(json.dumps(manifest))["review"].startswith("none")
