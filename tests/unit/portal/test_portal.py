"""Issue 20: the application portal over HTTP (FastAPI's test client, the real app and database; the
Keycloak login itself is walked by tests/browser/test_portal_ui.py, here sessions are sealed
directly): labels, per-route permissions, CSRF, field errors, and the whole walk."""

from __future__ import annotations

import re
import string
import time
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from provisioning.applications.models import Application
from provisioning.applications.policy import ApplicationsPolicy
from provisioning.models import Project, ProvisioningAuditEvent
from provisioning.portal.messages import MESSAGES
from provisioning.portal.settings import PortalSettings
from provisioning.portal.web import PORTAL_COOKIES
from sandkasse.db import session_scope
from sandkasse.keys import encode_key, generate_key
from sandkasse.settings import Settings
from sandkasse.web.session import SESSION_COOKIE, CookieBox, WebSession
from tests.unit.provisioning.app_factories import make_data, make_factory, submitted

pytestmark = pytest.mark.unit

SECRET = "unit-test-portal-session-secret-0123"
TEMPLATES = Path(__file__).resolve().parents[3] / "provisioning" / "portal" / "templates"
ROLES = {"alma": ["applicant"], "berit": ["applicant"], "oda": ["dataset-owner"], "dora": ["dpo"],
         "conrad": ["controller"], "anne": ["admin"]}
EMAILS = {"alma": "alma@uni.example", "dora": "dora@kommune.example"}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_data(tmp_path_factory.mktemp("synth"))


@pytest.fixture
def portal(tmp_path, data):
    factory = make_factory(tmp_path, data)
    settings = Settings(var_dir=tmp_path / "var", database_url=f"sqlite:///{tmp_path / 'apps.db'}",
                        master_key=encode_key(generate_key()))
    from provisioning.portal.app import create_app

    app = create_app(settings, PortalSettings(session_secret=SECRET, web_insecure_loopback=True,
                                              portal_client_secret="unused", portal_keycloak_sync=False),
                     ApplicationsPolicy(version=1))
    with TestClient(app, base_url="http://127.0.0.1:8095", follow_redirects=False) as client:
        client.factory = factory
        yield client


def login(client: TestClient, username: str) -> WebSession:
    now = time.time()
    s = WebSession(username=username, roles=ROLES[username], access_expires=now + 300, refresh_token="r",
                   refresh_expires=now + 1800, hard_expires=now + 3600, email=EMAILS.get(username, f"{username}@x.example"))
    box = CookieBox(SECRET.encode(), ui=PORTAL_COOKIES)
    client.cookies.set(box.session_cookie, box.seal_session(s))
    return s


FORM = {
    "title": "Sick leave by gender", "purpose": "Target measures against sick leave.", "legal_basis_art6": "6(1)(e)",
    "legal_basis_art9": "9(2)(j)", "national_provision": "Personopplysningsloven § 9", "data_controller": "Trondheim kommune",
    "funding": "NFR", "rek_reference": "REK 2026/1", "start_date": "2026-01-01", "end_date": "2027-12-31",
    "members": "bo@uni.example",
    "t.sick-leave.national_id": "pseudonymise", "j.sick-leave.national_id": "link episodes",
    "t.sick-leave.gender": "keep", "j.sick-leave.gender": "compare",
    "t.sick-leave.days": "keep", "j.sick-leave.days": "outcome",
}


# ------------------------------------------------------------------------------------------- labels


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_both_languages_have_the_same_labels_and_every_used_label_exists():
    en, nb = MESSAGES["en"], MESSAGES["nb"]
    assert set(en) == set(nb), set(en) ^ set(nb)
    for key in en:
        assert _placeholders(en[key]) == _placeholders(nb[key]), key
    used = set()
    for path in [*TEMPLATES.glob("*.html"), *TEMPLATES.parent.glob("*.py")]:
        used |= {k for k in re.findall(r"""\bt\(\s*['"]([a-z_.]+)['"]""", path.read_text()) if not k.endswith((".", "_"))}
    from provisioning.applications.states import Actor, AppState
    from provisioning.portal.form import ART6, ART9, TRANSFORMATIONS

    dynamic = ([f"state.{s.value}" for s in AppState] + [f"actor.{a.value}" for a in Actor] + [f"art6.{b}" for b in ART6]
               + [f"art9.{b}" for b in ART9] + [f"tr.{t}" for t in TRANSFORMATIONS]
               + [f"decision.{d}" for d in ("approve", "return", "reject")]
               + [f"decided.{d}" for d in ("approve", "return", "reject")]
               + [f"done.{d}" for d in ("saved", "submitted", "withdrawn", "commented", "approve", "return", "reject", "provision")]
               + [f"role.{r}" for r in ("direct_identifier", "quasi_identifier", "sensitive", "other")]
               + [f"decide.title_{a}" for a in ("dataset_owner", "dpo", "controller")])
    missing = sorted(k for k in used | set(dynamic) if k not in en)
    assert used and not missing, missing


