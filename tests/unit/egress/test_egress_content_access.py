"""Where quarantined content may be read (issue 13.1): a researcher reads back a file under review only
from inside the project's sandbox (project token); through a Keycloak login or bearer token, from
anywhere, they see metadata only. Every route of the app is probed, read from the app itself.

Keycloak is not reached in unit tests: the service's token validator is replaced by one that maps a
token to a Keycloak principal (what the real validator returns after checking the signature); the
web sessions are sealed with the service's cookie box as the login callback does. The end-to-end test
with a real sandbox and real Keycloak logins is tests/e2e/hub/test_content_from_outside.py.
"""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from egress_review import permissions, quick_review, review, submission
from egress_review.identity.principal import AuthError, Principal, Role, Via
from egress_review.states import FileKind, Visibility
from egress_review.web.session import SESSION_COOKIE, CookieBox, WebSession
from egress_review.web.settings import WebSettings
from tests.testbed.content_routes import ACT, READ, app_routes, leaks, planted_extract, probe, unclassified
from tests.unit.egress.egress_factories import SAFE_CSV, checker, make_env, project_token, researcher

pytestmark = pytest.mark.unit

SECRET = "unit-test-session-secret-0123456789"
KEYCLOAK_USERS = {"kc-alice": ("alice", Role.RESEARCHER), "kc-anna": ("anna", Role.RESEARCHER),
                  "kc-root": ("root", Role.ADMIN), "kc-chris": ("chris", Role.CHECKER)}


class FakeKeycloak:
    """Stands in for KeycloakValidator: a known token is that user's Keycloak principal."""

    def principal(self, token: str, source: str = "") -> Principal:
        if token not in KEYCLOAK_USERS:
            raise AuthError("unknown token")
        user, role = KEYCLOAK_USERS[token]
        return Principal(user, frozenset({role}), None, Via.KEYCLOAK, source)

    def prefetch(self) -> None:
        pass


def _notebook_with(text: str) -> bytes:
    import json

    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                       "cells": [{"cell_type": "code", "metadata": {}, "execution_count": 1, "outputs": [],
                                  "source": f"rows = {text!r}"}]}).encode()


@pytest.fixture
def planted(tmp_path):
    """A draft with the extract as a supporting file (never submitted) and a submitted request with it
    as an output and as a supporting file, both by alice of project alpha, written from inside the
    sandbox (project token), rows of the extract also in their titles, contexts, controls and comments;
    and the app."""
    env = make_env(tmp_path)
    data, pseudonyms = planted_extract()
    rows = iter(data.decode().splitlines()[1:])
    alice = researcher("alice", "alpha")

    def planted_request(files: dict[str, tuple[bytes, FileKind]]) -> str:
        with env.svc.sessions() as s:
            rid = submission.create_request(s, env.svc.audit, alice, title=next(rows)).id
            s.commit()
        for name, (content, kind) in files.items():
            env.store_file(alice, rid, name, content, kind=kind, context=next(rows), controls=next(rows))
        env.act(lambda s, r: review.add_comment(s, env.svc.audit, env.svc.policy, alice, r, text=next(rows),
                                                visibility=Visibility.SHARED), rid)
        return rid

    draft = planted_request({"summary.csv": (SAFE_CSV.encode(), FileKind.OUTPUT), "notes.txt": (data, FileKind.SUPPORTING)})
    submitted = planted_request({"summary.csv": (SAFE_CSV.encode(), FileKind.OUTPUT), "rows.csv": (data, FileKind.OUTPUT),
                                 "notes.txt": (data, FileKind.SUPPORTING),
                                 # the notebook request_export attaches, the rows in a cell ("View code")
                                 "analysis.ipynb": (_notebook_with(data.decode()), FileKind.SUPPORTING)})
    env.act(lambda s, r: submission.submit(s, env.svc.audit, alice, r), submitted)
    # returned by two one-click votes with the suggested table, whose index labels are rows' pseudonyms
    table = "employee_pseudonym,people\n" + "".join(f"{p},{3 if i % 2 else 120}\n" for i, p in enumerate(sorted(pseudonyms)[:6]))
    returned = planted_request({"by_person.csv": (table.encode(), FileKind.OUTPUT)})
    env.act(lambda s, r: submission.submit(s, env.svc.audit, alice, r), returned)
    for who in ("chris", "cora"):
        env.act(lambda s, r, w=who: quick_review.click(s, env.svc.audit, env.svc.policy, checker(w), r, r.files[0],
                                                        quick_review.Quick.RETURN_SUGGESTED), returned)
    assert env.get(returned).state == "returned"
    targets = [(rid, [f.id for f in env.get(rid).files]) for rid in (draft, submitted, returned)]

    from egress_review.app import create_app

    app = create_app(env.settings)
    app.state.egress.keycloak = FakeKeycloak()
    app.state.egress_web_settings = WebSettings(session_secret=SECRET, web_insecure_loopback=True,
                                                egress_client_secret="unused")
    with TestClient(app, base_url="http://127.0.0.1:8000", follow_redirects=False) as client:
        yield env, client, targets, pseudonyms
    env.svc.close()


