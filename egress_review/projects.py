"""What the egress service asks provisioning (the single source of truth for projects and people).

Only :mod:`provisioning.api` is called; these thin wrappers exist so that the rest of the service
asks one question per function and the answers are never re-implemented here.
"""

from __future__ import annotations

from sqlalchemy.orm import Session


def can_access(session: Session, username: str, project: str) -> bool:
    from provisioning import api

    return bool(api.can_access_project(session, username, project))


def member_role(session: Session, username: str, project: str) -> str | None:
    from provisioning import api

    return api.member_role(session, username, project)


def open_projects(session: Session, username: str) -> set[str]:
    """Projects the user may work in today (member of an open project)."""
    from provisioning import api

    return {i.slug for i in api.projects_for_user(session, username)}


def memberships(session: Session, username: str) -> set[str]:
    """Projects the user is a member of in any state (conflict of interest lasts beyond a project's end)."""
    from provisioning import api

    return set(api.memberships(session, username))


def identifier_values(session: Session, project: str) -> set[str]:
    from provisioning import api

    try:
        return set(api.identifier_values(session, project))
    except NotImplementedError:
        return set()


def project_exists(session: Session, project: str) -> bool:
    from provisioning import api

    return api.get_project(session, project) is not None
