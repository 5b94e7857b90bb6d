"""R in JupyterLab as a researcher uses it (issue 17.1), in Chromium through Keycloak's real login: the
launcher offers the R kernel, a new R notebook makes a table with ``sdc_crosstab(..., entity =)`` and
requests its release with ``request_export()``, and the request (with the R table and its sidecar) is in
the egress queue under the project and the researcher."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from hubtest import RUN
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

PASSWORD = "correct horse battery staple 8"
EXPORT_NAME = "crosstab_service_area_gender.csv"
R_CELL = """library(sdc)
staff <- sdc_read_extract(list.files("/data", pattern = "^staff.*[.]parquet$", full.names = TRUE)[1])
r <- sdc_crosstab(staff, rows = "service_area", cols = "gender", entity = "national_id")
print(r$summary)
export <- request_export(list(r), context = "People per service area and gender",
                         controls = "entity-level counts; cells under the threshold suppressed",
                         title = "R notebook in the browser", show = FALSE)
cat(sprintf("Release request %s: %s\\n", export$request_id, export$state))
for (f in export$files) cat(sprintf("%s: %s\\n", f$name, f$verdict))
"""


def test_an_r_notebook_requests_a_release_from_jupyterlab(kc_hub, keycloak, provisioner):
    from playwright.sync_api import sync_playwright

    user = f"randi{RUN}"
    keycloak.create_user(user, PASSWORD, realm_roles=["researcher"])
    slug = provisioner.sick_leave_project("r-browser", {user: "researcher"})
    hub_url = kc_hub.process.url
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1366, "height": 900})
            page = context.new_page()
            page.goto(f"{hub_url}/hub/login", timeout=60_000)
            page.click("a.btn")
            page.fill("#username", user)
            page.fill("#password", PASSWORD)
            page.click("#kc-login")
            page.wait_for_url("**/hub/home**", timeout=60_000)
            page.click(f"#start-{slug}")
            page.wait_for_url(f"**/user/{user}/{slug}/lab**", timeout=180_000)
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)  # Welcome.ipynb is open
            # both welcome notebooks are in the file browser
            page.locator(".jp-DirListing-item", has_text="Welcome-R.ipynb").wait_for(timeout=30_000)
            # the launcher offers R among the notebook kernels
            page.locator("#jp-MainMenu .lm-MenuBar-itemLabel", has_text=re.compile(r"^File$")).click()
            page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^New Launcher$")).click()
            card = page.locator(".jp-LauncherCard[data-category='Notebook']").filter(
                has=page.locator(".jp-LauncherCard-label", has_text=re.compile(r"^R$")))
            card.wait_for(timeout=30_000)
            card.click()
            try:
                page.locator("#jp-main-statusbar", has_text=re.compile(r"R\s*\|\s*Idle")).wait_for(timeout=120_000)
            except Exception:
                page.screenshot(path=f"/tmp/r-notebook-{RUN}.png", full_page=True)
                print(repr(page.locator("#jp-main-statusbar").inner_text()))
                raise
            editor = page.locator(".jp-NotebookPanel:visible .jp-Cell .cm-content").first
            editor.click()
            page.keyboard.insert_text(R_CELL)  # no key events: the editor adds no closing brackets
            page.keyboard.press("Shift+Enter")
            output = page.locator(".jp-NotebookPanel:visible .jp-CodeCell").first.locator(".jp-OutputArea")
            try:
                output.get_by_text(re.compile(re.escape(EXPORT_NAME) + r": (pass|review|fail|pending)$", re.M)).wait_for(
                    timeout=120_000)
            except Exception:
                page.screenshot(path=f"/tmp/r-notebook-{RUN}.png", full_page=True)
                print(page.locator(".jp-NotebookPanel:visible").inner_text()[-3000:])
                raise
            text = output.inner_text()
            context.close()
        finally:
            browser.close()
    printed = re.search("^" + re.escape(EXPORT_NAME) + r": (pass|review|fail|pending)$", text, re.M).group(1)
    request_id = re.search(r"Release request (\S+): submitted", text).group(1)

    from egress_review.models import FileVersion, ReleaseRequest, RequestFile

    with provisioner.sessions() as s:
        req = s.execute(select(ReleaseRequest).where(ReleaseRequest.id == request_id)).scalar_one()
        assert (req.project, req.requester, req.state) == (slug, user, "submitted")
        files = s.execute(select(RequestFile.name, FileVersion.verdict, FileVersion.sidecar)
                          .join(FileVersion, FileVersion.file_id == RequestFile.id)
                          .where(RequestFile.request_id == request_id)).all()
    assert [(n, v) for n, v, _ in files] == [(EXPORT_NAME, printed)]
    assert printed in ("pass", "review", "fail") and all(sc for _, _, sc in files)
