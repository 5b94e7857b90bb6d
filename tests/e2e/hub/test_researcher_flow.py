"""The whole researcher flow with every real component: a researcher logs in through Keycloak's login
page (scripted authorization code flow), sees only their open project, starts its server from the
spawn page, reads the extract, fails every isolation probe, exports a table that lands in the egress
queue with its check verdicts; another project is refused; suspending the project stops the server."""

from __future__ import annotations

import time

import httpx
import pytest
from sqlalchemy import select

from hub.scripted_login import LoginFailed, browser_client, hub_login
from hubtest import RUN, run_probe

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery staple 6"


@pytest.fixture(scope="module")
def people(keycloak, provisioner):
    kari, ola, nils = f"kari{RUN}", f"ola{RUN}", f"nils{RUN}"
    keycloak.create_user(kari, PASSWORD, realm_roles=["researcher"])
    keycloak.create_user(ola, PASSWORD, realm_roles=["researcher"])
    keycloak.create_user(nils, PASSWORD)  # no realm role: may not use the hub
    mine = provisioner.open_project("flow-a", {kari: "researcher"})
    theirs = provisioner.open_project("flow-b", {ola: "researcher"})
    return {"kari": kari, "ola": ola, "nils": nils, "mine": mine, "theirs": theirs}


def _browser() -> httpx.Client:
    return browser_client(timeout=httpx.Timeout(120.0, connect=10.0))


def test_a_user_without_the_researcher_role_is_refused(kc_hub, people):
    with _browser() as browser, pytest.raises(LoginFailed) as refused:
        hub_login(browser, kc_hub.process.url, people["nils"], PASSWORD)
    assert refused.value.response is not None and refused.value.response.status_code == 403


def test_researcher_flow(kc_hub, people, provisioner, docker_client):
    kari, mine, theirs = people["kari"], people["mine"], people["theirs"]
    hub_url = kc_hub.process.url
    with _browser() as browser:
        hub_login(browser, hub_url, kari, PASSWORD)
        with kc_hub.api() as api:
            user = api.get(f"/users/{kari}").json()
        assert user["name"] == kari and user["admin"] is False

        # The spawn page offers exactly the researcher's open project.
        form = browser.get(f"{hub_url}/hub/spawn")
        assert form.status_code == 200
        assert mine in form.text and theirs not in form.text

        # Another project is refused with a clear reason, and no container is made.
        refused = browser.get(f"{hub_url}/hub/spawn/{kari}/{theirs}", follow_redirects=True)
        assert refused.status_code == 403 and "not a member" in refused.text
        assert not docker_client.containers.list(filters={"label": [f"org.sandkasse.project={theirs}", f"org.sandkasse.user={kari}"]})

        # Start the project's server the way the spawn page's button does, and open it.
        started = browser.get(f"{hub_url}/hub/spawn/{kari}/{mine}", follow_redirects=True)
        assert started.status_code < 400, started.text[:500]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with kc_hub.api() as api:
                server = (api.get(f"/users/{kari}").json().get("servers") or {}).get(mine)
            if server and server.get("ready"):
                break
            time.sleep(0.2)
        else:
            raise AssertionError("server not ready")
        # Opening the notebook page runs the server's own OAuth handshake with the hub, as in a browser.
        lab = browser.get(f"{hub_url}/user/{kari}/{mine}/lab", follow_redirects=True)
        assert lab.status_code == 200 and "jupyter-config-data" in lab.text, lab.text[:300]
        welcome = browser.get(f"{hub_url}/user/{kari}/{mine}/api/contents/Welcome.ipynb")
        assert welcome.status_code == 200, welcome.text[:300]
        assert "Test project flow-a" in welcome.text
        # (h) the browser's download door is closed for this researcher too
        assert browser.get(f"{hub_url}/user/{kari}/{mine}/files/Welcome.ipynb").status_code in {403, 404}

    container = kc_hub.container(kari, mine).name
    out = run_probe(container, "isolation", {"other_paths": ["/data/flow-b-extract.parquet"]})
    assert out["data_files"] == ["flow-a-extract.parquet"]
    assert out["write_data"] in {"EROFS", "EACCES"} and out["uid"] == 1000 and int(out["cap_eff"], 16) == 0
    assert out["default_routes"] == [] and out["docker_sock"] == [] and out["other_paths_exist"] == []

    exported = run_probe(container, "export", {"extract": "flow-a-extract.parquet"}, timeout=300)
    assert exported["state"] == "submitted" and exported["verdicts"], exported
    from egress_review.models import FileVersion, ReleaseRequest, RequestFile

    with provisioner.sessions() as s:
        req = s.execute(select(ReleaseRequest).where(ReleaseRequest.id == exported["request_id"])).scalar_one()
        assert (req.project, req.requester, req.state) == (mine, kari, "submitted")
        verdicts = s.execute(
            select(FileVersion.verdict).join(RequestFile, FileVersion.file_id == RequestFile.id).where(RequestFile.request_id == req.id)
        ).scalars().all()
        assert verdicts and all(v for v in verdicts)

    # Suspending the project stops the server within a minute.
    provisioner.suspend(mine)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if not docker_client.containers.list(filters={"label": [f"org.sandkasse.project={mine}", f"org.sandkasse.user={kari}"]}):
            break
        time.sleep(0.5)
    else:
        raise AssertionError("the suspended project's server is still running after 60 s")
