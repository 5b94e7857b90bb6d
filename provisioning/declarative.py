"""Projects as code: a YAML file (``policies/projects/*.yaml``) declares a project, its members, its
grants and the status it should be in; :func:`apply_spec` brings the database there and changes nothing
when it already is (so re-applying is safe and reviewable)."""

from __future__ import annotations

from datetime import date
from typing import Literal
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy.orm import Session

from provisioning import dp_budget, lifecycle, projects
from provisioning.errors import ProvisioningError
from provisioning.models import ProjectStatus
from sandkasse.usernames import normalise_username



def status_path(start: ProjectStatus, target: ProjectStatus) -> list[ProjectStatus]:
    """The shortest way through :data:`lifecycle.TRANSITIONS` from ``start`` to ``target``."""
    paths: dict[ProjectStatus, list[ProjectStatus]] = {start: []}
    frontier = [start]
    while frontier and target not in paths:
        nxt = []
        for status in frontier:
            for step in sorted(lifecycle.TRANSITIONS[status], key=lambda s: s.value):
                if step not in paths:
                    paths[step] = [*paths[status], step]
                    nxt.append(step)
        frontier = nxt
    if target not in paths:
        raise ProvisioningError(f"a project cannot go from {start.value} to {target.value}")
    return paths[target]


class GrantSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    columns: dict[str, str] = Field(min_length=1)
    row_filter: str | None = None
    # the differential-privacy budget on this dataset: {epsilon: 3.0} or {rho: 0.5} (provisioning/dp_budget.py)
    dp_budget: dict[Literal["epsilon", "rho"], float] | None = Field(default=None, min_length=1, max_length=1)


class ProjectSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    slug: str
    title: str
    purpose: str = ""
    legal_basis: str = ""
    dpia_reference: str = ""
    data_controller: str = ""
    start_date: date
    end_date: date
    status: ProjectStatus = ProjectStatus.approved
    members: dict[str, str] = Field(default_factory=dict)
    datasets: dict[str, GrantSpec] = Field(default_factory=dict)

    @field_validator("members")
    @classmethod
    def _one_spelling(cls, members: dict[str, str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for username, role in members.items():
            name = normalise_username(username)
            if name in out:
                raise ValueError(f"member {username!r} is listed twice (user names ignore case)")
            out[name] = role
        return out

    @model_validator(mode="after")
    def _dates(self) -> ProjectSpec:
        if self.end_date < self.start_date:
            raise ValueError(f"end_date {self.end_date} is before start_date {self.start_date}")
        return self


def load_spec(path: Path) -> ProjectSpec:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ProvisioningError(f"project file {path} not found") from exc
    except yaml.YAMLError as exc:
        raise ProvisioningError(f"project file {path} is not valid YAML: {exc}") from exc
    try:
        return ProjectSpec.model_validate(raw or {})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'file'}: {e['msg']}" for e in exc.errors())
        raise ProvisioningError(f"project file {path} is invalid: {problems}") from exc


def apply_spec(
    session: Session,
    spec: ProjectSpec,
    *,
    actor: str = "system",
    reason: str = "",
    keycloak=None,  # noqa: ANN001 - KeycloakSync | None
    master_key: bytes | None = None,
    var_dir: Path | None = None,
    progress=None,  # noqa: ANN001
) -> list[str]:
    """Bring the project to the spec; returns what was done (empty when nothing changed)."""
    reason = reason or f"declared in project file ({spec.slug})"
    done: list[str] = []
    project = projects.find_project(session, spec.slug)
    fields = {k: getattr(spec, k) for k in projects.EDITABLE}
    if project is None:
        project = projects.create_project(session, actor=actor, reason=reason, slug=spec.slug, **fields)
        done.append("created")
    elif project.status is ProjectStatus.closed:
        if spec.status is ProjectStatus.closed:
            return done
        raise ProvisioningError(f"project {spec.slug!r} is closed; a closed project cannot be re-opened")
    else:
        changed = projects.update_project(session, spec.slug, actor=actor, reason=reason, **fields)
        done += [f"changed {k}" for k in changed]

    current_members = {m.username: m.role.value for m in project.members}
    for username, role in spec.members.items():
        if current_members.get(username) != role:
            projects.add_member(session, spec.slug, username, role, actor=actor, reason=reason)
            done.append(f"member {username} ({role})")
    for username in sorted(set(current_members) - set(spec.members)):
        projects.remove_member(session, spec.slug, username, actor=actor, reason=reason)
        done.append(f"removed member {username}")

    # the objects, not their ids: SQLite gives a replaced grant's new row the deleted row's id
    grants_before = {e.dataset.name: e for e in project.entitlements}
    for dataset, grant in spec.datasets.items():
        ent = projects.grant(session, spec.slug, dataset, grant.columns, row_filter=grant.row_filter, actor=actor, reason=reason)
        if grants_before.get(dataset) is not ent:
            done.append(f"granted {dataset}")
        if grant.dp_budget:
            (measure, total), = grant.dp_budget.items()
            before = dp_budget.get_budget(session, spec.slug, dataset)
            dp_budget.set_budget(session, spec.slug, dataset, measure, total, actor=actor, reason=reason)
            if before is None or (before.measure, before.total) != (measure, total):
                done.append(f"dp budget {dataset} {measure}={total:g}")
    for dataset in sorted(set(grants_before) - set(spec.datasets)):
        projects.revoke(session, spec.slug, dataset, actor=actor, reason=reason)
        done.append(f"revoked {dataset}")
    data_changed = any(d.startswith(("granted", "revoked")) for d in done)

    kwargs = {"actor": actor, "reason": reason}
    for step in status_path(project.status, spec.status):
        if step is ProjectStatus.approved:
            lifecycle.approve(session, spec.slug, **kwargs)
        elif step is ProjectStatus.active:
            lifecycle.activate(session, spec.slug, keycloak=keycloak, master_key=master_key, var_dir=var_dir,
                               progress=progress, **kwargs)
            data_changed = False
        elif step is ProjectStatus.suspended:
            lifecycle.suspend(session, spec.slug, keycloak=keycloak, **kwargs)
        elif step is ProjectStatus.closed:
            lifecycle.close(session, spec.slug, keycloak=keycloak, var_dir=var_dir, **kwargs)
        done.append(step.value)

    if project.status is ProjectStatus.active and data_changed:
        from provisioning.extracts import build_project_extracts

        build_project_extracts(session, project, master_key=master_key, var_dir=var_dir, actor=actor, progress=progress)
        lifecycle.check_risk(session, project)
        done.append("rebuilt extracts")
    if project.status is ProjectStatus.active and keycloak is not None and any(d.startswith(("member", "removed")) for d in done):
        keycloak.sync_project(session, project)
    return done
