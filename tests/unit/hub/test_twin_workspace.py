"""Issue 20.5: an application's synthetic twin as a workspace "app-<id>": only its applicant opens it, once
submitted; the sandbox mounts the twin folder at /data and gets NO egress credential (nothing computed on
the twin may leave, and there is nothing real to release); the hub's sweep stops it when the application
is withdrawn. The real spawn with Docker: tests/e2e/hub/test_twin_sandbox.py."""

from __future__ import annotations

import asyncio
from datetime import date
from types import SimpleNamespace

import pytest

from hub.projects import ProjectDirectory
from hub.sandbox import ProjectSandboxMixin
from provisioning import api
from provisioning.applications import workflow
from provisioning.applications.prepared import workspace_of
from provisioning.errors import ProvisioningError
from provisioning.projects import create_project
from sandkasse.db import session_scope
from tests.unit.provisioning.app_factories import APPLICANT, content, make_data, make_factory, submitted

pytestmark = pytest.mark.unit
KEY = "k" * 40


def _mixin(user: str = "alma") -> ProjectSandboxMixin:
    m = ProjectSandboxMixin(project_token_key=KEY)
    m.user = SimpleNamespace(name=user)
    return m


def test_a_twin_sandbox_gets_no_egress_token_and_is_labelled_synthetic():
    """Control: the twin branch of ProjectSandboxMixin.sandbox_env (removing it hands out a project token)."""
    twin = _mixin().sandbox_env("app-" + "0" * 20, "http://10.0.0.1:8190", "10.9.0.0/24")
    assert "SANDKASSE_EGRESS_TOKEN" not in twin and twin["SANDKASSE_SYNTHETIC"] == "1"
    assert twin["SANDKASSE_PROJECT"] == "app-" + "0" * 20
    real = _mixin().sandbox_env("sick-leave-2026", "http://10.0.0.1:8190", "10.9.0.0/24")
    assert real["SANDKASSE_EGRESS_TOKEN"] and "SANDKASSE_SYNTHETIC" not in real


def test_only_the_applicant_opens_the_twin_of_a_submitted_application(tmp_path):
    data = make_data(tmp_path / "synth")
    url = f"sqlite:///{tmp_path / 'apps.db'}"
    factory = make_factory(tmp_path, data, url)
    app_id = submitted(factory)
    with session_scope(factory) as s:
        draft = workflow.create(s, APPLICANT, content(title="A draft")).id
    slug, draft_slug = workspace_of(app_id), workspace_of(draft)
    assert len(slug) <= 30  # JupyterHub's limit on a server's name
    directory = ProjectDirectory(url)
    assert asyncio.run(directory.refusal("alma", slug)) is None
    assert "synthetic twin" in asyncio.run(directory.refusal("berit", slug))
    assert asyncio.run(directory.refusal("alma", draft_slug))  # a draft has no twin to open
    assert asyncio.run(directory.refusal("alma", "app-" + "f" * 20))
    assert [(t.slug, t.title) for t in asyncio.run(directory.twins("alma"))] == [(slug, "Sick leave by gender")]
    assert str(api.data_dir(slug)).endswith(f"twins/{slug}")
    assert api.data_dir("sick-leave-2026") == api.extract_dir("sick-leave-2026")
    assert asyncio.run(directory.stoppable([("alma", slug), ("berit", slug)])) == [("berit", slug)]
    with session_scope(factory) as s:
        workflow.withdraw(s, APPLICANT, app_id, "no longer needed")
    assert asyncio.run(directory.stoppable([("alma", slug)])) == [("alma", slug)]
    assert asyncio.run(directory.refusal("alma", slug))
    with session_scope(factory) as s, pytest.raises(ProvisioningError, match="reserved"):
        create_project(s, slug=slug, title="x", start_date=date(2026, 1, 1), end_date=date(2026, 12, 31))


def test_the_spawn_page_lists_the_applicants_twins(tmp_path):
    from hub.project_pages import ProjectList

    url = f"sqlite:///{tmp_path / 'apps.db'}"
    factory = make_factory(tmp_path, make_data(tmp_path / "synth"), url)
    app_id = submitted(factory)
    user = SimpleNamespace(name="alma", spawners={}, server_url=lambda name: f"/user/alma/{name}/")
    rows = ProjectList(user, ProjectDirectory(url)).rows
    assert [(r.slug, r.state, r.reason) for r in rows] == [(workspace_of(app_id), "stopped", None)]
    assert rows[0].title.startswith("Synthetic twin") and rows[0].open_url == f"/user/alma/{workspace_of(app_id)}/"
    assert ProjectList(SimpleNamespace(name="berit", spawners={}, server_url=str), ProjectDirectory(url)).rows == []
