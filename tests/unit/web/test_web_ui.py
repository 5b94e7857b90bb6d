"""The egress web UI without a browser or Keycloak: sessions are sealed here with the service's own
cookie box (what the login callback does after Keycloak), so the pages, their security headers,
cookies, CSRF checks and the server-side refusals can be tested fast. The Keycloak login itself and
the pages in a real browser are tested in tests/browser."""

from __future__ import annotations

import re
import string
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from egress_review.quick_review import Outcome
from egress_review.states import FileDecision, RequestState, Visibility, VoteDecision
from egress_review.web.messages import MESSAGES
from egress_review.web.queue import SORTS, WAITING
from egress_review.web.session import LOGIN_COOKIE, SESSION_COOKIE, CookieBox, WebSession
from egress_review.web.settings import WebSettings
from tests.unit.egress.egress_factories import SAFE_CSV, make_env

pytestmark = pytest.mark.unit

SECRET = "unit-test-session-secret-0123456789"
TEMPLATES = Path(__file__).resolve().parents[3] / "egress_review" / "web" / "templates"
WEB = TEMPLATES.parent


@pytest.fixture
def env(tmp_path):
    e = make_env(tmp_path)
    yield e
    e.svc.close()


def _client(env, insecure_loopback: bool = True, base_url: str = "http://127.0.0.1:8000") -> TestClient:
    from egress_review.app import create_app

    app = create_app(env.settings)
    app.state.egress_web_settings = WebSettings(session_secret=SECRET, web_insecure_loopback=insecure_loopback,
                                                egress_client_secret="unused")
    return TestClient(app, base_url=base_url, follow_redirects=False)


def _login(client: TestClient, username: str, roles: list[str], secret: str = SECRET, **over) -> WebSession:
    now = time.time()
    s = WebSession(username=username, roles=roles, access_expires=now + 300, refresh_token="r",
                   refresh_expires=now + 1800, hard_expires=now + 3600)
    for k, v in over.items():
        setattr(s, k, v)
    client.cookies.set(SESSION_COOKIE, CookieBox(secret.encode()).seal_session(s))
    return s


# ------------------------------------------------------------------------------------------- catalogue


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_both_languages_have_the_same_keys_and_placeholders():
    en, nb = MESSAGES["en"], MESSAGES["nb"]
    assert set(en) == set(nb), set(en) ^ set(nb)
    for key in en:
        assert _placeholders(en[key]) == _placeholders(nb[key]), key


def test_every_label_used_by_templates_and_code_is_in_the_catalogue():
    used = set()
    for path in list(TEMPLATES.glob("*.html")) + list(WEB.glob("*.py")):
        text = path.read_text()
        used |= {k for k in re.findall(r"""\bt\(\s*['"]([a-z_.]+)['"]""", text) if not k.endswith(".")}
        used |= {f"req.done.{d}" for d in re.findall(r"""_back\(ctx, request_id, (?:action|"([a-z_]+)")""", text) if d}
    dynamic = (
        [f"state.{s.value}" for s in RequestState] + [f"decision.{d.value}" for d in FileDecision]
        + [f"vote.{v.value}" for v in VoteDecision] + [f"visibility.{v.value}" for v in Visibility]
        + [f"verdict.{v}" for v in ("pass", "review", "fail")]
        + [f"req.file_kind.{k}" for k in ("output", "supporting")]
        + [f"req.done.{a}" for a in ("approve", "return", "reject")] + ["req.too_large", "req.unreadable"]
        + [f"req.done.quick_{o.value}" for o in Outcome]
        + [f"queue.order.{o}" for o in ("asc", "desc")] + [f"queue.waiting.{w}" for w in WAITING]
        + [f"sort.{s}" for s in SORTS] + [f"status.{s}" for s in ("to_review", "waiting_for_others", "to_decide")]
    )
    missing = sorted(k for k in used | set(dynamic) if k not in MESSAGES["en"])
    assert used and not missing, missing


# ------------------------------------------------------------------------------------- cookies, login


def test_login_cookie_flags_secure_except_for_configured_loopback(env):
    with _client(env, insecure_loopback=True) as c:
        r = c.get("/login")
        assert r.status_code == 303 and "code_challenge_method=S256" in r.headers["location"]
        cookie = r.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    with _client(env, insecure_loopback=True, base_url="http://egress.example") as c:
        assert "Secure" in c.get("/login").headers["set-cookie"]  # not loopback: Secure whatever the setting
    with _client(env, insecure_loopback=False) as c:
        assert "Secure" in c.get("/login").headers["set-cookie"]