# ------------------------------------------------------------------------------------- permissions


def test_another_applicant_gets_not_found_on_every_application_route_and_nothing_changes(portal):
    """Every route with an application in its path (read from the app, so a new one is covered)."""
    app_id = submitted(portal.factory)
    with session_scope(portal.factory) as s:
        draft_id = s.execute(select(Application.id)).scalar_one()  # the one we just made, now submitted

    def snapshot():
        with session_scope(portal.factory) as s:
            return (dict(s.execute(select(Application.id, Application.state)).all()),
                    s.execute(select(func.count()).select_from(ProvisioningAuditEvent)).scalar_one())

    from provisioning.portal.routes import router

    routes = [r for r in router.routes if isinstance(r, APIRoute) and "{app_id}" in r.path]
    assert len(routes) >= 7
    session = login(portal, "berit")
    before = snapshot()
    for route in routes:
        for method in route.methods:
            r = portal.request(method, route.path.format(app_id=app_id),
                               data={**FORM, "csrf": session.csrf, "decision": "approve", "comment": "x"} if method == "POST" else None)
            assert r.status_code == 404, f"{method} {route.path}: {r.status_code}"
            assert "Sick leave by gender" not in r.text
    assert snapshot() == before and draft_id == app_id


def test_a_dpo_named_as_member_cannot_decide_through_the_portal(portal):
    app_id = submitted(portal.factory, members=("bo@uni.example", "dora@kommune.example"))
    s = login(portal, "oda")
    assert portal.post(f"/applications/{app_id}/decide", data={"csrf": s.csrf, "decision": "approve"}).status_code == 303
    s = login(portal, "dora")
    page = portal.get(f"/applications/{app_id}")
    assert page.status_code == 200 and 'id="decide"' not in page.text
    r = portal.post(f"/applications/{app_id}/decide", data={"csrf": s.csrf, "decision": "approve"})
    assert r.status_code == 403
    with session_scope(portal.factory) as db:
        assert db.get(Application, app_id).state == "dpo_assessment"


def test_posts_without_the_sessions_csrf_token_change_nothing(portal):
    s = login(portal, "alma")
    for token in (None, "forged"):
        data = dict(FORM) if token is None else {**FORM, "csrf": token}
        r = portal.post("/applications/new", data=data)
        assert r.status_code == 403
    with session_scope(portal.factory) as db:
        assert db.execute(select(func.count()).select_from(Application)).scalar_one() == 0
    assert portal.post("/applications/new", data={**FORM, "csrf": s.csrf}).status_code == 303


def test_every_post_route_refuses_a_form_without_the_sessions_csrf_token(portal):
    """Every POST the portal has (read from the router, so a new one is covered), by a caller who may
    otherwise do it: without the token, or with another session's, it is refused and nothing changes."""
    app_id = submitted(portal.factory)

    def snapshot():
        with session_scope(portal.factory) as s:
            return (dict(s.execute(select(Application.id, Application.state)).all()),
                    s.execute(select(func.count()).select_from(ProvisioningAuditEvent)).scalar_one())

    from provisioning.portal.routes import router

    def routes(of):  # included routers (the shared login's) are kept whole by FastAPI
        for r in of.routes:
            yield from routes(r.original_router) if hasattr(r, "original_router") else [r]

    posts = [r for r in routes(router) if isinstance(r, APIRoute) and "POST" in r.methods]
    assert len(posts) >= 8 and "/logout" in {r.path for r in posts}
    other = login(portal, "anne").csrf
    before = snapshot()
    for route in posts:
        for who in ("alma", "oda"):
            login(portal, who)
            for token in ({}, {"csrf": other}):
                r = portal.post(route.path.format(app_id=app_id),
                                data={**FORM, **token, "decision": "approve", "comment": "x", "reasons": "x"})
                assert r.status_code == 403, f"POST {route.path} as {who}: {r.status_code}"
    assert snapshot() == before


