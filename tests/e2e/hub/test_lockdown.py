"""The browser side doors are closed server-side (issue 6, item 5 and probe (h)): every download URL and
API call a browser would use is refused for workspace and data files, a researcher's planted
``~/.jupyter`` configuration has no effect, and a notebook still opens, runs and saves."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid

import httpx
import pytest
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from hubtest import run_probe

pytestmark = pytest.mark.e2e

EXTRACT = "lock-a-extract.parquet"


@pytest.fixture(scope="module")
def server(hub, provisioner):
    slug = provisioner.open_project("lock-a", {"dora": "researcher"})
    container = hub.start_server("dora", slug)
    run_probe(container, "plant_config")
    # Restart so that the planted configuration would be read at start-up.
    hub.stop_server("dora", slug)
    for _ in range(100):
        with hub.api() as api:
            if not (api.get("/users/dora").json().get("servers") or {}).get(slug):
                break
        time.sleep(0.1)
    container = hub.start_server("dora", slug)
    return {"slug": slug, "container": container, "url": hub.server_url("dora", slug)}


@pytest.fixture(scope="module")
def browser(hub, server):
    with httpx.Client(base_url=server["url"], headers={"Authorization": f"token {hub.process.admin_token}"}, timeout=30, trust_env=False) as c:
        yield c


REFUSED = [
    ("GET", "files/small.txt", None),
    ("GET", "files/small.txt?download=1", None),
    ("GET", f"files/datalink/{EXTRACT}", None),
    ("GET", "files/Welcome.ipynb", None),
    ("GET", "view/small.txt", None),
    ("GET", "nbconvert/html/Welcome.ipynb?download=true", None),
    ("GET", "nbconvert/script/Welcome.ipynb", None),
    ("GET", "api/nbconvert", None),
    ("GET", f"api/contents/datalink/{EXTRACT}?content=1", None),
    ("GET", f"api/contents/datalink/{EXTRACT}?content=1&format=base64", None),
    ("GET", f"api/contents/datalink/{EXTRACT}?content=1&format=text&type=file", None),
    ("GET", "api/contents/big.csv?content=1", None),
    ("GET", "api/contents/blob.bin?content=1", None),
    ("GET", "api/contents/blob.bin?content=1&format=base64", None),
    ("GET", "api/contents/small.txt?content=1&format=base64", None),
    ("POST", "api/contents", {"copy_from": f"datalink/{EXTRACT}"}),
    ("POST", "api/terminals", {}),  # terminals are off by policy
]


@pytest.mark.parametrize("method,path,body", REFUSED, ids=[f"{m} {p}" for m, p, _ in REFUSED])
def test_download_paths_are_refused(browser, method, path, body):
    resp = browser.request(method, path, json=body) if body is not None else browser.request(method, path)
    assert resp.status_code in {403, 404}, (resp.status_code, resp.text[:300])
    assert "X-Planted" not in resp.headers


def test_planted_user_config_has_no_effect(browser):
    lab = browser.get("lab")
    assert lab.status_code == 200
    assert "X-Planted" not in lab.headers
    match = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', lab.text, re.S)
    assert match, "JupyterLab page config not found"
    disabled = json.loads(match.group(1)).get("disabledExtensions")
    disabled = disabled if isinstance(disabled, dict) else {name: True for name in disabled or []}
    for ext in (
        "@jupyterlab/docmanager-extension:download",
        "@jupyterlab/filebrowser-extension:download",
        "@jupyterlab/docmanager-extension:open-browser-tab",
        "@jupyterlab/notebook-extension:export",
        "@jupyterlab/apputils-extension:announcements",  # would fetch news from the internet
    ):
        assert disabled.get(ext) is True, (ext, disabled)


def test_workspace_text_and_notebooks_still_work(browser):
    small = browser.get("api/contents/small.txt?content=1")
    assert small.status_code == 200 and small.json()["content"] == "hello\n"
    welcome = browser.get("api/contents/Welcome.ipynb?content=1")
    assert welcome.status_code == 200 and welcome.json()["type"] == "notebook"
    cells = welcome.json()["content"]["cells"]
    assert any("Datasets" in "".join(c["source"]) for c in cells)
    nb = {"cells": [{"cell_type": "code", "id": "c1", "metadata": {}, "execution_count": None, "outputs": [], "source": "6*7"}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    saved = browser.put("api/contents/mine.ipynb", json={"type": "notebook", "content": nb})
    assert saved.status_code in {200, 201}, saved.text
    assert browser.get("api/contents/mine.ipynb?content=1").json()["content"]["cells"][0]["source"] == "6*7"
    listing = browser.get("api/contents/datalink?content=1")
    assert listing.status_code == 200 and EXTRACT in {i["name"] for i in listing.json()["content"]}


def test_notebook_output_cap(browser):
    big_output = {"output_type": "stream", "name": "stdout", "text": "x" * 6_000_000}
    nb = {"cells": [{"cell_type": "code", "id": "c1", "metadata": {}, "execution_count": 1, "outputs": [big_output], "source": "print()"}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    resp = browser.put("api/contents/too-big.ipynb", json={"type": "notebook", "content": nb})
    assert resp.status_code == 403, resp.text[:300]


async def _execute(ws_url: str, token: str, code: str, timeout: float = 60) -> str:
    conn = await websocket_connect(HTTPRequest(ws_url, headers={"Authorization": f"token {token}"}, connect_timeout=30))
    msg_id = uuid.uuid4().hex
    conn.write_message(json.dumps({
        "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "test", "session": uuid.uuid4().hex, "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell",
        "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {}, "allow_stdin": False},
    }))
    out = ""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        raw = await asyncio.wait_for(conn.read_message(), timeout=deadline - loop.time())
        if raw is None:
            break
        msg = json.loads(raw)
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "stream":
            out += msg["content"]["text"]
        if msg["msg_type"] == "error":
            raise AssertionError(msg["content"])
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    conn.close()
    return out


def test_a_kernel_runs_reads_the_extract_and_its_output_is_counted(hub, browser, server, docker_client):
    kernel = browser.post("api/kernels", json={"name": "python3"})
    assert kernel.status_code == 201, kernel.text
    ws_url = server["url"].replace("http://", "ws://") + f"api/kernels/{kernel.json()['id']}/channels"
    code = f"import pandas as pd\ndf = pd.read_parquet('/data/{EXTRACT}')\nprint(len(df), sorted(df.columns))"
    out = asyncio.run(_execute(ws_url, hub.process.admin_token, code))
    assert out.startswith("600 ["), out
    browser.delete(f"api/kernels/{kernel.json()['id']}")
    logs = docker_client.containers.get(server["container"]).logs().decode(errors="replace")
    lines = [json.loads(ln.split("sandkasse-output-volume ", 1)[1]) for ln in logs.splitlines() if "sandkasse-output-volume " in ln]
    assert lines and lines[-1]["bytes"] > 0 and lines[-1]["project"] == server["slug"] and lines[-1]["user"] == "dora"


def test_output_volume_is_audited_when_the_server_stops(hub, server):
    from hub.audit import verify_file

    audit = hub.process.log_path.parent / "audit" / "hub.jsonl"
    hub.stop_server("dora", server["slug"])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if audit.exists() and any(server["slug"] in ln for ln in audit.read_text().splitlines()):
            break
        time.sleep(0.1)
    records = [json.loads(ln) for ln in audit.read_text().splitlines() if server["slug"] in ln]
    assert records, "no output-volume record for the stopped server"
    detail = json.loads(records[-1]["detail"])
    assert detail["user"] == "dora" and detail["project"] == server["slug"] and detail["bytes"] > 0
    ok, count, problem = verify_file(audit)
    assert ok, problem
