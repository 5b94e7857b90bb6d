"""Factories for provisioning's integration tests: a project at a given status in one line."""

from __future__ import annotations

from datetime import date

from provisioning import service
from sandkasse.db import session_scope

START, END = date(2026, 1, 1), date(2026, 12, 31)
OPEN_DAY = date(2026, 6, 1)


def make_project(factory, slug: str, members: dict[str, str], grants: dict[str, dict], filters: dict | None = None,
                 status: str = "approved") -> None:
    """A project at ``status`` (draft or approved) with members and grants, in one line of a test."""
    with session_scope(factory) as s:
        service.create_project(s, slug=slug, title=slug, start_date=START, end_date=END, actor="anne")
        for user, role in members.items():
            service.add_member(s, slug, user, role, actor="anne")
        for dataset, columns in grants.items():
            service.grant(s, slug, dataset, columns, row_filter=(filters or {}).get(dataset), actor="anne")
        if status == "approved":
            service.approve(s, slug, actor="anne", reason="approved by the data protection officer")


# A grant that meets k=5 (only gender and a 10-year age band as quasi-identifiers).
SAFE_GRANT = {"national_id": "pseudonymise", "gender": "keep", "days": "keep", "diagnosis_group": "keep"}
