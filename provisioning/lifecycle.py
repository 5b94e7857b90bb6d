"""A project's life: draft → approved → active ⇄ suspended → closed.

:data:`TRANSITIONS` is the one table of allowed status changes; every step checks it first, then makes
the change and appends its audit event (who, what, when, why) in the same transaction. Activation builds
the extracts, refuses extracts below the policy's minimum k unless an admin override covers them, and
syncs Keycloak; suspension and closing remove the project's Keycloak group membership (the hub stops
running servers through :func:`provisioning.api.stoppable_servers`); closing also destroys the
pseudonymisation key and deletes or archives the extracts as the policy says.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioning import audit
from provisioning.errors import InvalidTransition, ProvisioningError, RiskBelowThreshold
from provisioning.keys import destroy_project_key
from provisioning.models import Extract, Project, ProjectStatus, RiskOverride
from provisioning.policy import ProvisioningPolicy, current
from provisioning.projects import get_project
from sandkasse.audit import utcnow
from sandkasse.settings import get_settings

if TYPE_CHECKING:
    from provisioning.keycloak_sync import KeycloakSync

S = ProjectStatus
TRANSITIONS: dict[ProjectStatus, frozenset[ProjectStatus]] = {
    S.draft: frozenset({S.approved, S.closed}),
    S.approved: frozenset({S.active, S.closed}),
    S.active: frozenset({S.suspended, S.closed}),
    S.suspended: frozenset({S.active, S.closed}),
    S.closed: frozenset(),
}


def check_transition(project: Project, target: ProjectStatus) -> None:
    if target not in TRANSITIONS[project.status]:
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[project.status])) or "nothing (final)"
        raise InvalidTransition(
            f"project {project.slug!r} is {project.status.value}; it cannot become {target.value} (allowed: {allowed})"
        )


def _move(session: Session, project: Project, target: ProjectStatus, actor: str, reason: str, **detail: object) -> None:
    previous = project.status
    project.status = target
    project.status_changed_at = utcnow()
    session.flush()
    audit.record(
        session, actor=actor, action=f"project.{_VERB[target]}", object_type="project", object_id=project.slug,
        reason=reason, previous=previous.value, status=target.value, **detail,
    )


_VERB = {S.approved: "approve", S.active: "activate", S.suspended: "suspend", S.closed: "close", S.draft: "create"}


def approve(session: Session, slug: str, *, actor: str = "system", reason: str = "") -> Project:
    project = get_project(session, slug)
    check_transition(project, S.approved)
    if not project.members:
        raise ProvisioningError(f"project {slug!r} has no members; add a lead before approving")
    _move(session, project, S.approved, actor, reason)
    return project


def covering_override(session: Session, extract: Extract) -> RiskOverride | None:
    """The newest admin override that accepts this extract's current smallest class, if any."""
    rows = session.execute(
        select(RiskOverride)
        .where(RiskOverride.project_id == extract.project_id, RiskOverride.dataset_id == extract.dataset_id)
        .order_by(RiskOverride.at.desc())
    ).scalars()
    return next((o for o in rows if extract.min_k is not None and extract.min_k >= o.accepted_k), None)


def check_risk(session: Session, project: Project, policy: ProvisioningPolicy | None = None) -> list[dict]:
    """Refuse when an extract is below the minimum k without a covering override; returns the findings."""
    policy = policy or current()
    findings = []
    for extract in project.extracts:
        if extract.risk_ok:
            continue
        override = covering_override(session, extract)
        finding = {"dataset": extract.dataset.name, "min_k": extract.min_k, "policy_min_k": policy.risk.min_k,
                   "override_by": override.actor if override else None, "override_reason": override.reason if override else None}
        if override is None:
            raise RiskBelowThreshold(
                f"extract {extract.dataset.name!r} of project {project.slug!r} has a smallest equivalence class of "
                f"{extract.min_k} (< k={policy.risk.min_k}); generalise more, or an admin records an override with "
                f"'sandkasse-admin risk override {project.slug} {extract.dataset.name} --reason ...'"
            )
        findings.append(finding)
    return findings


