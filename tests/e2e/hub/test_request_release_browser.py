"""Issue 17, item 2: "Request release" inside JupyterLab, in Chromium through Keycloak's real login.

A researcher right-clicks a table in the file browser, asks for its release with context, controls
and a supporting file, and sees the automatic verdicts in the side panel; two output checkers (the
egress API with their Keycloak tokens) send it back with a shared comment, which the panel shows;
the researcher submits a new version and the request is back with the checkers. Along the way: the
project token reaches no page or answer the browser gets, the extension's handlers refuse a request
without Jupyter's XSRF header and without a login, and refuse paths that leave the home (a link
planted in the home to the project's extract, ``..``).

Real components: Keycloak of the test bed, the egress service (uvicorn) with Keycloak settings on a
database of this module (its master key and audit chain are its own), a hub on this host spawning
the notebook image with the extension built in."""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import time

import docker
import httpx
import pytest

from hubtest import RUN, Provisioner, _remove_test_objects, run_probe, start_egress
from sandkasse.settings import REPO_ROOT
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

TABLE = "district_days.csv"
TABLE_V1 = "area,people\ncare,120\nschools,340\ntechnical,415\n"
TABLE_V2 = "area,people\ncare,120\nschools,340\ntechnical,415\nadministration,200\n"
RETURN_COMMENT = "Please add the administration row and send it again."
SCREENSHOT = REPO_ROOT / "docs" / "screenshots" / "request-release.png"


@pytest.fixture(scope="module")
def stack(hub_factory, keycloak, project_token_key, hub_workdir, docker_client):
    researcher, checkers = f"rel{RUN}", [f"relchk{RUN}a", f"relchk{RUN}b"]
    password = secrets.token_urlsafe(16)
    keycloak.create_user(researcher, password, realm_roles=["researcher"])
    for c in checkers:
        keycloak.create_user(c, password, realm_roles=["output-checker"])
    prov = Provisioner(f"sqlite:///{hub_workdir / 'release.db'}")
    slug = prov.open_project("release", {researcher: "researcher"}, rows=60)
    extra = {"SANDKASSE_KEYCLOAK_URL": keycloak.url, "SANDKASSE_KEYCLOAK_REALM": keycloak.realm}
    with start_egress(prov.url, project_token_key, hub_workdir / "release-egress", extra) as port:
        hub = hub_factory("sandkasse-keycloak", egress_port=port, extra_env={
            "SANDKASSE_DATABASE_URL": prov.url,
            "SANDKASSE_KEYCLOAK_URL": keycloak.url,
            "SANDKASSE_KEYCLOAK_REALM": keycloak.realm,
            "SANDKASSE_HUB_CLIENT_SECRET": keycloak.client_secret("sandkasse-hub"),
        })
        try:
            yield {"hub": hub, "egress": f"http://127.0.0.1:{port}", "slug": slug, "researcher": researcher,
                   "checkers": checkers, "password": password, "keycloak": keycloak}
        finally:
            try:
                hub.stop_server(researcher, slug)
            except Exception:
                pass
            for _ in range(10):  # the stop above may still be removing the container
                try:
                    _remove_test_objects(docker_client, [slug])
                    break
                except docker.errors.APIError:
                    time.sleep(1)
            prov.cleanup()


def _checker_returns(stack, request_id: str) -> None:
    """Both checkers ask for changes with a shared comment and submit; the first returns the request."""
    for name in stack["checkers"]:
        token = stack["keycloak"].token(name, stack["password"])["access_token"]
        with httpx.Client(base_url=stack["egress"] + "/api/v1", headers={"Authorization": f"Bearer {token}"},
                          timeout=30, trust_env=False) as api:
            detail = api.get(f"/requests/{request_id}").json()
            for f in detail["files"]:
                if f["kind"] == "output":
                    vote = api.put(f"/requests/{request_id}/files/{f['id']}/vote",
                                   json={"decision": "changes_requested", "comment": "a row is missing",
                                         "visibility": "shared"})
                    assert vote.status_code == 200, vote.text
            assert api.post(f"/requests/{request_id}/reviews").status_code == 200
            if name == stack["checkers"][0]:
                continue
            back = api.post(f"/requests/{request_id}/return", json={"comment": RETURN_COMMENT})
            assert back.status_code == 200 and back.json()["state"] == "returned", back.text


