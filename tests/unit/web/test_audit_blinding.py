"""Blinding holds in the audit views: an administrator who is also an output checker cannot read
another checker's live vote (``file.vote`` decisions) through ``/admin/audit`` or ``/api/v1/audit``
before the reviews are in; afterwards, and for an administrator who does not check, it is there."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from egress_review.api.deps import get_principal
from egress_review.identity.principal import Principal, Role, Via
from egress_review.states import RequestState, VoteDecision
from tests.unit.web.test_web_ui import _client, _login, env  # noqa: F401 - fixture

pytestmark = pytest.mark.unit


def _votes_in_api(client: TestClient, roles: frozenset[Role]) -> list[dict]:
    client.app.dependency_overrides[get_principal] = lambda: Principal("anne", roles, None, Via.KEYCLOAK)
    try:
        r = client.get("/api/v1/audit", params={"page_size": 100})
    finally:
        client.app.dependency_overrides.clear()
    assert r.status_code == 200, r.text
    return [e["detail"] for e in r.json()["events"]["items"] if e["action"] == "file.vote"]


def test_admin_who_checks_cannot_read_live_votes_in_the_audit_views(env):  # noqa: F811
    req = env.make_request(RequestState.SUBMITTED)
    env.vote_all(req, "chris", VoteDecision.CHANGES_REQUESTED, "the 7 in Sagene is too small")
    both = frozenset({Role.ADMIN, Role.CHECKER})
    with _client(env) as c:
        live = _votes_in_api(c, both)
        assert live and all(d["decision"] != "changes_requested" for d in live), live
        _login(c, "anne", ["admin", "output-checker"])
        page = c.get("/admin/audit").text
        assert "file.vote" in page and "changes_requested" not in page

        # an administrator who never checks reads the audit log whole
        assert [d["decision"] for d in _votes_in_api(c, frozenset({Role.ADMIN}))] == ["changes_requested"]

    env.vote_all(req, "cora", VoteDecision.APPROVE)
    from egress_review import review
    from tests.unit.egress.egress_factories import checker

    for name in ("chris", "cora"):
        env.act(lambda s, r, n=name: review.submit_review(s, env.svc.audit, env.svc.policy, checker(n), r), req)
    assert env.get(req).state == RequestState.REVIEWED
    with _client(env) as c:  # blinding over: the same viewer now reads every decision
        decisions = sorted(d["decision"] for d in _votes_in_api(c, both))
        assert decisions == ["approve", "changes_requested"], decisions
        _login(c, "anne", ["admin", "output-checker"])
        assert "changes_requested" in c.get("/admin/audit").text