def test_login_keeps_only_local_return_paths(env):
    with _client(env) as c:
        box = CookieBox(SECRET.encode())
        for nxt, kept in (("/queue", "/queue"), ("//evil.example/x", ""), ("https://evil.example", ""),
                          ("/\\evil.example", "")):
            r = c.get("/login", params={"next": nxt})
            state = box.open_login(r.cookies.get(LOGIN_COOKIE))
            assert state is not None and state["next"] == kept, nxt
            assert len(state["verifier"]) >= 43  # RFC 7636 minimum


def test_callback_refuses_a_state_that_is_not_this_browsers(env):
    with _client(env) as c:
        c.get("/login")
        for forged in ("forged", "æøå"):
            r = c.get("/auth/callback", params={"code": "x", "state": forged})
            assert r.status_code == 401


def test_tampered_foreign_or_expired_sessions_are_not_accepted(env):
    with _client(env) as c:
        _login(c, "chris", ["output-checker"])
        assert c.get("/queue").status_code == 200
        value = c.cookies.get(SESSION_COOKIE)
        c.cookies.set(SESSION_COOKIE, value[:-6] + ("AAAAAA" if not value.endswith("AAAAAA") else "BBBBBB"))
        assert c.get("/queue").headers["location"].startswith("/login")
        _login(c, "chris", ["output-checker"], secret="another-secret-another-secret-xx")
        assert c.get("/queue").headers["location"].startswith("/login")
        _login(c, "chris", ["output-checker"], hard_expires=time.time() - 1)
        assert c.get("/queue").headers["location"].startswith("/login")


def test_a_portal_session_under_the_same_secret_is_nobody_at_the_egress_ui(env):
    """Both UIs fall back to the master key (or share SANDKASSE_SESSION_SECRET) and name their cookie
    alike: the portal's session (whose tokens egress refuses) must not open egress pages."""
    from provisioning.portal.web import PORTAL_COOKIES

    with _client(env) as c:
        now = time.time()
        s = WebSession(username="chris", roles=["admin"], access_expires=now + 300, refresh_token="r",
                       refresh_expires=now + 1800, hard_expires=now + 3600)
        c.cookies.set(SESSION_COOKIE, CookieBox(SECRET.encode(), ui=PORTAL_COOKIES).seal_session(s))
        r = c.get("/admin/projects")
        assert r.status_code == 303 and r.headers["location"].startswith("/login")


# ---------------------------------------------------------------------------------- pages and actions


def test_pages_carry_the_content_security_policy(env):
    with _client(env) as c:
        _login(c, "chris", ["output-checker"])
        r = c.get("/queue")
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src" not in csp and "frame-ancestors 'none'" in csp
        assert r.headers["x-content-type-options"] == "nosniff"


def test_queue_excludes_the_checkers_own_projects_and_counts_in_the_title(env):
    alpha = env.make_request(RequestState.SUBMITTED)
    beta = env.make_request(RequestState.SUBMITTED, requester="bob", project="beta")
    with _client(env) as c:
        _login(c, "chris", ["output-checker"])
        page = c.get("/queue").text
        assert "Review queue (2)" in page and alpha in page and beta in page
        _login(c, "carl", ["output-checker"])  # carl is a researcher in beta
        page = c.get("/queue").text
        assert "Review queue (1)" in page and alpha in page and beta not in page
        _login(c, "alice", ["researcher"])
        assert c.get("/queue").status_code == 403


def test_form_posts_need_the_csrf_token_and_the_server_rechecks_permission(env):
    req = env.make_request(RequestState.SUBMITTED, requester="bob", project="beta")
    file_id = env.get(req).files[0].id
    form = {"decision": "approve", "comment": "", "visibility": "checkers"}
    with _client(env) as c:
        s = _login(c, "chris", ["output-checker"])  # may review: only the token is missing
        r = c.post(f"/requests/{req}/files/{file_id}/vote", data=form)
        assert r.status_code == 403 and "security token" in r.text
        for wrong in ("not-" + s.csrf, "æøå"):
            r = c.post(f"/requests/{req}/files/{file_id}/vote", data={**form, "csrf": wrong})
            assert r.status_code == 403
        assert not env.get(req).files[0].votes
        s = _login(c, "carl", ["output-checker"])  # member of beta: conflict of interest, token or not
        r = c.post(f"/requests/{req}/files/{file_id}/vote", data={**form, "csrf": s.csrf})
        assert r.status_code == 403 and "conflict of interest" in r.text
        assert not env.get(req).files[0].votes
        s = _login(c, "chris", ["output-checker"])
        r = c.post(f"/requests/{req}/files/{file_id}/vote", data={**form, "csrf": s.csrf})
        assert r.status_code == 303
        assert [v.reviewer for v in env.get(req).files[0].votes] == ["chris"]


