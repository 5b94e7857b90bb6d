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


def identifier_values(session: Session, project: str) -> set[str]:
    from provisioning import api

    try:
        return set(api.identifier_values(session, project))
    except NotImplementedError:
        return set()


def project_exists(session: Session, project: str) -> bool:
    from provisioning import api

    return api.get_project(session, project) is not None
