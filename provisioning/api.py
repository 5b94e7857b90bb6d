"""Provisioning's read API: the one place hub and egress_review learn about projects and people.

Provisioning is the single source of truth for projects, datasets, members and entitlements.
Other components call these functions (with a SQLAlchemy session on the provisioning database);
they never query provisioning's tables or re-implement its rules themselves.

CONTRACT (filled in by the provisioning work; signatures are stable, bodies may change).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pydantic import BaseModel
from sqlalchemy.orm import Session


class DatasetColumnInfo(BaseModel):
    name: str
    role: str  # direct_identifier | quasi_identifier | sensitive | other
    transformation: str  # keep | pseudonymise | generalise:<how> | drop


class ProjectDatasetInfo(BaseModel):
    dataset: str
    description: str
    columns: list[DatasetColumnInfo]  # only the columns granted to the project, as they appear in the extract
    extract_files: list[str]  # file names under the project's extract dir (parquet, csv)


class ProjectInfo(BaseModel):
    slug: str
    title: str
    purpose: str
    legal_basis: str
    dpia_reference: str
    status: str  # draft | approved | active | suspended | closed
    start_date: date
    end_date: date
    members: dict[str, str]  # username -> role (researcher | lead)

    def is_open_on(self, day: date) -> bool:
        return self.status == "active" and self.start_date <= day <= self.end_date


def get_project(session: Session, slug: str) -> ProjectInfo | None:
    raise NotImplementedError


def projects_for_user(session: Session, username: str, on: date | None = None) -> list[ProjectInfo]:
    """Projects in which ``username`` is a member and which are open (active and within dates) on ``on`` (today)."""
    raise NotImplementedError


def member_role(session: Session, username: str, slug: str) -> str | None:
    """The user's role in the project, or None when not a member."""
    raise NotImplementedError


def can_access_project(session: Session, username: str, slug: str, on: date | None = None) -> bool:
    """True only for a member of an open project."""
    raise NotImplementedError


def project_datasets(session: Session, slug: str) -> list[ProjectDatasetInfo]:
    raise NotImplementedError


def extract_dir(slug: str) -> Path:
    """Host folder holding the project's read-only extracts (mounted at /data in the sandbox)."""
    raise NotImplementedError


def identifier_values(session: Session, slug: str) -> set[str]:
    """Values of the direct-identifier columns of the project's source datasets (for egress identifier scans)."""
    raise NotImplementedError


def stoppable_servers(session: Session, running: list[tuple[str, str]], on: date | None = None) -> list[tuple[str, str]]:
    """Of the running (username, project slug) pairs, those that must stop (project not open, or user no longer a member)."""
    raise NotImplementedError
