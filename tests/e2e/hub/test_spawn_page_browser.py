"""The hub's pages as a person uses them, in Chromium through Keycloak's real login page: the project
list (Start / Open and Stop / why not; no default server, no free-text server names), starting a
project lands in JupyterLab on its Welcome.ipynb, whose worked example runs with Run All and sends its
export to the egress queue; after a re-login (a closed tab, the next morning) the running server opens
at once, and its Start link opens it too instead of "400: ... is already running"."""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import select

from hubtest import RUN
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

PASSWORD = "correct horse battery staple 8"
EXPORT_NAME = "sick_leave_pct_by_service_area_and_year.csv"


def _login(browser, hub_url: str, user: str):
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.goto(f"{hub_url}/hub/login", timeout=60_000)
    page.click("a.btn")  # "Sign in with Keycloak"
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("#kc-login")
    return context, page


def _run_all(page) -> str:
    """Run > Run All Cells in JupyterLab; returns the last cell's output once the export is printed."""
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
    # Run All before the kernel is connected runs the first cell only
    page.locator(".jp-StatusBar-Widget", has_text=re.compile(r"Python 3 \(ipykernel\) \| Idle")).first.wait_for(timeout=120_000)
    page.locator("#jp-MainMenu .lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    last = page.locator(".jp-Notebook .jp-CodeCell").last.locator(".jp-OutputArea")
    try:
        last.get_by_text(re.compile(re.escape(EXPORT_NAME) + r": (pass|review|fail|pending)$", re.M)).wait_for(timeout=120_000)
    except Exception:
        page.screenshot(path="/tmp/nc/runall.png", full_page=True)
        print(page.locator(".jp-Notebook").inner_text()[-3000:])
        raise
    return last.inner_text()


def test_projects_page_run_all_and_relogin_opens_the_running_server(kc_hub, keycloak, provisioner):
    from playwright.sync_api import sync_playwright

    user = f"siri{RUN}"
    keycloak.create_user(user, PASSWORD, realm_roles=["researcher"])
    mine = provisioner.sick_leave_project("page-a", {user: "researcher"})
    paused = provisioner.open_project("page-p", {user: "researcher"})
    provisioner.suspend(paused)
    hub_url = kc_hub.process.url
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            # First visit: nothing runs, the login lands on the project list.
            context, page = _login(browser, hub_url, user)
            page.wait_for_url("**/hub/home**", timeout=60_000)
            text = page.inner_text("body")
            assert "Start My Server" not in text and "Add New Server" not in text and "Named Servers" not in text
            assert page.locator("input.new-server-name").count() == 0
            row = page.locator(f"tr.project-row[data-server-name='{mine}']")
            assert row.get_attribute("data-state") == "stopped"
            stopped = page.locator(f"tr.project-row[data-server-name='{paused}']")
            assert "suspended" in stopped.inner_text() and stopped.locator("a").count() == 0  # why not, no button
            # The spawn page is the same list (the default server's form is gone).
            page.goto(f"{hub_url}/hub/spawn")
            assert page.locator("#spawn_form").count() == 0 and page.locator(f"#start-{mine}").count() == 1
            page.click(f"#start-{mine}")
            page.wait_for_url(f"**/user/{user}/{mine}/lab**", timeout=180_000)

            # The worked example runs top to bottom in the browser and sends its export.
            output = _run_all(page)
            printed = re.search("^" + re.escape(EXPORT_NAME) + r": (pass|review|fail|pending)$", output, re.M).group(1)
            request_id = re.search(r"Release request (\S+): submitted", page.locator(".jp-Notebook").inner_text()).group(1)
            context.close()  # the tab is closed; the server keeps running

            # Re-login: the running server opens at once.
            context, page = _login(browser, hub_url, user)
            page.wait_for_url(f"**/user/{user}/{mine}/**", timeout=120_000)
            # The project list says it runs, with Open and Stop; its Start URL opens it (no 400).
            page.goto(f"{hub_url}/hub/home")
            row = page.locator(f"tr.project-row[data-server-name='{mine}']")
            assert row.get_attribute("data-state") == "running"
            assert row.locator("a.open-project").is_visible() and row.locator(f"#stop-{mine}").is_visible()
            response = page.goto(f"{hub_url}/hub/spawn/{user}/{mine}")
            assert response.status < 400
            page.wait_for_url(f"**/user/{user}/{mine}/**", timeout=60_000)
            # Stop from the list: the row then offers Start again.
            page.goto(f"{hub_url}/hub/home")
            page.click(f"#stop-{mine}")
            page.locator(f"tr.project-row[data-server-name='{mine}'] a.start-server").wait_for(state="visible", timeout=60_000)
            context.close()
        finally:
            browser.close()

    with kc_hub.api() as api:
        deadline = time.monotonic() + 30
        while (api.get(f"/users/{user}").json().get("servers") or {}).get(mine) and time.monotonic() < deadline:
            time.sleep(0.3)
        assert not (api.get(f"/users/{user}").json().get("servers") or {}).get(mine)

    from egress_review.models import FileVersion, ReleaseRequest, RequestFile

    with provisioner.sessions() as s:
        req = s.execute(select(ReleaseRequest).where(ReleaseRequest.id == request_id)).scalar_one()
        assert (req.project, req.requester, req.state) == (mine, user, "submitted")
        files = s.execute(select(RequestFile.name, RequestFile.kind, FileVersion.verdict)
                          .join(FileVersion, FileVersion.file_id == RequestFile.id)
                          .where(RequestFile.request_id == request_id).order_by(RequestFile.kind)).all()
    outputs = [(name, verdict) for name, kind, verdict in files if kind == "output"]
    assert outputs == [(EXPORT_NAME, printed)] == [(EXPORT_NAME, "pass")]
    # the worked example's table is made from derived columns, which the replay cannot describe: the
    # notebook goes with it as a supporting file (never released) for the checkers' "View code"
    assert [(name, kind) for name, kind, _ in files if kind != "output"] == [("Welcome.ipynb", "supporting")]