def _web_login(client: TestClient, username: str, role: Role) -> str:
    now = time.time()
    s = WebSession(username=username, roles=[role.value], access_expires=now + 300, refresh_token="r",
                   refresh_expires=now + 1800, hard_expires=now + 3600)
    client.cookies.set(SESSION_COOKIE, CookieBox(SECRET.encode()).seal_session(s))
    return s.csrf


def _as_keycloak(client: TestClient, token: str, targets, kinds) -> list:
    """Both Keycloak paths of one user: the UI session and the bearer token."""
    user, role = KEYCLOAK_USERS[token]
    csrf = _web_login(client, user, role)
    answers = probe(client.request, f"{user} (web session)", targets, csrf=csrf, kinds=kinds)
    client.cookies.clear()
    answers += probe(client.request, f"{user} (Keycloak bearer)", targets,
                     headers={"Authorization": f"Bearer {token}"}, kinds=kinds)
    return answers


def test_every_route_of_the_app_is_classified(planted):
    _, client, _, _ = planted
    routes = app_routes(client.app)
    assert len(routes) > 40 and ("GET", "/requests/{request_id}/files/{file_id}/raw") in routes
    assert not unclassified(client.app), (
        "new routes: add them to tests/testbed/content_routes.py CALLS (and make them ask "
        f"permissions.may_read_content if they return a file's content): {sorted(unclassified(client.app))}")


def test_outside_the_sandbox_no_route_gives_a_researcher_or_admin_a_row_of_the_file(planted):
    env, client, targets, pseudonyms = planted
    answers = []
    for token in ("kc-alice", "kc-anna", "kc-root"):  # requester, another member, admin
        answers += _as_keycloak(client, token, targets, (READ,))
    for token in ("kc-alice", "kc-anna"):  # after every action they can take (submit, withdraw, ...)
        answers += _as_keycloak(client, token, targets, (ACT,))
        answers += _as_keycloak(client, token, targets, (READ,))
    assert not leaks(answers, pseudonyms), leaks(answers, pseudonyms)
    # the probe did reach the pages: the researcher sees their requests with metadata
    page = next(a for a in answers if a.who == "alice (web session)" and a.url == f"/requests/{targets[0][0]}")
    assert page.status == 200 and "notes.txt" in page.body and "only by the reviewing checkers" in page.body
    detail = next(a for a in answers if a.who == "alice (Keycloak bearer)" and a.url == f"/api/v1/requests/{targets[1][0]}")
    assert detail.status == 200 and '"rule_counts"' in detail.body and "suggested_csv" not in detail.body
    raw = [a for a in answers if a.method == "GET" and a.url.endswith(("/raw", "/content", "/report", "/suggestion"))]
    assert raw and all(a.status >= 300 for a in raw)  # refused (or sent to log in), never served


def test_the_probe_sees_the_rows_where_reading_is_allowed(planted):
    """The same probe finds the rows for those who may read them, so its silence above means something:
    a reviewing checker (UI and bearer), and the researcher from inside the sandbox (project token)."""
    env, client, targets, pseudonyms = planted
    submitted = targets[1:]
    checker_answers = _as_keycloak(client, "kc-chris", submitted, (READ,))
    assert any("/raw" in x for x in leaks(checker_answers, pseudonyms))
    assert any("(web session) GET /requests/" in x and x.split()[4].count("/") == 2 for x in leaks(checker_answers, pseudonyms))
    inside = probe(client.request, "alice@alpha", targets, headers={"Authorization": f"Bearer {project_token('alice', 'alpha')}"})
    found = leaks(inside, pseudonyms)
    assert any("/content" in x for x in found) and any("/report" in x or "/api/v1/requests/" in x for x in found)
    assert any("/suggestion ->" in x for x in found)  # the suggested table, from inside
    assert any("/suggestion ->" in x for x in leaks(checker_answers, pseudonyms))


def test_may_read_content_is_the_rule(planted):
    env, _, targets, _ = planted
    draft, submitted = targets[0][0], targets[1][0]
    kc = FakeKeycloak()
    with env.svc.sessions() as s:
        d, sub = submission.get_request(s, draft), submission.get_request(s, submitted)
        may = lambda p, r: permissions.may_read_content(s, p, r, env.svc.policy)  # noqa: E731
        assert may(researcher("alice", "alpha"), d) and may(researcher("anna", "alpha"), sub)
        assert not may(researcher("bob", "beta"), sub)  # a project token of another project
        assert not may(kc.principal("kc-alice"), d) and not may(kc.principal("kc-anna"), sub)
        assert not may(kc.principal("kc-root"), sub)
        assert may(checker("chris"), sub) and not may(checker("chris"), d)  # drafts are the project's
        assert not may(Principal("alice", frozenset({Role.CHECKER, Role.RESEARCHER})), sub)  # own request
        s.rollback()
