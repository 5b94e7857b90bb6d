"""Provisioning's read API: the one place hub and egress_review learn about projects and people.

Provisioning is the single source of truth for projects, datasets, members and entitlements.
Other components call these functions (with a SQLAlchemy session on the provisioning database);
they never query provisioning's tables or re-implement its rules themselves.

CONTRACT (filled in by the provisioning work; signatures are stable, bodies may change).
"""

from __future__ import annotations

import json
import re
from datetime import date
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from provisioning import models as m
from provisioning.projects import check_slug
from provisioning.transformations import DROP, output_name
from sandkasse.settings import get_settings
from sandkasse.usernames import normalise_username


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


def _info(project: m.Project) -> ProjectInfo:
    return ProjectInfo(
        slug=project.slug,
        title=project.title,
        purpose=project.purpose,
        legal_basis=project.legal_basis,
        dpia_reference=project.dpia_reference,
        status=project.status.value,
        start_date=project.start_date,
        end_date=project.end_date,
        members={mem.username: mem.role.value for mem in project.members},
    )


def _load(session: Session, slug: str) -> m.Project | None:
    return session.execute(
        select(m.Project).where(m.Project.slug == slug).options(selectinload(m.Project.members))
    ).scalar_one_or_none()


def get_project(session: Session, slug: str) -> ProjectInfo | None:
    project = _load(session, slug)
    return _info(project) if project is not None else None


def list_projects(session: Session) -> list[ProjectInfo]:
    """Every project, whatever its status (for administrators' read-only views)."""
    rows = session.execute(select(m.Project).options(selectinload(m.Project.members)).order_by(m.Project.slug)).scalars()
    return [_info(p) for p in rows]


def projects_for_user(session: Session, username: str, on: date | None = None) -> list[ProjectInfo]:
    """Projects in which ``username`` is a member and which are open (active and within dates) on ``on`` (today)."""
    username = normalise_username(username)
    day = on or date.today()
    rows = session.execute(
        select(m.Project)
        .join(m.Member)
        .where(m.Member.username == username, m.Project.status == m.ProjectStatus.active)
        .options(selectinload(m.Project.members))
        .order_by(m.Project.slug)
    ).scalars()
    return [info for info in (_info(p) for p in rows) if info.is_open_on(day)]


def member_role(session: Session, username: str, slug: str) -> str | None:
    """The user's role in the project, or None when not a member."""
    username = normalise_username(username)
    role = session.execute(
        select(m.Member.role).join(m.Project).where(m.Project.slug == slug, m.Member.username == username)
    ).scalar_one_or_none()
    return role.value if role is not None else None


def memberships(session: Session, username: str) -> dict[str, str]:
    """Every project the user is a member of, open or not, with their role (slug -> role)."""
    username = normalise_username(username)
    rows = session.execute(
        select(m.Project.slug, m.Member.role).join(m.Member).where(m.Member.username == username)
    ).all()
    return {slug: role.value for slug, role in rows}


def was_ever_member(session: Session, username: str, slug: str) -> bool:
    """True for a member of the project, now or at any time before (removed members are remembered)."""
    return slug in ever_member_of(session, username)


def ever_member_of(session: Session, username: str) -> set[str]:
    """Every project the user is or ever was a member of, in any state (for conflict of interest)."""
    username = normalise_username(username)
    now = select(m.Project.slug).join(m.Member).where(m.Member.username == username)
    before = select(m.Project.slug).join(m.MembershipPeriod).where(m.MembershipPeriod.username == username)
    return set(session.execute(now.union(before)).scalars())


def can_access_project(session: Session, username: str, slug: str, on: date | None = None) -> bool:
    """True only for a member of an open project."""
    username = normalise_username(username)
    day = on or date.today()
    # One indexed row, not the whole project: every egress call asks this.
    return session.execute(
        select(m.Member.username).join(m.Project).where(
            m.Project.slug == slug, m.Member.username == username, m.Project.status == m.ProjectStatus.active,
            m.Project.start_date <= day, m.Project.end_date >= day,
        ).limit(1)
    ).first() is not None


def project_datasets(session: Session, slug: str) -> list[ProjectDatasetInfo]:
    project = session.execute(
        select(m.Project).where(m.Project.slug == slug).options(selectinload(m.Project.entitlements))
    ).scalar_one_or_none()
    if project is None:
        return []
    built = {e.dataset_id: e for e in project.extracts}
    out = []
    for ent in project.entitlements:
        roles = {c.name: c.role.value for c in ent.dataset.columns}
        extract = built.get(ent.dataset_id)
        out.append(
            ProjectDatasetInfo(
                dataset=ent.dataset.name,
                description=ent.dataset.description,
                columns=[
                    DatasetColumnInfo(
                        name=output_name(c.column_name, c.transformation),
                        role=roles.get(c.column_name, "other"),
                        transformation=c.transformation,
                    )
                    for c in ent.columns
                    if c.transformation != DROP
                ],
                extract_files=json.loads(extract.files) if extract is not None else [],
            )
        )
    return out


def extract_dir(slug: str) -> Path:
    """Host folder holding the project's read-only extracts (mounted at /data in the sandbox)."""
    return get_settings().var_dir / "projects" / check_slug(slug) / "data"


# -- the synthetic twin as a workspace: an application's applicant develops on it before approval ----------

TWIN_SLUG = re.compile(r"^app-([0-9a-f]{20})$")  # "app-" and the application id's start; never a project's slug


def twin_application(slug: str) -> str | None:
    """The application id prefix of the synthetic twin the workspace ``slug`` opens, or None for a project."""
    found = TWIN_SLUG.match(slug or "")
    return found.group(1) if found else None


