"""Everything an admin (or a test of another component) can do to provisioning, in one import.

Each function takes the caller's session, makes one change plus its audit event, and leaves the commit
to the caller (``with sandkasse.db.session_scope(factory) as session: ...``), so a failure changes
nothing. ``actor`` is who did it, ``reason`` why.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy.orm import Session

from provisioning.catalogue import create_dataset, get_dataset, get_person, upsert_person
from provisioning.lifecycle import TRANSITIONS, activate, approve, check_transition, close, record_risk_override, suspend
from provisioning.models import Project
from provisioning.projects import (
    add_member,
    create_project,
    find_project,
    get_project,
    grant,
    remove_member,
    revoke,
    update_project,
)

__all__ = [
    "TRANSITIONS", "activate", "add_member", "approve", "check_transition", "close", "create_dataset",
    "create_open_project", "create_project", "find_project", "get_dataset", "get_person", "get_project", "grant",
    "record_risk_override", "remove_member", "revoke", "suspend", "update_project", "upsert_person",
]


def create_open_project(
    session: Session,
    slug: str,
    members: dict[str, str],
    *,
    start_date: date | None = None,
    end_date: date | None = None,
    title: str | None = None,
    actor: str = "system",
    **fields: Any,
) -> Project:
    """Test helper for other components: an active project (no data) with ``members`` (username -> role),
    open from ``start_date`` (default: a year ago) to ``end_date`` (default: in a year)."""
    today = date.today()
    start = start_date or today - timedelta(days=365)
    end = end_date or today + timedelta(days=365)
    create_project(session, slug=slug, title=title or slug, start_date=start, end_date=end, actor=actor, **fields)
    for username, role in members.items():
        add_member(session, slug, username, role, actor=actor)
    approve(session, slug, actor=actor, reason="test")
    return activate(session, slug, actor=actor, reason="test", build=False)
