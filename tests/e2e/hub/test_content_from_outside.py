"""Issue 13, "Done when": the bypass tried for real. Inside a real sandbox a researcher copies the
project's extract into a draft request (supporting file, never submitted) and a submitted request, and
rows of it into their titles, file contexts and controls, and comments;
then, from outside the TRE, with their own Keycloak login to the egress web UI and with a Keycloak
bearer token, every UI and API route of the egress app is tried on both requests and no answer holds
a row of the extract. A reviewing checker, through the same probe, does see the rows (so the probe
is not blind), and the researcher can read the file back from inside the sandbox.

Real components: Keycloak of the test bed, the egress service (uvicorn) with its web UI, a hub on this
host spawning the notebook container. The egress service and the project live on a database of this
module, so this service's master key and audit chain are its own.
"""

from __future__ import annotations

import html
import re
import secrets

import httpx
import pytest

from hub.scripted_login import _FORM, browser_client
from hubtest import RUN, Provisioner, _remove_test_objects, run_probe, start_egress
from provisioning import api as papi
from tests.testbed.content_routes import ACT, READ, app_routes, leaks, planted_extract, probe, unclassified

pytestmark = pytest.mark.e2e

EXTRACT = "sick-leave.csv"


@pytest.fixture(scope="module")
def bypass(hub_factory, keycloak, project_token_key, hub_workdir, docker_client):
    """The planted requests: the researcher's Keycloak password, the service URL and what the sandbox made."""
    researcher, checker = f"rita{RUN}", f"kris{RUN}"
    password = secrets.token_urlsafe(16)
    keycloak.create_user(researcher, password, realm_roles=["researcher"])
    keycloak.create_user(checker, password, realm_roles=["output-checker"])
    workdir = hub_workdir / "content"
    prov = Provisioner(f"sqlite:///{hub_workdir / 'content.db'}")
    slug = prov.open_project("content", {researcher: "researcher"}, rows=30)
    data, pseudonyms = planted_extract()
    path = papi.extract_dir(slug) / EXTRACT
    path.write_bytes(data)
    path.chmod(0o444)
    extra = {
        "SANDKASSE_KEYCLOAK_URL": keycloak.url,
        "SANDKASSE_KEYCLOAK_REALM": keycloak.realm,
        "SANDKASSE_EGRESS_CLIENT_SECRET": keycloak.client_secret("sandkasse-egress"),
        "SANDKASSE_SESSION_SECRET": secrets.token_urlsafe(32),
        "SANDKASSE_WEB_INSECURE_LOOPBACK": "1",
    }
    with start_egress(prov.url, project_token_key, workdir, extra) as port:
        hub = hub_factory("null", egress_port=port, extra_env={"SANDKASSE_DATABASE_URL": prov.url})
        try:
            container = hub.start_server(researcher, slug)
            made = run_probe(container, "plant_extract", {"extract": EXTRACT}, timeout=120)
            yield {"url": f"http://127.0.0.1:{port}", "researcher": researcher, "checker": checker,
                   "password": password, "made": made, "pseudonyms": pseudonyms, "keycloak": keycloak}
        finally:
            hub.stop_server(researcher, slug)
            _remove_test_objects(docker_client, [slug])
            prov.cleanup()


def _web_login(client: httpx.Client, url: str, username: str, password: str) -> str:
    """The egress UI's real login (authorization code + PKCE through Keycloak's form); returns the
    session's CSRF token, read from a page as a browser would."""
    start = client.get(f"{url}/login", follow_redirects=True)
    form = _FORM.search(start.text)
    assert form, f"no Keycloak login form at {start.url}: {start.status_code}"
    done = client.post(html.unescape(form.group(1)), data={"username": username, "password": password,
                                                            "credentialId": ""}, follow_redirects=True)
    assert done.status_code == 200 and str(done.url).startswith(url), (done.status_code, done.url)
    page = client.get(f"{url}/my")
    assert page.status_code == 200 and username in page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    return csrf.group(1) if csrf else ""


def _app_routes_now():
    """The routes of the app as this checkout builds it (the service under test runs the same code)."""
    import tempfile
    from pathlib import Path

    from egress_review.app import create_app
    from tests.unit.egress.egress_factories import egress_settings

    app = create_app(egress_settings(Path(tempfile.mkdtemp(prefix="content-routes-"))))
    app.state.egress.close()
    return app


def test_the_extract_cannot_be_read_from_outside_the_sandbox(bypass):
    made, url = bypass["made"], bypass["url"]
    assert made["state"] == "submitted" and made["inside_read_back"], made
    targets = [(rid, fids) for rid, fids in made["requests"].items()]
    app = _app_routes_now()
    assert not unclassified(app), sorted(unclassified(app))
    assert len(app_routes(app)) > 40

    token = bypass["keycloak"].token(bypass["researcher"], bypass["password"])["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    # the sandbox's project token, printed in the notebook and used from the researcher's laptop
    copied = {"Authorization": f"Bearer {made['copied_token']}"}
    answers = []
    with browser_client(base_url=url, timeout=30) as web, httpx.Client(base_url=url, timeout=30, trust_env=False) as api:
        csrf = _web_login(web, url, bypass["researcher"], bypass["password"])
        for kinds in ((READ,), (ACT,), (READ,)):  # every page, every action, every page again
            answers += probe(web.request, "researcher (UI login)", targets, csrf=csrf, kinds=kinds)
            answers += probe(api.request, "researcher (Keycloak bearer)", targets, headers=bearer, kinds=kinds)
            answers += probe(api.request, "researcher (project token copied out)", targets, headers=copied, kinds=kinds)
        found = leaks(answers, bypass["pseudonyms"])
        assert not found, found
        # the probe did get in: the request page answers with metadata, /raw is refused
        page = web.get(f"/requests/{made['draft']}")
        assert page.status_code == 200 and "notes.txt" in page.text
        raw = web.get(f"/requests/{made['draft']}/files/{made['requests'][made['draft']][0]}/raw")
        assert raw.status_code == 403
        content = f"/api/v1/requests/{made['draft']}/files/{made['requests'][made['draft']][0]}/content"
        assert api.get(content, headers=copied).status_code == 401

        # The same probe as a reviewing checker finds the rows of the submitted request.
        checker = bypass["keycloak"].token(bypass["checker"], bypass["password"])["access_token"]
        seen = probe(api.request, "checker", [(made["submitted"], made["requests"][made["submitted"]])],
                     headers={"Authorization": f"Bearer {checker}"})
        assert any("/content" in x for x in leaks(seen, bypass["pseudonyms"]))
