"""The spawn page as a person uses it: Chromium logs in through Keycloak's real login page, clicks the
project's button, and lands in JupyterLab on that project's server. (The scripted flow in
test_researcher_flow.py starts servers by URL; only a browser runs the page's form and its CSRF token.)"""

from __future__ import annotations

import pytest

from hubtest import RUN
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

PASSWORD = "correct horse battery staple 8"


def test_project_button_starts_that_projects_server(kc_hub, keycloak, provisioner):
    from playwright.sync_api import sync_playwright

    user = f"siri{RUN}"
    keycloak.create_user(user, PASSWORD, realm_roles=["researcher"])
    mine = provisioner.open_project("page-a", {user: "researcher"})
    hub_url = kc_hub.process.url
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{hub_url}/hub/login", timeout=60_000)
            page.click("a.btn")  # "Sign in with Keycloak"
            page.fill("#username", user)
            page.fill("#password", PASSWORD)
            page.click("#kc-login")
            page.wait_for_url("**/hub/spawn**", timeout=60_000)
            assert not page.locator("#spawn_form .feedback-container").is_visible()  # no project-less Start
            page.click(f"button[value='{mine}']")
            page.wait_for_url(f"**/user/{user}/{mine}/lab**", timeout=180_000)
        finally:
            browser.close()
    with kc_hub.api() as api:
        servers = api.get(f"/users/{user}").json().get("servers") or {}
    assert servers.get(mine, {}).get("ready") is True
    kc_hub.stop_server(user, mine)