def test_failing_cells_are_marked_and_the_svg_is_served_sandboxed(env):
    small = b"district,women,men\nGrefsen,120,4\nSagene,7,95\n"
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script><text x="1">n=3</text></svg>'
    req = env.make_request(RequestState.SUBMITTED, files={"t.csv": small, "f.svg": svg})
    with _client(env) as c:
        _login(c, "chris", ["output-checker"])
        page = c.get(f"/requests/{req}").text
        cells = set(re.findall(r'<td class="fail"[^>]*data-row="([^"]+)" data-col="([^"]+)"', page))
        assert cells == {("Grefsen", "men"), ("Sagene", "women")}
        assert "<text x=" not in page and "&lt;text x=" in page  # the SVG source only as escaped text
        assert "alert(1)" not in page  # and the script was never stored (rebuilt at intake)
        svg_id = next(f.id for f in env.get(req).files if f.name == "f.svg")
        raw = c.get(f"/requests/{req}/files/{svg_id}/raw")
        assert raw.headers["content-type"].startswith("image/svg+xml")
        assert "sandbox" in raw.headers["content-security-policy"]
        # a researcher of another project learns nothing
        _login(c, "bob", ["researcher"])
        assert c.get(f"/requests/{req}").status_code == 404
        assert c.get(f"/requests/{req}/files/{svg_id}/raw").status_code == 404


def test_released_files_download_for_members_only_and_admin_pages_for_admins(env):
    req = env.make_request(RequestState.RELEASED, files={"t.csv": SAFE_CSV.encode()})
    with _client(env) as c:
        _login(c, "alice", ["researcher"])
        page = c.get("/my").text
        rel = re.search(r'/releases/([0-9a-f]{32})"', page).group(1)
        assert c.get(f"/releases/{rel}/files/t.csv").content == SAFE_CSV.encode()
        assert c.get(f"/releases/{rel}/manifest.json").json()["manifest"]["request_id"] == req
        _login(c, "bob", ["researcher"])
        assert c.get(f"/releases/{rel}/files/t.csv").status_code == 404
        assert c.get("/admin/audit").status_code == 403
        _login(c, "root", ["admin"])
        page = c.get("/admin/audit").text
        assert "intact" in page and "release.download" in page
        assert "alpha" in c.get("/admin/projects").text


def _table_bytes(kind: str) -> bytes:
    import io

    import pandas as pd

    frame = pd.DataFrame({"district": ["Grefsen", "Sagene", "Frogner"], "women": [120, 7, 210], "men": [4, 95, 180]})
    buf = io.BytesIO()
    if kind == "xlsx":
        frame.to_excel(buf, index=False)
    elif kind == "parquet":
        frame.to_parquet(buf, index=False)
    else:
        buf.write(frame.to_csv(index=False).encode())
    return buf.getvalue()


@pytest.mark.parametrize("kind", ["csv", "xlsx", "parquet"])
def test_every_table_format_is_highlighted_cell_for_cell(env, kind):
    req = env.make_request(RequestState.SUBMITTED, files={f"t.{kind}": _table_bytes(kind)})
    with _client(env) as c:
        _login(c, "chris", ["output-checker"])
        page = c.get(f"/requests/{req}").text
        original = page[page.index('data-table="original"'):page.index('data-table="suggested"')]
        cells = set(re.findall(r'<td class="fail"[^>]*data-row="([^"]+)" data-col="([^"]+)"', original))
        assert cells == {("Grefsen", "men"), ("Sagene", "women")}
        suggested = page[page.index('data-table="suggested"'):]
        suggested = suggested[:suggested.index("</table>")]
        assert set(re.findall(r'<td class="suppressed" data-row="([^"]+)" data-col="([^"]+)"', suggested)) >= cells
        assert '<td data-row="Frogner" data-col="women">210</td>' in suggested  # shown as in the original


def test_text_outputs_are_shown_as_text_never_as_markup(env):
    md = b"# Notes\n<script>alert(1)</script>\n<img src=x onerror=alert(2)>\n"
    req = env.make_request(RequestState.SUBMITTED, files={"notes.md": md})
    with _client(env) as c:
        _login(c, "chris", ["output-checker"])
        page = c.get(f"/requests/{req}").text
        assert '<pre class="text-output">' in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<img src=x" not in page