def activate(
    session: Session,
    slug: str,
    *,
    actor: str = "system",
    reason: str = "",
    build: bool = True,
    keycloak: KeycloakSync | None = None,
    master_key: bytes | None = None,
    var_dir: Path | None = None,
    policy: ProvisioningPolicy | None = None,
    progress=None,  # noqa: ANN001 - optional callback(what), called before each extract is built
) -> Project:
    """Build the extracts, check their risk, make the project active and sync Keycloak.

    A project without entitlements activates without building anything (useful for tests of other
    components that only need an open project)."""
    policy = policy or current()
    project = get_project(session, slug)
    check_transition(project, S.active)
    built: list[str] = []
    if build and project.entitlements:
        from provisioning.extracts import build_project_extracts

        built = [e.dataset.name for e in build_project_extracts(
            session, project, master_key=master_key, var_dir=var_dir, policy=policy, progress=progress, actor=actor
        )]
    try:
        overrides = check_risk(session, project, policy)
    except RiskBelowThreshold:
        if built and project.status is S.approved:
            # The refused build's key is rolled back with the transaction: its files would be unusable.
            _dispose_extracts(project_dir(slug, var_dir), slug, "delete", var_dir)
        raise
    _move(session, project, S.active, actor, reason, extracts=built, risk_overrides=overrides)
    if keycloak is not None:
        keycloak.sync_project(session, project)
    return project


def suspend(session: Session, slug: str, *, actor: str = "system", reason: str = "", keycloak: KeycloakSync | None = None) -> Project:
    project = get_project(session, slug)
    check_transition(project, S.suspended)
    if not reason:
        raise ProvisioningError("say why the project is suspended (--reason)")
    _move(session, project, S.suspended, actor, reason)
    if keycloak is not None:
        keycloak.sync_project(session, project)
    return project


def close(
    session: Session,
    slug: str,
    *,
    actor: str = "system",
    reason: str = "",
    keycloak: KeycloakSync | None = None,
    var_dir: Path | None = None,
    policy: ProvisioningPolicy | None = None,
) -> Project:
    """Close for good: revoke access, destroy the key, delete or archive the extracts."""
    policy = policy or current()
    project = get_project(session, slug)
    check_transition(project, S.closed)
    key_destroyed = destroy_project_key(session, project)
    folder = project_dir(slug, var_dir)
    disposal = _dispose_extracts(folder, slug, policy.extracts.on_close, var_dir)
    _move(session, project, S.closed, actor, reason, key_destroyed=key_destroyed, extracts=disposal)
    if keycloak is not None:
        keycloak.sync_project(session, project)
    return project


def project_dir(slug: str, var_dir: Path | None = None) -> Path:
    return (var_dir or get_settings().var_dir) / "projects" / slug


def _dispose_extracts(folder: Path, slug: str, how: str, var_dir: Path | None) -> str:
    data = folder / "data"
    if not data.exists():
        return "none"
    for path in data.rglob("*"):  # read-only files: make them removable by the provisioner
        path.chmod(0o600 if path.is_file() else 0o700)
    data.chmod(0o700)
    if how == "archive":
        target = (var_dir or get_settings().var_dir) / "archive" / slug / utcnow().strftime("%Y%m%dT%H%M%SZ")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(data), target)
        return f"archived to {target}"
    shutil.rmtree(data)
    return "deleted"


def record_risk_override(
    session: Session, slug: str, dataset: str, *, actor: str, reason: str, require_admin: bool = True,
    operator: dict[str, object] | None = None,
) -> RiskOverride:
    """An admin accepts the current extract of ``dataset`` despite a small equivalence class."""
    from provisioning.catalogue import get_dataset, get_person

    if not reason.strip():
        raise ProvisioningError("a risk override needs a reason")
    if require_admin:
        person = get_person(session, actor)
        if person is None or "admin" not in person.roles:
            raise ProvisioningError(f"{actor!r} is not a registered admin; only an admin may override the risk check")
    project = get_project(session, slug)
    ds = get_dataset(session, dataset)
    extract = next((e for e in project.extracts if e.dataset_id == ds.id), None)
    if extract is None or extract.min_k is None:
        raise ProvisioningError(f"no extract of {dataset!r} has been built for {slug!r}; run 'extract build' first")
    override = RiskOverride(project_id=project.id, dataset_id=ds.id, actor=actor, reason=reason, accepted_k=extract.min_k)
    session.add(override)
    session.flush()
    audit.record(
        session, actor=actor, action="risk.override", object_type="project", object_id=slug, reason=reason,
        dataset=dataset, accepted_k=extract.min_k, report=json.loads(extract.risk_report or "{}").get("summary", {}),
        **({"operator": operator} if operator else {}),
    )
    return override
