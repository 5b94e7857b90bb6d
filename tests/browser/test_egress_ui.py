"""The egress web UI in a real browser (Chromium via Playwright) against the running service and the
real Keycloak: a researcher submits with the client, two checkers approve through the pages, the
researcher downloads the release and its signed manifest; a checker who is a member of the project is
refused by the server even when posting the form by hand; the highlighted cells are exactly the ones
that fail the threshold rule. Screenshots for the README are written to docs/screenshots/."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re

import pytest
from sqlalchemy import create_engine, select

from egress_review.checks import load_disclosure_policy
from egress_review.models import Vote
from tests.browser.conftest import PROJECT, SCREENSHOTS, EgressUI

pytestmark = pytest.mark.browser

SAFE_CSV = "district,people\nGrefsen,120\nSagene,340\nFrogner,415\n"
SMALL_CSV = "district,women,men\nGrefsen,120,4\nSagene,7,95\nFrogner,210,180\nAlna,33,2\n"
SCRIPTED_SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40"><rect width="120" height="40" '
                'fill="#4a90d9"/><script>alert("svg ran")</script></svg>')


def _expected_failing(text: str, min_count: int) -> set[tuple[str, str]]:
    """Computed from the data and the policy, independently of the service: count cells under the threshold."""
    rows = list(csv.reader(io.StringIO(text)))
    header = rows[0]
    return {(r[0], header[j]) for r in rows[1:] for j in range(1, len(header)) if 0 < int(r[j]) < min_count}


@pytest.fixture(scope="module")
def submitted(egress_ui: EgressUI, tmp_path_factory):
    """Two requests of project ui-study submitted by ui-rita through the researcher client."""
    from egress_review.client import request_export

    tmp = tmp_path_factory.mktemp("outputs")
    safe = tmp / "sick_leave_by_district.csv"
    safe.write_text(SAFE_CSV)
    small = tmp / "sick_leave_by_sex.csv"
    small.write_text(SMALL_CSV)
    svg = tmp / "figure.svg"
    svg.write_text(SCRIPTED_SVG)
    with egress_ui.client("ui-rita") as client:
        first = request_export([safe], context="Sick-leave cases by district, 2024",
                               controls="Counts of people; every cell at least 10", title="Cases by district",
                               client=client, show=False)
        second = request_export([small], context="Sick-leave cases by district and sex",
                                controls="None yet", supporting=[svg], title="Cases by district and sex",
                                client=client, show=False)
    assert first.state == second.state == "submitted"
    return {"safe": first.request_id, "small": second.request_id, "safe_bytes": SAFE_CSV.encode()}


def _votes(ui: EgressUI, request_file_name: str) -> list[Vote]:
    engine = create_engine(ui.database_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(select(Vote)).all())
    finally:
        engine.dispose()


def test_checker_queue_lists_waiting_requests_with_count_in_title(login, egress_ui, submitted):
    chris = login("ui-chris", "/queue")
    page = chris.page
    assert re.search(r"Review queue \(2\)", page.title()), page.title()
    rows = page.locator("#queue tbody tr")
    assert rows.count() == 2
    assert {rows.nth(i).get_attribute("data-request") for i in range(2)} == {submitted["safe"], submitted["small"]}
    # the worst verdict of the small-cells request is "fail", shown with a text marker, not colour alone
    small_row = page.locator(f"#queue tr[data-request='{submitted['small']}']")
    assert "fail" in small_row.inner_text()
    assert PROJECT in small_row.inner_text() and "ui-rita" in small_row.inner_text()
    # filtering by verdict keeps only the failing one
    page.select_option("select[name=verdict]", "fail")
    page.click("form.filters button[type=submit]")
    assert page.locator("#queue tbody tr").count() == 1
    assert "(1)" in page.title()
    page.goto(egress_ui.url + "/queue")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "queue.png"), full_page=True)
    # the session cookie is HttpOnly and SameSite=Lax (Secure is relaxed only for this loopback test run)
    cookie = next(c for c in chris.context.cookies() if c["name"] == "sk_session")
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax"


def test_highlighted_cells_are_exactly_the_failing_ones(login, egress_ui, submitted):
    chris = login("ui-chris", f"/requests/{submitted['small']}")
    page = chris.page
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.reload()
    original = page.locator("section.file[data-file='sick_leave_by_sex.csv'] table[data-table=original]")
    highlighted = {
        (td.get_attribute("data-row"), td.get_attribute("data-col"))
        for td in original.locator("td.fail").all()
    }
    expected = _expected_failing(SMALL_CSV, load_disclosure_policy().threshold.min_count)
    assert expected and highlighted == expected
    for td in original.locator("td.fail").all():
        assert "✖" in td.inner_text()  # a text marker, not colour alone
        assert "minimum" in (td.get_attribute("title") or "")  # the reason on hover
    # every other cell is plain
    assert original.locator("td").count() - original.locator("td.fail").count() == 8 - len(expected)
    # the reasons are also listed, and the suggested protected version blanks the failing cells
    reasons = page.locator("section.file[data-file='sick_leave_by_sex.csv'] .reason-list li")
    assert reasons.count() >= len(expected)
    suggested = page.locator("section.file[data-file='sick_leave_by_sex.csv'] table[data-table=suggested]")
    suppressed = {(td.get_attribute("data-row"), td.get_attribute("data-col")) for td in suggested.locator("td.suppressed").all()}
    assert expected <= suppressed
    # the page forbids scripts, and the SVG with a script is shown inert (image + escaped source)
    response = page.request.get(page.url)
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert page.locator("section.file[data-file='figure.svg'] img.output").count() == 1
    raw = page.locator("section.file[data-file='figure.svg'] img.output").get_attribute("src")
    page.goto(egress_ui.url + raw)  # opened on its own: sandboxed, the script must not run
    assert "sandbox" in page.request.get(egress_ui.url + raw).headers["content-security-policy"]
    page.goto(egress_ui.url + f"/requests/{submitted['small']}")
    assert dialogs == []
    # The top of the page: summary, the flagged table beside its protected version, the vote form.
    page.screenshot(path=str(SCREENSHOTS / "request.png"), full_page=True,
                    clip={"x": 0, "y": 0, "width": 1366, "height": 1560})


def test_member_checker_cannot_approve_even_by_posting_the_form(login, egress_ui, submitted):
    mona = login("ui-mona", "/queue")
    page = mona.page
    assert "(0)" in page.title()  # her own project's requests are not in her queue
    page.goto(egress_ui.url + f"/requests/{submitted['safe']}")
    assert "member of project" in page.inner_text("main")
    assert page.locator("form.vote").count() == 0  # no form offered ...
    file_id = _file_id(page, "sick_leave_by_district.csv", egress_ui, submitted["safe"])
    # ... and the server refuses the vote when she posts it anyway, with a valid CSRF token
    response = page.request.post(
        egress_ui.url + f"/requests/{submitted['safe']}/files/{file_id}/vote",
        form={"csrf": mona.csrf(), "decision": "approve", "comment": "", "visibility": "checkers"},
    )
    assert response.status == 403, response.status
    assert "conflict of interest" in response.text()
    assert not [v for v in _votes(egress_ui, "") if v.reviewer == "ui-mona"]
    # a form without the CSRF token is refused before anything else
    response = page.request.post(egress_ui.url + f"/requests/{submitted['safe']}/review", form={})
    assert response.status == 403


def _file_id(page, name: str, ui: EgressUI, request_id: str) -> str:
    from egress_review.models import RequestFile

    engine = create_engine(ui.database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(
                select(RequestFile.id).where(RequestFile.request_id == request_id, RequestFile.name == name)
            ).scalar_one()
    finally:
        engine.dispose()


def _approve_as(login, username: str, ui: EgressUI, request_id: str):
    session = login(username, f"/requests/{request_id}")
    page = session.page
    form = page.locator("section.file[data-file='sick_leave_by_district.csv'] form.vote")
    form.locator("input[value=approve]").check()
    form.locator("textarea[name=comment]").fill("Counts are all well above the threshold.")
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert "Your vote is saved" in page.inner_text("main")
    page.click("section.actions form button:has-text('Submit my review')")
    page.wait_for_load_state()
    assert "Your review is submitted" in page.inner_text("main")
    return session


def test_two_checkers_approve_and_the_researcher_downloads(login, egress_ui, submitted, tmp_path):
    request_id = submitted["safe"]
    _approve_as(login, "ui-chris", egress_ui, request_id)
    cora = _approve_as(login, "ui-cora", egress_ui, request_id)
    page = cora.page
    assert "Independent reviews: 2 of 2" in page.inner_text("#two-person")
    assert "2 of 2 approvals" in page.inner_text("section.file[data-file='sick_leave_by_district.csv'] .approvals")
    page.click("button[name=action][value=approve]")
    page.wait_for_load_state()
    assert page.inner_text("#state").strip() == "released"

    rita = login("ui-rita", "/my")
    page = rita.page
    row = page.locator(f"#my-requests tr[data-request='{request_id}']")
    assert "released" in row.inner_text()
    row.locator("a", has_text="View").click()
    page.wait_for_load_state()
    with page.expect_download() as got:
        page.click("#released-files a")
    data = got.value.path().read_bytes()
    assert data == submitted["safe_bytes"]
    with page.expect_download() as got:
        page.click("a:has-text('Signed manifest')")
    document = json.loads(got.value.path().read_text())
    # the manifest verifies under the service's published key and names the two approvers
    import httpx

    from egress_review.release.signing import load_public_key, verify_document

    key = load_public_key(httpx.get(egress_ui.url + "/api/v1/release-key").content)
    manifest = verify_document(document, key)
    assert manifest["files"][0]["sha256"] == hashlib.sha256(data).hexdigest()
    assert manifest["approvers"] == ["ui-chris", "ui-cora"]
    # Norwegian labels come from the same catalogue
    page.goto(egress_ui.url + "/my?lang=nb")
    assert "Mine forespørsler" in page.title()


def test_researcher_of_another_project_sees_nothing(login, egress_ui, submitted):
    otto = login("ui-otto", f"/requests/{submitted['safe']}")
    assert "no such release request" in otto.page.inner_text("main")
    otto.page.goto(egress_ui.url + "/queue")
    assert "output checkers" in otto.page.inner_text("main")


def test_admin_sees_projects_members_and_an_intact_audit_chain(login, egress_ui, submitted):
    ada = login("ui-ada", "/admin/projects")
    page = ada.page
    table = page.inner_text("#projects")
    assert PROJECT in table and "ui-rita (researcher)" in table and "ui-mona (lead)" in table
    page.goto(egress_ui.url + "/admin/audit")
    assert "intact" in page.inner_text("#chain-status")
    assert "intact" in page.inner_text("#provisioning-chain-status")
    assert page.locator("#audit tbody tr").count() > 0


def _vote_changes(login, username: str, request_id: str, comment: str):
    session = login(username, f"/requests/{request_id}")
    page = session.page
    form = page.locator("section.file[data-file='sick_leave_by_sex.csv'] form.vote")
    form.locator("input[value=changes_requested]").check()
    form.locator("textarea[name=comment]").fill(comment)
    form.locator("select[name=visibility]").select_option("shared")
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    page.click("section.actions form button:has-text('Submit my review')")
    page.wait_for_load_state()
    assert "Your review is submitted" in page.inner_text("main")
    return session


def test_returned_request_is_changed_and_resubmitted_by_the_researcher(login, egress_ui, submitted):
    import httpx

    request_id = submitted["small"]
    # A vote other than approve needs a comment: the server refuses an empty one.
    chris = login("ui-chris", f"/requests/{request_id}")
    form = chris.page.locator("section.file[data-file='sick_leave_by_sex.csv'] form.vote")
    form.locator("input[value=changes_requested]").check()
    form.locator("button[type=submit]").click()
    chris.page.wait_for_load_state()
    assert "needs a comment" in chris.page.inner_text("main")

    _vote_changes(login, "ui-chris", request_id, "Suppress the cells under 10.")
    cora = _vote_changes(login, "ui-cora", request_id, "Agree: three cells are too small.")
    page = cora.page
    assert "reviewed" in page.inner_text("#state")
    page.fill("#dec-comment", "Please suppress the small cells and resubmit.")
    page.click("button[name=action][value=return]")
    page.wait_for_load_state()
    assert page.inner_text("#state").strip() == "returned"

    rita = login("ui-rita", "/my")
    page = rita.page
    row = page.locator(f"#my-requests tr[data-request='{request_id}']")
    assert "returned" in row.inner_text()
    row.locator("a").first.click()
    page.wait_for_load_state()
    text = page.inner_text("main")
    # the shared comments reach the researcher
    assert "Please suppress the small cells and resubmit." in text
    assert "Suppress the cells under 10." in text
    # a new version comes from inside the project (project token), then the researcher resubmits here
    file_id = _file_id(page, "sick_leave_by_sex.csv", egress_ui, request_id)
    protected = "district,women,men\nGrefsen,120,\nSagene,,95\nFrogner,210,180\nAlna,33,\n"
    up = httpx.put(egress_ui.url + f"/api/v1/requests/{request_id}/files/{file_id}/content",
                   content=protected.encode(),
                   headers={"Authorization": f"Bearer {egress_ui.project_token('ui-rita')}",
                            "Content-Type": "application/octet-stream"}, timeout=60)
    assert up.status_code == 200, up.text
    page.reload()
    page.click("button:has-text('Resubmit')")
    page.wait_for_load_state()
    assert page.inner_text("#state").strip() == "submitted"

    # back in the checker's queue, to review afresh (the old votes were reset with the new version)
    chris = login("ui-chris", "/queue")
    row = chris.page.locator(f"#queue tr[data-request='{request_id}']")
    assert "To review" in row.inner_text()
    chris.page.goto(egress_ui.url + f"/requests/{request_id}")
    original = chris.page.locator("section.file[data-file='sick_leave_by_sex.csv'] table[data-table=original]")
    assert original.locator("td.fail").count() == 0
    assert "Version 2" in chris.page.inner_text("section.file[data-file='sick_leave_by_sex.csv'] .meta")
    # the project's earlier release is listed for context, and the history shows the round trip
    earlier = chris.page.inner_text("section[aria-labelledby=er-h]")
    assert submitted["safe"][:8] in earlier and "sick_leave_by_district.csv" in earlier
    history = chris.page.inner_text("section[aria-labelledby=hist-h]")
    assert "request.return" in history and "request.resubmit" in history


def test_keyboard_skip_link_and_logout(login, egress_ui, submitted):
    chris = login("ui-chris", "/queue")
    page = chris.page
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    # every form control on the request page has a label
    page.goto(egress_ui.url + f"/requests/{submitted['small']}")
    unlabeled = page.evaluate(
        "[...document.querySelectorAll('textarea, select, input:not([type=hidden])')]"
        ".filter(e => !(e.labels && e.labels.length)).map(e => e.name)")
    assert unlabeled == []
    # logging out ends the Keycloak session too: the next visit asks for the password again
    page.click("header form button:has-text('Log out')")
    page.wait_for_load_state()
    assert "You are logged out" in page.inner_text("main")
    page.goto(egress_ui.url + "/queue")
    page.wait_for_selector("#kc-form-login", timeout=30000)


def test_expired_access_is_refreshed_at_keycloak_and_a_removed_role_takes_effect(login, egress_ui, keycloak):
    """The session keeps only the refresh token: when the access token has expired the service asks
    Keycloak again and re-validates, so a role removed in Keycloak is gone from the UI at once."""
    from egress_review.web.session import SESSION_COOKIE, CookieBox

    box = CookieBox(egress_ui.session_secret.encode())
    carla = login("ui-carla", "/queue")
    page = carla.page
    assert "Review queue" in page.title()

    def expire_access() -> float:
        cookie = next(c for c in carla.context.cookies() if c["name"] == SESSION_COOKIE)
        session = box.open_session(cookie["value"], 3600)
        assert session is not None and session.roles == ["output-checker"]
        old = session.access_expires
        session.access_expires = 0
        carla.context.add_cookies([{**cookie, "value": box.seal_session(session)}])
        return old

    old = expire_access()
    page.goto(egress_ui.url + "/queue")
    assert "Review queue" in page.title()  # refreshed, still a checker
    cookie = next(c for c in carla.context.cookies() if c["name"] == SESSION_COOKIE)
    assert box.open_session(cookie["value"], 3600).access_expires >= old  # a new access token was fetched

    admin = keycloak.admin()
    user_id = admin.get_user_id("ui-carla")
    admin.delete_realm_roles_of_user(user_id, [admin.get_realm_role("output-checker")])
    try:
        expire_access()
        page.goto(egress_ui.url + "/queue")
        assert page.title().startswith("Not possible")  # no longer a checker: the queue is refused
    finally:
        admin.assign_realm_roles(user_id, [admin.get_realm_role("output-checker")])


def test_deciding_the_demo_request_takes_one_screen_per_clean_file(login, egress_ui, tmp_path):
    """A newcomer's request as the demo produces it: two tables from the sdc wrappers on the synthetic
    sick-leave data, one protected (clean) and one raw with failing cells. A checker decides it: votes on
    each file (request changes on the flagged one, approve the clean one) and submits the review. The
    page's height, the pixels scrolled and the clicks are measured and printed; a clean file must fit
    in one screen, and the flagged file comes first."""
    from egress_review.client import request_export
    from egress_review.sdc import crosstab, pivot_table
    from provisioning.synth.generate import generate

    data = generate(employees=3000, seed=14)
    staff, episodes = data.staff, data.sick_leave
    clean = crosstab(staff.unit, staff.gender, entity=staff.national_id)  # exported protected: nothing fails
    flagged = pivot_table(episodes, values="days", index="service_area", columns="gender", aggfunc="mean",
                          entity="national_id")
    assert flagged.summary.status != "pass"
    raw = tmp_path / "mean_days_by_area_gender.csv"
    flagged.export(raw, protected=False)  # the raw table, failing cells and all
    with egress_ui.client("ui-rita") as client:
        sent = request_export({"staff_by_unit_gender.csv": clean, "mean_days_by_area_gender.csv": raw},
                              context="Demo: staff per unit and gender; mean sick-leave days per area and gender",
                              controls="sdc wrappers, entity-level", title="Demo request", client=client, show=False)
    verdicts = {f.name: f.verdict for f in sent.files}
    assert verdicts["staff_by_unit_gender.csv"] == "pass" and verdicts["mean_days_by_area_gender.csv"] != "pass"

    page = login("ui-cora", f"/requests/{sent.request_id}").page
    viewport = page.viewport_size["height"]
    order = page.eval_on_selector_all("section.file", "els => els.map(e => e.dataset.file)")
    assert order == ["mean_days_by_area_gender.csv", "staff_by_unit_gender.csv"]
    heights = {name: page.locator(f"section.file[data-file='{name}']").bounding_box()["height"] for name in order}
    page_height = page.evaluate("document.documentElement.scrollHeight")
    assert heights["staff_by_unit_gender.csv"] <= viewport, heights  # one screen per clean file

    measured = {"scrolled": 0, "clicks": 0}

    def reach(locator) -> None:
        before = page.evaluate("window.scrollY")
        locator.scroll_into_view_if_needed()
        measured["scrolled"] += abs(page.evaluate("window.scrollY") - before)

    def click(locator) -> None:
        reach(locator)
        locator.click()
        measured["clicks"] += 1

    for name in order:
        form = page.locator(f"section.file[data-file='{name}'] form.vote")
        if name == "mean_days_by_area_gender.csv":
            click(form.locator("input[value=changes_requested]"))
            form.locator("textarea[name=comment]").fill("Please export the protected version.")
        click(form.locator("button[type=submit]"))
        page.wait_for_load_state()
        assert "Your vote is saved" in page.inner_text("main")
    click(page.locator("section.actions form button:has-text('Submit my review')"))
    page.wait_for_load_state()
    assert "Your review is submitted" in page.inner_text("main")
    print(f"\ndemo request page: {page_height} px tall at a {viewport} px viewport "
          f"(file sections: {', '.join(f'{n} {h:.0f} px' for n, h in heights.items())}); deciding it took "
          f"{measured['scrolled']} px of scrolling and {measured['clicks']} clicks")
    assert measured["clicks"] == 4  # two votes (one choice changed), one review: nothing to open or find
    # the vote box stays in view while a tall file scrolls past (sticky): open every table and look
    page.goto(egress_ui.url + f"/requests/{sent.request_id}")
    for summary in page.locator("section.file details > summary").all():
        summary.click()
    section = page.locator("section.file[data-file='staff_by_unit_gender.csv']")
    box = section.bounding_box()
    assert box["height"] > viewport  # the whole unit table, opened
    page.evaluate(f"window.scrollTo(0, {box['y'] + box['height'] - viewport / 2})")
    aside = section.locator("aside.vote-box").bounding_box()
    assert 0 <= aside["y"] < viewport, aside
