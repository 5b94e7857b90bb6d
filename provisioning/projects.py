"""Projects, their members and their entitlements (what data, which columns, which rows, how transformed)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioning import audit, rowfilter, transformations
from provisioning.catalogue import get_dataset
from provisioning.errors import NotFound, ProvisioningError
from provisioning.models import Entitlement, EntitlementColumn, Member, MemberRole, MembershipPeriod, Project, ProjectStatus
from sandkasse.audit import utcnow
from sandkasse.usernames import normalise_username

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")
EDITABLE = ("title", "purpose", "legal_basis", "dpia_reference", "data_controller", "start_date", "end_date")


def check_slug(slug: str) -> str:
    if not SLUG.match(slug or ""):
        raise ProvisioningError(f"invalid project slug {slug!r}: lower-case letters, digits and '-', at most 63")
    return slug


def get_project(session: Session, slug: str) -> Project:
    project = session.execute(select(Project).where(Project.slug == slug)).scalar_one_or_none()
    if project is None:
        raise NotFound(f"no project {slug!r}")
    return project


def find_project(session: Session, slug: str) -> Project | None:
    return session.execute(select(Project).where(Project.slug == slug)).scalar_one_or_none()


def _check_dates(start: date, end: date) -> None:
    if not isinstance(start, date) or not isinstance(end, date):
        raise ProvisioningError("start and end dates are required (YYYY-MM-DD)")
    if end < start:
        raise ProvisioningError(f"end date {end} is before start date {start}")


def create_project(
    session: Session,
    *,
    slug: str,
    title: str,
    start_date: date,
    end_date: date,
    purpose: str = "",
    legal_basis: str = "",
    dpia_reference: str = "",
    data_controller: str = "",
    actor: str = "system",
    reason: str = "",
) -> Project:
    """A new project in status draft."""
    check_slug(slug)
    if re.match(r"^app-[0-9a-f]{20}$", slug):  # reserved: the synthetic twin workspaces (provisioning.api.data_dir)
        raise ProvisioningError(f"project slug {slug!r} is reserved for an application's synthetic twin")
    _check_dates(start_date, end_date)
    if not title.strip():
        raise ProvisioningError("a project needs a title")
    if find_project(session, slug) is not None:
        raise ProvisioningError(f"project {slug!r} already exists")
    project = Project(
        slug=slug, title=title, purpose=purpose, legal_basis=legal_basis, dpia_reference=dpia_reference,
        data_controller=data_controller, start_date=start_date, end_date=end_date, status=ProjectStatus.draft,
    )
    session.add(project)
    session.flush()
    audit.record(
        session, actor=actor, action="project.create", object_type="project", object_id=slug, reason=reason,
        title=title, start_date=start_date, end_date=end_date, legal_basis=legal_basis, dpia_reference=dpia_reference,
    )
    return project


def update_project(session: Session, slug: str, *, actor: str = "system", reason: str = "", **fields: object) -> dict[str, object]:
    """Change descriptive fields and dates; returns what changed (no event when nothing did)."""
    project = get_project(session, slug)
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise ProvisioningError(f"cannot change {', '.join(sorted(unknown))} of a project")
    if project.status is ProjectStatus.closed:
        raise ProvisioningError(f"project {slug!r} is closed and cannot be changed")
    start = fields.get("start_date", project.start_date)
    end = fields.get("end_date", project.end_date)
    _check_dates(start, end)  # type: ignore[arg-type]
    return audit.record_changes(session, project, fields, actor=actor, action="project.update", object_type="project",
                                object_id=slug, reason=reason)


def add_member(
    session: Session, slug: str, username: str, role: str = "researcher", *, actor: str = "system", reason: str = ""
) -> Member:
    """Add a member, or change the role of an existing one; no event when nothing changes."""
    project = get_project(session, slug)
    username = normalise_username(username)
    if project.status is ProjectStatus.closed:
        raise ProvisioningError(f"project {slug!r} is closed; members cannot be added")
    if not USERNAME.match(username or ""):
        raise ProvisioningError(f"invalid username {username!r}")
    try:
        member_role = MemberRole(role)
    except ValueError as exc:
        raise ProvisioningError(f"unknown member role {role!r}; use researcher or lead") from exc
    member = next((m for m in project.members if m.username == username), None)
    if member is None:
        member = Member(username=username, role=member_role)
        project.members.append(member)
        session.add(MembershipPeriod(project_id=project.id, username=username))
        session.flush()
        audit.record(session, actor=actor, action="member.add", object_type="project", object_id=slug, reason=reason, username=username, role=member_role.value)
    elif member.role is not member_role:
        old = member.role.value
        member.role = member_role
        session.flush()
        audit.record(session, actor=actor, action="member.role", object_type="project", object_id=slug, reason=reason, username=username, role=member_role.value, previous=old)
    return member


def remove_member(session: Session, slug: str, username: str, *, actor: str = "system", reason: str = "") -> bool:
    """Remove a member; False (and no event) when they were not one."""
    project = get_project(session, slug)
    username = normalise_username(username)
    member = next((m for m in project.members if m.username == username), None)
    if member is None:
        return False
    project.members.remove(member)
    _end_period(session, project, member)
    session.flush()
    audit.record(session, actor=actor, action="member.remove", object_type="project", object_id=slug, reason=reason, username=username)
    return True


def _end_period(session: Session, project: Project, member: Member) -> None:
    period = session.execute(
        select(MembershipPeriod).where(MembershipPeriod.project_id == project.id, MembershipPeriod.username == member.username,
                                       MembershipPeriod.left_at.is_(None))
    ).scalars().first()
    if period is None:  # a member from before periods were kept: remember them from their join date
        period = MembershipPeriod(project_id=project.id, username=member.username, joined_at=member.added_at)
        session.add(period)
    period.left_at = utcnow()


def _entitlement(project: Project, dataset_name: str) -> Entitlement | None:
    return next((e for e in project.entitlements if e.dataset.name == dataset_name), None)


def grant(
    session: Session,
    slug: str,
    dataset: str,
    columns: Mapping[str, str],
    *,
    row_filter: str | None = None,
    actor: str = "system",
    reason: str = "",
) -> Entitlement:
    """Grant the project ``columns`` (name -> transformation) of ``dataset``, optionally only rows
    matching ``row_filter``. Replaces an earlier grant of the same dataset; no event when identical."""
    project = get_project(session, slug)
    if project.status is ProjectStatus.closed:
        raise ProvisioningError(f"project {slug!r} is closed; nothing can be granted")
    ds = get_dataset(session, dataset)
    if not columns:
        raise ProvisioningError("grant at least one column")
    wanted: dict[str, str] = {}
    for name, how in columns.items():
        col = ds.column(name)
        if col is None:
            raise ProvisioningError(f"dataset {dataset!r} has no column {name!r}")
        how = transformations.normalise(how)
        transformations.check_allowed(name, col.role, how)
        wanted[name] = how
    outputs = [transformations.output_name(c, t) for c, t in wanted.items() if t != transformations.DROP]
    if len(outputs) != len(set(outputs)):
        raise ProvisioningError("two granted columns would have the same name in the extract")
    if row_filter:
        rowfilter.validate(row_filter, [c.name for c in ds.columns])
    row_filter = row_filter or None
    existing = _entitlement(project, dataset)
    if existing is not None:
        current = {c.column_name: c.transformation for c in existing.columns}
        if current == wanted and list(current) == list(wanted) and existing.row_filter == row_filter:
            return existing
        project.entitlements.remove(existing)
        session.flush()
    ent = Entitlement(
        dataset=ds,
        row_filter=row_filter,
        columns=[EntitlementColumn(column_name=c, transformation=t, position=i) for i, (c, t) in enumerate(wanted.items())],
    )
    project.entitlements.append(ent)
    session.flush()
    audit.record(
        session, actor=actor, action="entitlement.grant", object_type="project", object_id=slug, reason=reason,
        dataset=dataset, columns=wanted, row_filter=row_filter, replaced=existing is not None,
    )
    return ent


def revoke(session: Session, slug: str, dataset: str, *, actor: str = "system", reason: str = "") -> bool:
    project = get_project(session, slug)
    existing = _entitlement(project, dataset)
    if existing is None:
        return False
    project.entitlements.remove(existing)
    session.flush()
    audit.record(session, actor=actor, action="entitlement.revoke", object_type="project", object_id=slug, reason=reason, dataset=dataset)
    return True
