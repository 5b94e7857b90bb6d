"""The hub's view of provisioning: which projects a researcher may open, and why not when not.

Everything goes through ``provisioning.api`` (the single source of truth); this module only adds
the hub's wording for refusals and runs the blocking database calls off the event loop.
"""

from __future__ import annotations

import asyncio
from datetime import date
from functools import cached_property

from sqlalchemy.orm import Session, sessionmaker

from provisioning import api
from sandkasse.db import make_engine, make_sessionmaker, session_scope


class ProjectDirectory:
    def __init__(self, database_url: str | None = None) -> None:
        self.database_url = database_url

    @cached_property
    def _sessions(self) -> sessionmaker[Session]:
        return make_sessionmaker(make_engine(self.database_url or None))

    def _call(self, fn, *args):
        with self._sessions() as session:
            return fn(session, *args)

    async def run(self, fn, *args):
        return await asyncio.to_thread(self._call, fn, *args)

    async def owns_name(self, username: str, subject: str) -> bool:
        """Whether the Keycloak account ``subject`` may use ``username`` (binds a name seen for the first
        time; a refusal is audited, so this commits)."""
        return await asyncio.to_thread(self._claim, username, subject)

    def _claim(self, username: str, subject: str) -> bool:
        with session_scope(self._sessions) as session:
            return api.claim_account_name(session, username, subject, via="hub-login")

    async def open_projects(self, username: str) -> list[api.ProjectInfo]:
        return await self.run(api.projects_for_user, username)

    async def project(self, slug: str) -> api.ProjectInfo | None:
        return await self.run(api.get_project, slug)

    async def datasets(self, slug: str) -> list[api.ProjectDatasetInfo]:
        return await self.run(api.project_datasets, slug)

    async def twins(self, username: str) -> list[api.TwinWorkspaceInfo]:
        return await self.run(api.twin_workspaces, username)

    def twin_workspaces(self, username: str) -> list[api.TwinWorkspaceInfo]:
        """The synthetic twins of ``username``'s submitted applications (blocking; for the hub's pages)."""
        return self._call(api.twin_workspaces, username)

    async def stoppable(self, running: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return await self.run(api.stoppable_servers, running)

    def member_projects(self, username: str) -> list[api.ProjectInfo]:
        """Every project ``username`` is a member of, open or not (blocking; for the hub's pages)."""
        return self._call(_member_projects, username)

    async def refusal(self, username: str, slug: str) -> str | None:
        """None when ``username`` may work in ``slug`` today, else the reason in plain words."""
        if api.twin_application(slug) is not None:  # an application's synthetic twin, not a project
            if await self.run(api.can_use_twin, username, slug):
                return None
            return f"'{slug}' is the synthetic twin of an application you have not submitted (or that was closed)."
        if await self.run(api.can_access_project, username, slug):
            return None
        return why_not(await self.project(slug), username, slug) or f"Project '{slug}' is not open to you today."


def _member_projects(session: Session, username: str) -> list[api.ProjectInfo]:
    found = (api.get_project(session, slug) for slug in sorted(api.memberships(session, username)))
    return [p for p in found if p is not None]


def why_not(project: api.ProjectInfo | None, username: str, slug: str, today: date | None = None) -> str | None:
    """Why ``username`` cannot start a notebook in ``project`` today, in plain words; None when nothing
    in the project's status, dates or membership stands in the way."""
    if project is None or username not in project.members:
        return f"You are not a member of project '{slug}'. Ask the project lead or the data controller to add you."
    today = today or date.today()
    if project.status != "active":
        return f"Project '{slug}' is {project.status}; its notebooks cannot be started."
    if today < project.start_date:
        return f"Project '{slug}' starts on {project.start_date.isoformat()}; its notebooks cannot be started before then."
    if today > project.end_date:
        return f"Project '{slug}' ended on {project.end_date.isoformat()}; its notebooks cannot be started any more."
    return None