def test_queue_filters_by_waiting_time_and_sorts(env):
    from datetime import timedelta

    from egress_review.models import ReleaseRequest
    from sandkasse.audit import utcnow

    old = env.make_request(RequestState.SUBMITTED)
    new = env.make_request(RequestState.SUBMITTED, requester="bob", project="beta")
    with env.svc.sessions() as s:
        s.get(ReleaseRequest, old).submitted_at = utcnow() - timedelta(days=2)
        s.commit()
    with _client(env) as c:
        _login(c, "chris", ["output-checker"])
        page = c.get("/queue", params={"waiting": "1d"}).text
        assert "Review queue (1)" in page and old in page and new not in page
        page = c.get("/queue").text  # default: longest waiting first
        assert page.index(old) < page.index(new)
        page = c.get("/queue", params={"sort": "age", "order": "asc"}).text
        assert page.index(new) < page.index(old)
        page = c.get("/queue", params={"sort": "project", "order": "desc"}).text
        assert page.index(new) < page.index(old)  # beta before alpha


def test_failing_cells_point_screen_readers_to_their_reasons_and_language_links_keep_filters(env):
    req = env.make_request(RequestState.SUBMITTED, files={"t.csv": b"district,women,men\nGrefsen,120,4\nSagene,7,95\n"})
    with _client(env) as c:
        _login(c, "chris", ["output-checker"])
        page = c.get(f"/requests/{req}").text
        for ids in re.findall(r'<td class="fail"[^>]*aria-describedby="([^"]+)"', page):
            for ref in ids.split():
                reason = re.search(rf'<li[^>]*id="{ref}"[^>]*>(.*?)</li>', page, re.S)
                assert reason and "minimum" in reason.group(1)
        assert len(re.findall(r'<td class="fail"[^>]*aria-describedby=', page)) == 2
        page = c.get("/queue", params={"verdict": "fail", "lang": "nb"}).text
        assert "Kontrollkø" in page and 'href="?verdict=fail&amp;lang=en"' in page


def test_researcher_of_another_project_is_refused_on_every_ui_route(env):
    """Every UI route (read from the app, so a new one is covered automatically), with bob of project
    beta logged in, against alpha's objects: refused, and nothing changes."""
    from fastapi.routing import APIRoute
    from sqlalchemy import func, select

    from egress_review.models import EgressAuditEvent, Release, ReleaseRequest, Vote

    req = env.make_request(RequestState.RELEASED)
    returned = env.make_request(RequestState.RETURNED)
    with env.svc.sessions() as s:
        rel = s.execute(select(Release.id).where(Release.request_id == req)).scalar_one()

    def snapshot():
        with env.svc.sessions() as s:
            return (dict(s.execute(select(ReleaseRequest.id, ReleaseRequest.state)).all()),
                    s.execute(select(func.count()).select_from(Vote)).scalar_one(),
                    s.execute(select(func.count()).select_from(EgressAuditEvent)).scalar_one())

    open_routes = {"/", "/login", "/auth/callback", "/static/{name}", "/logout", "/my"}
    with _client(env) as c:
        from egress_review.web import MODULES

        routes = [r for m in MODULES for r in m.router.routes if isinstance(r, APIRoute) and r.path not in open_routes]
        assert len(routes) >= 15
        s = _login(c, "bob", ["researcher"])
        before = snapshot()
        for route in routes:
            for request_id in (req, returned):
                f = env.get(request_id).files[0]
                path = route.path.format(request_id=request_id, file_id=f.id, release_id=rel, name="table.csv")
                for method in route.methods:
                    r = c.request(method, path, data={"csrf": s.csrf, "decision": "approve", "comment": "x",
                                                      "visibility": "shared", "text": "x", "action": "approve",
                                                      "context": "x", "controls": "x"} if method == "POST" else None)
                    assert r.status_code in (403, 404), f"{method} {path}: {r.status_code}"
                    assert request_id not in r.text or route.path.startswith("/admin"), f"{method} {path} leaks"
        assert snapshot() == before


def test_png_outputs_are_shown_as_images_and_pdfs_only_offered_for_download(env):
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buf, format="PNG")
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    from egress_review import submission
    from egress_review.states import FileKind
    from tests.unit.egress.egress_factories import researcher

    req = env.make_request(RequestState.DRAFT, files={"plot.png": buf.getvalue()})
    # a PDF cannot be rebuilt for release (policy: refused as an output), so it comes as supporting material
    env.store_file(researcher("alice", "alpha"), req, "report.pdf", pdf, kind=FileKind.SUPPORTING)
    env.act(lambda s, r: submission.submit(s, env.svc.audit, researcher("alice", "alpha"), r), req)
    files = {f.name: f.id for f in env.get(req).files}
    with _client(env) as c:
        _login(c, "chris", ["output-checker"])
        page = c.get(f"/requests/{req}").text
        assert f'<img class="output" src="/requests/{req}/files/{files["plot.png"]}/raw" alt="Image output plot.png">' in page
        raw = c.get(f"/requests/{req}/files/{files['plot.png']}/raw")
        assert raw.headers["content-type"] == "image/png" and raw.content == buf.getvalue()
        assert raw.headers["content-disposition"].startswith("inline")
        raw = c.get(f"/requests/{req}/files/{files['report.pdf']}/raw")
        assert raw.headers["content-type"] == "application/octet-stream"
        assert raw.headers["content-disposition"].startswith("attachment")


