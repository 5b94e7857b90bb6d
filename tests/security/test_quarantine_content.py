"""Reading a file under review from outside the sandbox (issue 13.1), in the security suite: the attack
on every route holds (tests/unit/egress/test_egress_content_access.py and, with a real sandbox and real
Keycloak logins, tests/e2e/hub/test_content_from_outside.py); here the control is switched off and the
same probe then finds the planted rows, so those tests fail when the control is removed."""

from __future__ import annotations

import pytest

from egress_review import permissions
from tests.testbed.content_routes import READ, leaks
from tests.unit.egress.test_egress_content_access import _as_keycloak, planted  # noqa: F401 - fixture

pytestmark = pytest.mark.unit


def test_control_removed_a_keycloak_login_reads_the_planted_extract(planted, monkeypatch):  # noqa: F811
    """Control disabled: "may read content" answered as before issue 13 (the requester, whatever
    proved who they are, and the reviewing checkers). The researcher's Keycloak login then gets the
    extract through the request page, /raw, the request detail and /content."""
    _, client, targets, pseudonyms = planted

    def before_issue_13(session, p, req, policy):
        return permissions.can_edit_request(session, p, req) or permissions.can_review(session, p, req, policy)

    monkeypatch.setattr(permissions, "may_read_content", before_issue_13)
    found = leaks(_as_keycloak(client, "kc-alice", targets, (READ,)), pseudonyms)
    for route in ("/raw", "/content", "GET /api/v1/requests/"):
        assert any(route in x for x in found), (route, found)
