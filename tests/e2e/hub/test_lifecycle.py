"""Servers of suspended projects and of removed members stop within one minute (lifecycle service)."""

from __future__ import annotations

import time

import pytest

from provisioning import service
from sandkasse.db import session_scope

pytestmark = pytest.mark.e2e

LIMIT = 60.0


def _wait_gone(hub, user: str, slug: str) -> float:
    t0 = time.monotonic()
    with hub.api() as api:
        while time.monotonic() - t0 < LIMIT + 10:
            if not (api.get(f"/users/{user}").json().get("servers") or {}).get(slug):
                if not hub.docker.containers.list(filters={"label": [f"org.sandkasse.user={user}", f"org.sandkasse.project={slug}"]}):
                    return time.monotonic() - t0
            time.sleep(0.5)
    raise AssertionError(f"{user}/{slug} still running {LIMIT + 10:.0f} s later")


def test_suspending_the_project_stops_its_servers(hub, provisioner):
    slug = provisioner.open_project("life-a", {"erin": "researcher", "frank": "researcher"})
    hub.start_server("erin", slug)
    hub.start_server("frank", slug)
    provisioner.suspend(slug)
    assert _wait_gone(hub, "erin", slug) < LIMIT
    assert _wait_gone(hub, "frank", slug) < LIMIT


def test_removing_a_member_stops_their_server_only(hub, provisioner):
    slug = provisioner.open_project("life-b", {"gina": "researcher", "hal": "researcher"})
    hub.start_server("gina", slug)
    hub.start_server("hal", slug)
    with session_scope(provisioner.sessions) as s:
        service.remove_member(s, slug, "gina", actor="test", reason="left the project")
    assert _wait_gone(hub, "gina", slug) < LIMIT
    with hub.api() as api:
        assert (api.get("/users/hal").json().get("servers") or {}).get(slug, {}).get("ready") is True