def _fetch(page, path: str, *, body: dict | None = None, xsrf: bool) -> dict:
    """A POST (GET without ``body``) from the page's own origin and cookies, with or without Jupyter's
    XSRF header (JupyterHub asks for it on every cookie-authenticated API call, GET included)."""
    return page.evaluate(
        """async ([path, body, xsrf]) => {
            const headers = {'Content-Type': 'application/json'};
            if (xsrf) {
                const c = document.cookie.split('; ').find(c => c.startsWith('_xsrf='));
                headers['X-XSRFToken'] = c ? decodeURIComponent(c.slice(6)) : '';
            }
            const init = body === null ? {headers} : {method: 'POST', headers, body: JSON.stringify(body)};
            const r = await fetch(path, {...init, credentials: 'same-origin'});
            return {status: r.status, text: await r.text()};
        }""",
        [path, body, xsrf],
    )


def test_request_release_from_the_file_browser_see_verdicts_and_comment_and_resubmit(stack):
    from playwright.sync_api import sync_playwright

    hub, user, slug = stack["hub"], stack["researcher"], stack["slug"]
    hub_url = hub.process.url
    base = f"/user/{user}/{slug}/"
    answers: list[tuple[str, str]] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            page = context.new_page()

            def keep(response) -> None:
                if base in response.url and response.request.resource_type in {"document", "fetch", "xhr", "script"}:
                    try:
                        answers.append((response.url, response.text()))
                    except Exception:
                        pass

            page.on("response", keep)
            page.goto(f"{hub_url}/hub/login", timeout=60_000)
            page.click("a.btn")  # "Sign in with Keycloak"
            page.fill("#username", user)
            page.fill("#password", stack["password"])
            page.click("#kc-login")
            page.wait_for_url("**/hub/home**", timeout=60_000)
            page.goto(f"{hub_url}/hub/spawn/{user}/{slug}")
            page.wait_for_url(f"**{base}lab**", timeout=180_000)

            container = hub.container(user, slug).name
            run_probe(container, "release_files", {
                "files": {TABLE: TABLE_V1, "notes.txt": "the table counts people per service area\n"},
                "links": {"extract_link.parquet": "/data/release-extract.parquet"},
            })
            page.reload()
            item = page.locator(".jp-DirListing-itemText", has_text=TABLE)
            item.wait_for(timeout=120_000)
            # The Welcome notebook opens (and is selected in the file browser) once its kernel is up:
            # wait for that, or it takes the selection back from the table.
            page.locator(".jp-StatusBar-Widget", has_text=re.compile(r"\| Idle")).first.wait_for(timeout=120_000)

            # Right-click the table: "Request release…" with context, controls and a supporting file.
            dialog = page.locator(".jp-Dialog")
            for _ in range(3):  # JupyterLab may still move the selection to the notebook it just opened
                item.click()
                page.locator(".jp-DirListing-item.jp-mod-selected", has_text=TABLE).wait_for(timeout=10_000)
                item.click(button="right")
                page.locator(".lm-Menu-itemLabel", has_text="Request release…").click()
                dialog.locator(".sk-outputs li").first.wait_for(timeout=10_000)
                if dialog.locator(".sk-outputs li").all_inner_texts() == [TABLE]:
                    break
                dialog.locator("button.jp-mod-reject").click()
                dialog.wait_for(state="detached", timeout=10_000)
            assert dialog.locator(".sk-outputs li").all_inner_texts() == [TABLE]
            dialog.locator("input[name=title]").fill("People per service area")
            dialog.locator("textarea[name=context]").fill("People on sick leave per service area, 2024")
            dialog.locator("textarea[name=controls]").fill("counts of people, every cell at least 100")
            dialog.locator("textarea[name=supporting]").fill("notes.txt")
            dialog.locator("button.jp-mod-accept").click()

            # The side panel: the request with the checks' verdict per file.
            panel = page.locator("#sandkasse-release-panel")
            card = panel.locator("section.sk-request").first
            try:
                card.wait_for(timeout=60_000)
            except Exception:
                page.screenshot(path="/tmp/request-release-failed.png")
                raise AssertionError(f"no request in the panel; the page says: {page.locator('body').inner_text()[-2000:]}")
            assert card.get_attribute("data-state") == "submitted"
            verdict = card.locator(f".sk-file[data-file-name='{TABLE}'] .sk-verdict")
            verdict.locator("xpath=self::*[not(contains(@class, 'sk-verdict-pending'))]").wait_for(timeout=120_000)
            assert verdict.inner_text() in {"pass", "review", "fail"}
            assert card.locator(".sk-file[data-file-name='notes.txt']").inner_text().count("supporting") == 1
            request_id = card.get_attribute("data-request-id")

            # The checkers return it with a shared comment; the panel shows it after a refresh.
            _checker_returns(stack, request_id)
            panel.locator("button.sk-refresh").click()
            returned = panel.locator(f"section.sk-request[data-request-id='{request_id}'][data-state='returned']")
            returned.wait_for(timeout=30_000)
            assert any(RETURN_COMMENT in t for t in returned.locator(".sk-comment-checker").all_inner_texts())
            assert returned.locator(f".sk-file[data-file-name='{TABLE}'] .sk-decision").inner_text() == "changes requested"
            page.screenshot(path=str(SCREENSHOT))

            # A new version of the table, and the request goes back to the checkers.
            run_probe(container, "release_files", {"files": {TABLE: TABLE_V2}})
            returned.locator(f".sk-file[data-file-name='{TABLE}'] button.sk-new-version").click()
            assert dialog.locator("input[name=path]").input_value() == TABLE
            dialog.locator("button.jp-mod-accept").click()
            again = panel.locator(f"section.sk-request[data-request-id='{request_id}'][data-state='submitted']")
            again.wait_for(timeout=30_000)
            assert "v2" in again.locator(f".sk-file[data-file-name='{TABLE}'] .sk-file-name").inner_text()

            # The handlers keep Jupyter's XSRF check and the home's walls, whatever the page sends.
            route = f"{base}sandkasse/release/requests"
            good = {"outputs": [TABLE], "context": "c", "controls": "c"}
            assert _fetch(page, route, body=good, xsrf=False)["status"] == 403
            for bad in ["extract_link.parquet", "../../../data/release-extract.parquet", "/etc/passwd"]:
                refused = _fetch(page, route, body={**good, "outputs": [bad]}, xsrf=True)
                assert refused["status"] == 403, refused
                assert "home folder" in json.loads(refused["text"])["message"] or "data" in refused["text"]
            assert _fetch(page, route, xsrf=False)["status"] == 403
            listed = _fetch(page, route, xsrf=True)
            assert listed["status"] == 200, listed
            listed = json.loads(listed["text"])["requests"]
            assert [r["id"] for r in listed] == [request_id]  # nothing was made by the refused calls
            context.close()
        finally:
            browser.close()

    # No login, no answer (a redirect to the hub's login or a refusal, never the list).
    anonymous = httpx.get(f"{hub_url}{base}sandkasse/release/requests", follow_redirects=False, trust_env=False)
    assert anonymous.status_code in {302, 403} and "requests" not in anonymous.text, (anonymous.status_code, anonymous.headers, anonymous.text[:1500])

    # The project token is in the server's environment and in nothing the browser received.
    token = subprocess.run(["docker", "exec", container, "printenv", "SANDKASSE_EGRESS_TOKEN"],
                           capture_output=True, text=True, check=True).stdout.strip()
    assert len(token) > 20
    assert answers and any("sandkasse/release/requests" in url for url, _ in answers)
    assert [url for url, text in answers if token in text] == []