def test_pages_carry_the_security_headers_and_login_is_required(portal):
    r = portal.get("/applications")
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    r = portal.get("/")
    assert "script-src" not in r.headers["content-security-policy"] and "default-src 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"
    r = portal.get("/login")
    assert r.status_code == 303 and "client_id=sandkasse-portal" in r.headers["location"] and "code_challenge_method=S256" in r.headers["location"]


def test_an_egress_ui_session_under_the_same_secret_is_nobody_at_the_portal(portal):
    """The egress UI seals its session cookie (same name) under the same secret when both use the
    master key: such a cookie must not log anyone in to the portal, nor a portal cookie to egress."""
    now = time.time()
    s = WebSession(username="anne", roles=["admin"], access_expires=now + 300, refresh_token="r",
                   refresh_expires=now + 1800, hard_expires=now + 3600)
    egress_sealed = CookieBox(SECRET.encode()).seal_session(s)  # how the egress UI seals it
    portal_box = CookieBox(SECRET.encode(), ui=PORTAL_COOKIES)
    for name in (SESSION_COOKIE, portal_box.session_cookie):  # as the browser sends it, and copied over
        portal.cookies.clear()
        portal.cookies.set(name, egress_sealed)
        r = portal.get("/applications")
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
    # one host, two ports (the demo): cookies ignore ports, so the names differ too
    assert {portal_box.session_cookie, portal_box.login_cookie}.isdisjoint({SESSION_COOKIE, "sk_login"})
    assert portal_box.login_cookie in portal.get("/login").headers["set-cookie"]
    portal.cookies.clear()
    login(portal, "anne")
    assert portal.get("/applications").status_code == 200


def test_a_deleted_accounts_name_registered_again_is_refused_at_login(portal, monkeypatch):
    """With self-registration anyone may register a name Keycloak freed by deleting an account, and
    would inherit the applications kept under it: the name stays bound to its first account (a
    tombstone once that is deleted), so another account under it is refused, audited, until an admin
    releases the name. Logins (and refreshes: the same function) are walked from Keycloak's token
    answer on; Keycloak's own part is in the browser test."""
    import json
    from types import SimpleNamespace

    from provisioning import accounts
    from provisioning.applications import workflow
    from provisioning.portal import web as portal_web
    from sandkasse.web.tokens import AuthError
    from tests.unit.provisioning.app_factories import APPLICANT, content

    app = portal.app.state.portal
    issued: dict[str, dict] = {}
    monkeypatch.setattr(app, "validator", SimpleNamespace(validate=lambda token: issued[token]))

    def login_as(subject: str):  # noqa: ANN202 - what Keycloak's token answer for this account makes of it
        issued["access"] = {"sub": subject, "preferred_username": "Alma", "exp": time.time() + 300,
                            "realm_access": {"roles": ["applicant"]}}
        return portal_web._session_from(app, {"access_token": "access", "refresh_token": "r", "refresh_expires_in": 600},
                                        None, None)

    assert login_as("kc-alma")[1].username == "alma"
    with session_scope(portal.factory) as s:
        app_id = workflow.create(s, APPLICANT, content()).id
    # alma's account is deleted in Keycloak; a newcomer registers "alma": another account (sub)
    with pytest.raises(AuthError, match="deleted"):
        login_as("kc-newcomer")
    with session_scope(portal.factory) as s:
        refused = s.scalars(select(ProvisioningAuditEvent).where(ProvisioningAuditEvent.action == "account.name_refused")).all()
        assert [(e.object_id, json.loads(e.detail)["subject"]) for e in refused] == [("alma", "kc-newcomer")]
        assert s.get(Application, app_id).applicant == "alma"
    with pytest.raises(AuthError, match="no account"):
        login_as("")
    login_as("kc-alma")  # the name's own account still logs in
    with session_scope(portal.factory) as s:
        assert accounts.release(s, "alma", actor="anne", reason="the same person, checked")
    assert login_as("kc-newcomer")[1].username == "alma"  # an admin's decision moves the name


# ------------------------------------------------------------------------------------------- forms


