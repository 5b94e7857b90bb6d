"""The hub's project list and landing URL, from provisioning's ProjectInfo and JupyterHub's spawner
states. JupyterHub's User and Spawner are stood in for by plain objects with the attributes the pages
read (ready, pending, active, server_url); the real hub renders them in tests/e2e/hub/test_spawn_page_browser.py."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest

from hub.project_pages import default_url, project_rows
from provisioning.api import ProjectInfo

pytestmark = pytest.mark.unit

TODAY = date(2026, 6, 1)


def _project(slug: str, status: str = "active", start: date = date(2026, 1, 1), end: date = date(2026, 12, 31)) -> ProjectInfo:
    return ProjectInfo(slug=slug, title=slug.title(), purpose="", legal_basis="", dpia_reference="", status=status,
                       start_date=start, end_date=end, members={"ingrid": "lead"})


def _user(**spawners) -> SimpleNamespace:
    return SimpleNamespace(name="ingrid", spawners=spawners, server_url=lambda name="": f"/user/ingrid/{name}/")


def _spawner(ready=False, pending=None, active=False) -> SimpleNamespace:
    return SimpleNamespace(ready=ready, pending=pending, active=active or ready or bool(pending))


def test_each_project_says_what_can_be_done_and_why_not():
    user = _user(**{"sick": _spawner(ready=True), "busy": _spawner(pending="spawn"), "": _spawner()})
    projects = [_project("sick"), _project("busy"), _project("idle"), _project("paused", status="suspended"),
                _project("over", end=date(2026, 3, 1)), _project("later", start=date(2026, 9, 1))]
    rows = {r.slug: r for r in project_rows(user, projects, TODAY)}
    assert {s: r.state for s, r in rows.items()} == {
        "sick": "running", "busy": "starting", "idle": "stopped", "paused": "unavailable", "over": "unavailable",
        "later": "unavailable"}
    assert rows["sick"].open_url == "/user/ingrid/sick/" and rows["sick"].reason is None
    assert "suspended" in rows["paused"].reason and "ended on 2026-03-01" in rows["over"].reason
    assert "starts on 2026-09-01" in rows["later"].reason


def test_a_running_server_of_a_project_no_longer_open_shows_why():
    rows = project_rows(_user(paused=_spawner(ready=True)), [_project("paused", status="suspended")], TODAY)
    assert rows[0].state == "running" and "suspended" in rows[0].reason


def _handler(user) -> SimpleNamespace:
    return SimpleNamespace(current_user=user, hub=SimpleNamespace(base_url="/hub/"))


def test_login_lands_in_the_one_running_project_else_on_the_list():
    assert default_url(_handler(_user(sick=_spawner(ready=True), idle=_spawner()))) == "/user/ingrid/sick/"
    assert default_url(_handler(_user(a=_spawner(ready=True), b=_spawner(ready=True)))) == "/hub/home"
    assert default_url(_handler(_user(busy=_spawner(pending="spawn")))) == "/hub/home"
    assert default_url(_handler(None)) == "/hub/home"
