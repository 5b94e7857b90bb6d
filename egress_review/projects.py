"""What the egress service asks provisioning (the single source of truth for projects and people).

Only :mod:`provisioning.api` is called; these thin wrappers exist so that the rest of the service
asks one question per function and the answers are never re-implemented here.
"""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import Session


_ANSWERS = "egress_provisioning_answers"


def _asked(session: Session, question: str, *args: str) -> tuple[dict, tuple]:
    # One answer per question within a transaction (one API call): a request asks the same thing
    # several times on its way through the permission rules.
    return session.info.setdefault(_ANSWERS, {}), (question, *args)


@event.listens_for(Session, "after_transaction_end")
def _forget_answers(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_ANSWERS, None)


def can_access(session: Session, username: str, project: str) -> bool:
    from provisioning import api

    cache, key = _asked(session, "can_access", username, project)
    if key not in cache:
        cache[key] = bool(api.can_access_project(session, username, project))
    return cache[key]


def member_role(session: Session, username: str, project: str) -> str | None:
    from provisioning import api

    cache, key = _asked(session, "member_role", username, project)
    if key not in cache:
        cache[key] = api.member_role(session, username, project)
    return cache[key]


def open_projects(session: Session, username: str) -> set[str]:
    """Projects the user may work in today (member of an open project)."""
    from provisioning import api

    return {i.slug for i in api.projects_for_user(session, username)}


def memberships(session: Session, username: str) -> set[str]:
    """Projects the user is or ever was a member of, in any state: conflict of interest lasts beyond a
    project's end and beyond the member's removal."""
    from provisioning import api

    return api.ever_member_of(session, username)


def was_ever_member(session: Session, username: str, project: str) -> bool:
    from provisioning import api

    cache, key = _asked(session, "was_ever_member", username, project)
    if key not in cache:
        cache[key] = bool(api.was_ever_member(session, username, project))
    return cache[key]


def identifier_values(session: Session, project: str) -> set[str]:
    from provisioning import api

    try:
        return set(api.identifier_values(session, project))
    except NotImplementedError:
        return set()


def quasi_identifier_values(session: Session, project: str) -> set[str]:
    from provisioning import api

    try:
        return set(api.quasi_identifier_values(session, project))
    except NotImplementedError:
        return set()


def project_exists(session: Session, project: str) -> bool:
    from provisioning import api

    return api.get_project(session, project) is not None