def test_a_form_with_bad_fields_comes_back_with_each_error_and_nothing_stored(portal):
    s = login(portal, "alma")
    bad = {**FORM, "csrf": s.csrf, "start_date": "2027-01-01", "end_date": "2026-01-01", "members": "bo@uni.example not-an-address",
           "t.sick-leave.national_id": "keep"}
    r = portal.post("/applications/new", data=bad)
    assert r.status_code == 422
    assert "members.1" in r.text and 'value="2027-01-01"' in r.text  # what was typed comes back
    with session_scope(portal.factory) as db:
        assert db.execute(select(func.count()).select_from(Application)).scalar_one() == 0
    r = portal.post("/applications/new", data={**FORM, "csrf": s.csrf, "t.sick-leave.national_id": "keep"})
    assert r.status_code == 422 and "direct identifier" in r.text
    # a draft without a purpose is saved; submitting it names the field
    r = portal.post("/applications/new", data={**FORM, "csrf": s.csrf, "purpose": "", "action": "submit"})
    assert r.status_code == 422 and 'id="err-purpose"' in r.text
    with session_scope(portal.factory) as db:
        assert db.execute(select(Application.state)).scalars().all() == ["draft"]


# -------------------------------------------------------------------------------------------- walk


def test_the_walk_through_the_portal_ends_in_the_project(portal):
    s = login(portal, "alma")
    r = portal.post("/applications/new", data={**FORM, "csrf": s.csrf, "action": "submit"})
    assert r.status_code == 303, r.text
    app_id = r.headers["location"].split("/")[2].split("?")[0]
    assert "With the dataset owners" in portal.get(f"/applications/{app_id}").text
    for who in ("oda", "dora", "conrad"):
        s = login(portal, who)
        page = portal.get(f"/applications/{app_id}")
        assert 'id="decide"' in page.text, who
        if who == "dora":  # the pre-assessment computed on submit: screening, findings, k as asked and suggested
            assert 'id="dpia-required"' in page.text and 'id="k-asked-sick-leave"' in page.text
            assert 'id="k-suggested-sick-leave"' in page.text and "not computed yet" not in page.text
        extra = {"x.sick-leave.gender": "drop"} if who == "oda" else {}
        assert portal.post(f"/applications/{app_id}/decide", data={"csrf": s.csrf, "decision": "approve", **extra}).status_code == 303
    login(portal, "alma")
    page = portal.get(f"/applications/{app_id}")
    assert "Approved, project ready" in page.text, page.text
    with session_scope(portal.factory) as db:
        app = db.get(Application, app_id)
        project = db.execute(select(Project).where(Project.slug == app.project_slug)).scalar_one()
        assert {c.column_name: c.transformation for c in project.entitlements[0].columns} == {
            "national_id": "pseudonymise", "gender": "drop", "days": "keep"}


def _walk(portal, form: dict) -> str:
    s = login(portal, "alma")
    r = portal.post("/applications/new", data={**form, "csrf": s.csrf, "action": "submit"})
    assert r.status_code == 303, r.text
    return r.headers["location"].split("/")[2].split("?")[0]