def test_checkers_see_the_matched_identifier_and_its_cell_the_researcher_a_mask(env):
    """Issue 14.4: the checker reads what matched and where; the flag message itself stays masked."""
    csv = b"district,contact,n\nGrefsen,ola.nordmann@example.no,120\nSagene,none,95\n"
    req = env.make_request(RequestState.SUBMITTED, files={"t.csv": csv})
    with _client(env) as c:
        _login(c, "chris", ["output-checker"])
        page = c.get(f"/requests/{req}").text
        reason = re.search(r'<li class="sev-fail"[^>]*><strong>identifier</strong>(.*?)</li>', page, re.S)
        text = __import__("html").unescape(reason.group(1)) if reason else ""
        assert "'ola.nordmann@example.no' at data row 1 ('Grefsen" in text and "column 2 ('contact')" in text
        assert "Contains an e-mail address (ol****" in text
        _login(c, "alice", ["researcher"])
        page = c.get(f"/requests/{req}").text
        assert "ola.nordmann@example.no" not in page.split('class="preview"')[0]
def test_request_page_puts_flagged_files_first_and_folds_clean_tables(env):
    """Layout for checkers: the flagged file comes first although it was sent second; the clean table is one
    summary line inside <details> with no suggested version (it would be identical); a long flagged table
    shows its flagged rows first and folds the rest; every output has its own vote box."""
    long_rows = "".join(f"Unit {i:02d},{100 + i},{120 + i}\n" for i in range(30))
    long_flagged = ("unit,women,men\n" + long_rows + "Unit 99,3,140\n").encode()
    req = env.make_request(RequestState.SUBMITTED, files={"clean.csv": SAFE_CSV.encode(), "long.csv": long_flagged,
                                                          "small.csv": b"district,women,men\nGrefsen,120,4\nSagene,7,95\n"})
    with _client(env) as c:
        _login(c, "chris", ["output-checker"])
        page = c.get(f"/requests/{req}").text
    order = re.findall(r'<section class="file[^"]*"[^>]*data-file="([^"]+)"', page)
    assert order.index("clean.csv") == 2 and set(order[:2]) == {"long.csv", "small.csv"}
    clean = page[page.index('data-file="clean.csv"'):]
    clean = clean[:clean.index("</section>")]
    assert '<details class="clean-table">' in clean and "no cell flagged" in clean
    assert 'data-table="suggested"' not in clean and 'class="reasons"' not in clean
    assert clean.index("<summary>") < clean.index('data-table="original"')  # the table is behind "show"
    long = page[page.index('data-file="long.csv"'):]
    long = long[:long.index("</section>")]
    flagged = long[long.index('data-table="flagged"'):]
    flagged = flagged[:flagged.index("</table>")]
    assert flagged.count("<tr>") == 2 and 'data-row="Unit 99"' in flagged  # header + the one flagged row
    assert long.index('data-table="flagged"') < long.index('<details class="all-rows">') < long.index('data-table="original"')
    assert page.count('<aside class="votes vote-box"') == 3 and page.count('class="vote"') == 3
    # a flagged table is never folded away: its failing cells are on the page, open
    small = page[page.index('data-file="small.csv"'):]
    small = small[:small.index("</section>")]
    assert "clean-table" not in small and "all-rows" not in small and small.count('<td class="fail"') == 2
    assert "clean-table" not in long and long.count('<td class="fail"') >= 1


def test_request_layout_orders_by_flags_then_verdict():
    from types import SimpleNamespace as F

    from egress_review.web.request_layout import file_order

    files = [F(id="a", kind="output"), F(id="s", kind="supporting"), F(id="b", kind="output"), F(id="c", kind="output")]
    order = file_order(files, {"a": "pass", "s": "fail", "b": "review", "c": "fail"}, {"b": 1, "c": 2, "s": 1})
    assert [f.id for f in order] == ["c", "b", "a", "s"]
