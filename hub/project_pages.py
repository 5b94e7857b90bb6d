"""The hub's home and spawn pages in the project's words (JupyterHub template overrides in
``hub/templates``): one row per project the researcher belongs to, with what can be done now —
running: "Open" and "Stop"; stopped: "Start"; starting: follow its progress; expired, suspended,
closed or not yet open: why not. No default server and no free-text server names: a server is a project.

After login the researcher lands in their running project when exactly one runs (a closed tab, the next
morning), else on this list. Starting a running project is a GET of its spawn URL, which JupyterHub
answers by opening it (the spawn form's POST would answer "already running").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any

from hub.projects import ProjectDirectory, why_not

TEMPLATES = Path(__file__).parent / "templates"


@dataclass
class ProjectRow:
    slug: str
    title: str
    start_date: date
    end_date: date
    state: str  # running | starting | stopping | stopped | unavailable
    reason: str | None  # why it cannot be started today (None: it can)
    open_url: str


def project_rows(user: Any, projects: list, today: date | None = None) -> list[ProjectRow]:
    """``user``: JupyterHub's user (its ``spawners`` by server name, ``server_url``); ``projects``: the
    ``ProjectInfo`` of every project the user is a member of."""
    rows = []
    for p in projects:
        spawner = user.spawners.get(p.slug)
        if spawner is not None and spawner.ready:
            state = "running"
        elif spawner is not None and spawner.pending == "stop":
            state = "stopping"
        elif spawner is not None and spawner.active:
            state = "starting"
        else:
            state = "stopped"
        reason = why_not(p, user.name, p.slug, today)
        if reason and state == "stopped":
            state = "unavailable"
        rows.append(ProjectRow(p.slug, p.title, p.start_date, p.end_date, state, reason, user.server_url(p.slug)))
    return rows


def twin_rows(user: Any, twins: list) -> list[ProjectRow]:
    """A row per synthetic twin (``TwinWorkspaceInfo``) of the user's submitted applications: a sandbox
    on synthetic data, no export."""
    rows = []
    for t in twins:
        spawner = user.spawners.get(t.slug)
        state = ("running" if spawner.ready else "stopping" if spawner.pending == "stop" else "starting" if spawner.active
                 else "stopped") if spawner is not None else "stopped"
        rows.append(ProjectRow(t.slug, f"Synthetic twin of your application: {t.title}", t.start_date, t.end_date, state,
                               None, user.server_url(t.slug)))
    return rows


class ProjectList:
    """The rows for one page view, read from provisioning only when a template iterates them (JupyterHub
    evaluates template variables for every page)."""

    def __init__(self, user: Any, directory: ProjectDirectory) -> None:
        self.user = user
        self.directory = directory
        self.error = ""

    @cached_property
    def rows(self) -> list[ProjectRow]:
        try:
            return (project_rows(self.user, self.directory.member_projects(self.user.name))
                    + twin_rows(self.user, self.directory.twin_workspaces(self.user.name)))
        except Exception:  # noqa: BLE001 - the page says so instead of failing
            self.error = ("The project directory cannot be reached just now, so no notebook can be started. "
                          "Please try again shortly.")
            return []

    def __iter__(self):
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)


def template_vars(database_url: str | None = None) -> dict[str, Any]:
    directory = ProjectDirectory(database_url)
    return {"sandkasse_projects": lambda user: ProjectList(user, directory) if user is not None else None}


def default_url(handler: Any) -> str:
    """Where a logged-in researcher lands: their running project when exactly one runs, else the list."""
    user = handler.current_user
    home = handler.hub.base_url + "home"
    if user is None:
        return home
    ready = [name for name, sp in user.spawners.items() if name and sp.ready]
    return user.server_url(ready[0]) if len(ready) == 1 else home
