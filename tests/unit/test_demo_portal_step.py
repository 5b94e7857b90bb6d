"""Issue 20.8: the demo starts the application portal after the egress service, lets people register
as applicants in the demo realm, and prints the portal's URL. Keycloak and the uvicorn process are
stood in for here (their real start is covered by tests/browser/test_portal_ui.py and the demo seed
by tests/integration/provisioning/test_prov_demo.py); what is checked is the step's wiring and the
printed table."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from sandkasse import demo
from sandkasse.settings import get_settings


class FakeKeycloak:
    realm = "sandkasse"
    admin_password = "admin-pw"

    def admin(self):
        return "admin-client"

    def client_secret(self, client_id: str) -> str:
        return f"secret-of-{client_id}"


def test_the_portal_step_starts_it_with_its_client_and_the_demo_prints_its_url(tmp_path, monkeypatch):
    from provisioning.portal import demo_realm, run

    calls = {}
    monkeypatch.setattr(demo_realm, "allow_self_registration", lambda admin, realm: calls.setdefault("realm", (admin, realm)))
    monkeypatch.setattr(run, "stop_portal", lambda pid_file: False)
    monkeypatch.setattr(run, "start_portal", lambda env, **kw: calls.setdefault("start", (env, kw)))
    console = Console(file=io.StringIO(), width=200)
    ctx = demo.DemoContext(get_settings(), tmp_path, console, parts={"keycloak": FakeKeycloak()},
                           env={"SANDKASSE_DATABASE_URL": "postgresql://x"})
    names = [s.name for s in demo.STEPS]
    assert names.index("application portal") == names.index("egress review service") + 1
    where = next(s for s in demo.STEPS if s.name == "application portal").start(ctx)
    env, kw = calls["start"]
    assert calls["realm"] == ("admin-client", "sandkasse")
    assert env["SANDKASSE_PORTAL_CLIENT_SECRET"] == "secret-of-sandkasse-portal"
    assert env["SANDKASSE_DATABASE_URL"] == "postgresql://x" and kw["port"] == demo.PORTAL_PORT
    demo.print_where(ctx, where, Path("demo.env"))
    assert f"http://127.0.0.1:{demo.PORTAL_PORT}/" in console.file.getvalue()