def can_use_twin(session: Session, username: str, slug: str) -> bool:
    """True only for the applicant of a submitted (not refused, not withdrawn) application."""
    from provisioning.applications.models import Application
    from provisioning.applications.permissions import may_use_twin

    prefix = twin_application(slug)
    if prefix is None:
        return False
    found = session.execute(select(Application).where(Application.id.startswith(prefix)).limit(2)).scalars().all()
    return len(found) == 1 and may_use_twin(username, found[0])  # an ambiguous prefix opens nothing


class TwinWorkspaceInfo(BaseModel):
    slug: str  # the hub's server name, "app-<id[:20]>"
    title: str  # the application's
    start_date: date  # the period the application asks for
    end_date: date


def twin_workspaces(session: Session, username: str) -> list[TwinWorkspaceInfo]:
    """The twins ``username`` may open: one per submitted application of theirs."""
    from provisioning.applications.models import Application
    from provisioning.applications.permissions import content_of, may_use_twin

    rows = session.execute(select(Application).where(Application.applicant == normalise_username(username))
                           .order_by(Application.created_at)).scalars()
    from provisioning.applications.prepared import workspace_of

    out = []
    for a in rows:
        if may_use_twin(username, a):
            asked = content_of(a)
            out.append(TwinWorkspaceInfo(slug=workspace_of(a.id), title=a.title, start_date=asked.start_date or date.today(),
                                         end_date=asked.end_date or date.today()))
    return out


def data_dir(slug: str) -> Path:
    """What a sandbox mounts read-only at /data: a project's extracts, or an application's synthetic twin."""
    if twin_application(slug) is None:
        return extract_dir(slug)
    return get_settings().var_dir / "twins" / slug


@lru_cache(maxsize=16)
def _column_values(source: str, column: str, mtime_ns: int) -> frozenset[str]:
    # pyarrow and pandas load here, not at import: hub and egress import this module and should not
    # carry ~100 MB of data libraries for the few calls that read source data.
    path = Path(source)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        values = pq.read_table(path, columns=[column]).column(0).drop_null().unique().to_pylist()
    else:
        import pandas as pd

        values = pd.read_csv(path, usecols=[column], dtype=str)[column].dropna().unique().tolist()
    return frozenset(str(v) for v in values)


def _role_values(session: Session, slug: str, role: m.ColumnRole) -> set[str]:
    project = _load(session, slug)
    if project is None:
        return set()
    found: set[str] = set()
    for ent in project.entitlements:
        source = Path(ent.dataset.source)
        if not source.is_file():
            continue
        for col in ent.dataset.columns:
            if col.role is role:
                found |= _column_values(str(source), col.name, source.stat().st_mtime_ns)
    return found


def identifier_values(session: Session, slug: str) -> set[str]:
    """Values of the direct-identifier columns of the project's source datasets (for egress identifier scans)."""
    return _role_values(session, slug, m.ColumnRole.direct_identifier)


def quasi_identifier_values(session: Session, slug: str) -> set[str]:
    """Values of the quasi-identifier columns (units, places, titles): egress scans never take these words
    for direct identifiers, although a name column may hold them too (a surname that is a place)."""
    return _role_values(session, slug, m.ColumnRole.quasi_identifier)


def stoppable_servers(session: Session, running: list[tuple[str, str]], on: date | None = None) -> list[tuple[str, str]]:
    """Of the running (username, project slug) pairs, those that must stop (project not open, or user no longer a member)."""
    day = on or date.today()
    cache: dict[str, ProjectInfo | None] = {}
    out = []
    for username, slug in running:
        if twin_application(slug) is not None:
            if not can_use_twin(session, username, slug):
                out.append((username, slug))
            continue
        if slug not in cache:
            cache[slug] = get_project(session, slug)
        info = cache[slug]
        if info is None or normalise_username(username) not in info.members or not info.is_open_on(day):
            out.append((username, slug))
    return out


def contacts(session: Session, *, role: str | None = None) -> dict[str, str]:
    """E-mail addresses of enabled people (username -> address, "" when none is recorded), only those
    holding ``role`` when given."""
    rows = session.execute(select(m.Person).where(m.Person.enabled.is_(True))).scalars()
    return {p.username: p.email for p in rows if role is None or role in p.roles}
def claim_account_name(session: Session, username: str, subject: str, *, via: str) -> bool:
    """In the caller's transaction (commit it, refusals are audited): may the Keycloak account
    ``subject`` use ``username``? False when the name belongs to another (deleted) account
    (see provisioning.accounts)."""
    from provisioning.accounts import claim

    return claim(session, username, subject, via=via, actor=normalise_username(username))


def dp_budgets(session: Session, slug: str | None = None) -> list[dict]:
    """The differential-privacy ledgers (all projects, or one): measure, total, spent, remaining."""
    from provisioning.dp_budget import list_budgets

    return [{"project": b.project, "dataset": b.dataset, "measure": b.measure, "total": b.total,
             "spent": b.spent, "remaining": b.remaining} for b in list_budgets(session, slug)]


def spend_dp_budget(session: Session, slug: str, dataset: str, measure: str, amount: float) -> dict | None:
    """Atomically take ``amount`` in the caller's transaction (see provisioning.dp_budget.spend); None: refused."""
    from provisioning.dp_budget import spend

    b = spend(session, slug, dataset, measure, amount)
    return None if b is None else {"project": b.project, "dataset": b.dataset, "measure": b.measure,
                                   "total": b.total, "spent": b.spent, "remaining": b.remaining}