def test_the_pre_assessment_and_the_dpia_draft_are_for_decision_makers_who_are_not_a_party(portal):
    """Control: perm.may_read_assessment (the figures are computed on real data; the draft is the DPO's)."""
    import json

    from provisioning.applications.prepared import ASSESSMENT_FILE, application_dir

    app_id = _walk(portal, FORM)
    stored = json.loads((application_dir(portal.app.state.portal.settings.var_dir, app_id) / ASSESSMENT_FILE).read_text())
    k = stored["assessment"]["datasets"][0]["as_asked"]["k"]
    s = login(portal, "oda")
    assert portal.post(f"/applications/{app_id}/decide", data={"csrf": s.csrf, "decision": "approve"}).status_code == 303
    login(portal, "dora")
    page = portal.get(f"/applications/{app_id}").text
    assert f'<span class="k">{k}</span>' in page  # the figure shown is the stored one
    md = portal.get(f"/applications/{app_id}/dpia.md")
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown") and FORM["title"] in md.text
    pdf = portal.get(f"/applications/{app_id}/dpia.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    login(portal, "alma")  # the applicant: no figures, no draft, but the twin
    page = portal.get(f"/applications/{app_id}").text
    assert 'id="assessment"' not in page and 'id="twin"' in page and f"app-{app_id[:20]}" in page
    for fmt in ("md", "pdf"):
        assert portal.get(f"/applications/{app_id}/dpia.{fmt}").status_code == 403
    # a DPO who is named a member of the application is a party: no draft either
    party_id = _walk(portal, {**FORM, "members": "bo@uni.example dora@kommune.example"})
    login(portal, "dora")
    assert portal.get(f"/applications/{party_id}/dpia.md").status_code == 403
    assert 'id="assessment"' not in portal.get(f"/applications/{party_id}").text


def test_submitting_builds_a_synthetic_twin_shaped_like_the_approved_extract(portal):
    """Issue 20.5: the twin (built on submit) and the real extract (built on approval, as asked) have the
    same file names, columns, dtypes and category sets; only the twin is labelled synthetic."""
    import pandas as pd

    from provisioning.api import extract_dir
    from provisioning.applications.prepared import twin_dir
    from provisioning.applications.twin import LABEL, is_synthetic

    var_dir = portal.app.state.portal.settings.var_dir
    app_id = _walk(portal, {**FORM, "t.sick-leave.diagnosis_group": "keep", "j.sick-leave.diagnosis_group": "cause"})
    twin = twin_dir(var_dir, app_id)
    assert (twin / LABEL).is_file() and is_synthetic(twin / "sick-leave.parquet")
    for who in ("oda", "dora", "conrad"):
        s = login(portal, who)
        assert portal.post(f"/applications/{app_id}/decide", data={"csrf": s.csrf, "decision": "approve"}).status_code == 303
    with session_scope(portal.factory) as db:
        slug = db.get(Application, app_id).project_slug
    assert slug
    real_file = var_dir / "projects" / slug / "data" / "sick-leave.parquet"
    assert real_file.is_file() and not is_synthetic(real_file)
    fake, real = pd.read_parquet(twin / "sick-leave.parquet"), pd.read_parquet(real_file)
    assert list(fake.columns) == list(real.columns)
    assert {c: str(t) for c, t in fake.dtypes.items()} == {c: str(t) for c, t in real.dtypes.items()}
    for col in fake.columns:
        if isinstance(real[col].dtype, pd.CategoricalDtype) and col != "national_id":  # pseudonyms differ by design
            assert set(fake[col].cat.categories) == set(real[col].cat.categories), col
    assert extract_dir is not None


def test_the_figures_and_the_twin_follow_a_dataset_owners_changed_transformation(portal):
    import json

    import pyarrow.parquet as pq

    from provisioning.applications.prepared import ASSESSMENT_FILE, application_dir, twin_dir

    var_dir = portal.app.state.portal.settings.var_dir
    app_id = _walk(portal, FORM)
    assert "gender" in pq.read_schema(twin_dir(var_dir, app_id) / "sick-leave.parquet").names
    s = login(portal, "oda")
    r = portal.post(f"/applications/{app_id}/decide", data={"csrf": s.csrf, "decision": "approve", "x.sick-leave.gender": "drop"})
    assert r.status_code == 303
    login(portal, "dora")
    assert portal.get(f"/applications/{app_id}").status_code == 200
    stored = json.loads((application_dir(var_dir, app_id) / ASSESSMENT_FILE).read_text())
    assert stored["assessment"]["datasets"][0]["asked"]["gender"] == "drop"
    assert "gender" not in pq.read_schema(twin_dir(var_dir, app_id) / "sick-leave.parquet").names


def test_the_catalogue_is_searchable_and_exported_as_dcat_ap_no_without_login(portal):
    import rdflib

    page = portal.get("/catalogue", params={"q": "sick"})
    assert page.status_code == 200 and 'href="/catalogue/sick-leave"' in page.text and 'href="/catalogue/staff"' not in page.text
    meta = portal.get("/catalogue/sick-leave")
    assert meta.status_code == 200 and "<code>diagnosis_group</code>" in meta.text and 'id="dataset-rows"' in meta.text
    assert portal.get("/catalogue/no-such").status_code == 404
    names = {"sick-leave", "staff"}
    for ext, fmt in (("ttl", "turtle"), ("jsonld", "json-ld")):
        r = portal.get(f"/catalogue.{ext}")
        assert r.status_code == 200
        g = rdflib.Graph().parse(data=r.text, format=fmt)
        dcat = rdflib.Namespace("http://www.w3.org/ns/dcat#")
        datasets = list(g.subjects(rdflib.RDF.type, dcat.Dataset))
        assert len(datasets) == len(names) and all(any(n in str(d) for d in datasets) for n in names)
        assert "national_id" not in r.text or "PSEUDO" not in r.text  # metadata only
    assert portal.get("/catalogue.xml").status_code == 404


def test_the_public_catalogue_never_shows_a_rare_value_of_the_data(portal, tmp_path):
    """A code list read from the data (the file's dictionary) would publish a rare value, a unit of one
    employee or an unusual diagnosis, to anyone on the internet: the public pages and exports show only
    the code lists declared in policies/catalogue.yaml."""
    import pandas as pd

    from provisioning import catalogue

    rare, common = "Rare unit Zq7 (one employee)", "Common unit Kx2"
    frame = pd.DataFrame({"national_id": [f"{i:011d}" for i in range(30)],
                          "unit": pd.Categorical([common] * 29 + [rare]),
                          "diagnosis_group": pd.Categorical(["Musculoskeletal (L)"] * 29 + ["Rare diagnosis Zq8"])})
    frame.to_parquet(source := tmp_path / "units.parquet")
    with session_scope(portal.factory) as s:
        catalogue.create_dataset(s, name="units", source=source, description="units of the municipality",
                                 columns={"national_id": "direct_identifier", "unit": "quasi_identifier",
                                          "diagnosis_group": "sensitive"}, actor="anne")
    pages = {url: portal.get(url) for url in ("/catalogue/units", "/catalogue?q=units", "/catalogue",
                                              "/catalogue/sick-leave", "/catalogue.ttl", "/catalogue.jsonld")}
    assert {url: r.status_code for url, r in pages.items()} == dict.fromkeys(pages, 200)
    assert "<code>unit</code>" in pages["/catalogue/units"].text  # the column is described, its values are not
    shown = {url: [v for v in (rare, "Zq7", "Zq8", common) if v in r.text] for url, r in pages.items()}
    assert shown == dict.fromkeys(pages, []), shown
    # a reviewed, declared code list is shown (policies/catalogue.yaml)
    assert "Musculoskeletal (L)" in pages["/catalogue/sick-leave"].text


def test_the_portal_sends_the_notices_beside_its_pages(tmp_path, data):
    """With notices enabled, the portal's own sender loop delivers to a real SMTP server on loopback."""
    from provisioning.portal.app import create_app
    from tests.unit.egress.notify_servers import SmtpServer

    factory = make_factory(tmp_path, data)
    settings = Settings(var_dir=tmp_path / "var", database_url=f"sqlite:///{tmp_path / 'apps.db'}",
                        master_key=encode_key(generate_key()))
    with SmtpServer() as smtp:
        policy = ApplicationsPolicy.model_validate({
            "version": 1, "portal_url": "http://127.0.0.1:8095",
            "notifications": {"enabled": True, "sweep_seconds": 0.2,
                              "smtp": {"host": "127.0.0.1", "port": smtp.port, "sender": "soknad@example"}}})
        app = create_app(settings, PortalSettings(session_secret=SECRET, web_insecure_loopback=True,
                                                  portal_client_secret="unused", portal_keycloak_sync=False), policy)
        with TestClient(app, base_url="http://127.0.0.1:8095", follow_redirects=False) as client:
            s = login(client, "alma")
            assert client.post("/applications/new", data={**FORM, "csrf": s.csrf, "action": "submit"}).status_code == 303
            deadline = time.monotonic() + 15
            while len(smtp.mailbox.received) < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
        got = sorted(m["to"][0] for m in smtp.mailbox.received)
    assert got == ["alma@uni.example", "oda@kommune.example"]
    assert factory is not None


def test_provisioning_and_the_shared_web_machinery_never_import_egress_or_the_hub():
    """The portal reuses the egress UI's machinery through sandkasse/web, not by importing egress."""
    import ast

    root = Path(__file__).resolve().parents[3]
    offenders = []
    for folder in ("provisioning", "sandkasse/web"):
        for path in (root / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                    [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                offenders += [f"{path.relative_to(root)}: {n}" for n in names if n.split(".")[0] in ("egress_review", "hub")]
    assert offenders == []
