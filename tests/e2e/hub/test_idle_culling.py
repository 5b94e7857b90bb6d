"""An idle server is stopped and removed by the idle culler (jupyterhub-idle-culler, run by the hub
as a managed service with the policy's timeout; here a hub with a 20-second timeout)."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.e2e

IDLE = 20  # seconds without activity before the culler acts; it looks every IDLE seconds


def _servers(hub, user: str) -> dict:
    with hub.api() as api:
        return api.get(f"/users/{user}").json().get("servers") or {}


def test_an_idle_server_is_culled(hub_factory, egress_service, provisioner):
    hub = hub_factory("null", egress_port=egress_service, extra_env={"SANDKASSE_HUB_IDLE_TIMEOUT": str(IDLE)})
    slug = provisioner.open_project("idle-a", {"ivy": "researcher"})
    hub.start_server("ivy", slug)
    started = time.monotonic()
    assert _servers(hub, "ivy").get(slug, {}).get("ready") is True
    labels = {"label": ["org.sandkasse.user=ivy", f"org.sandkasse.project={slug}"]}
    assert hub.docker.containers.list(filters=labels)
    # Bounded: the timeout, one culler round, and slack for a loaded machine.
    deadline = started + 4 * IDLE + 30
    while time.monotonic() < deadline:
        if slug not in _servers(hub, "ivy") and not hub.docker.containers.list(filters=labels):
            break
        time.sleep(1)
    else:
        raise AssertionError(f"ivy/{slug} was still there {4 * IDLE + 30} s after it started, idle")
    # not before the timeout: the culler judged it idle, it did not stop it at once
    assert time.monotonic() - started >= IDLE
