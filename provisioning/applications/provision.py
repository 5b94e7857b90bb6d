"""An approved application becomes a project: its content becomes a project declaration
(:meth:`ApplicationContent.to_project_spec`, the ``policies/projects/*.yaml`` format) applied by
:func:`provisioning.declarative.apply_spec` (project, members, grants with the approved
transformations, extracts, the risk gate of activation, the Keycloak group). Members named by e-mail
are linked to the person with that address, or registered as new researchers, and invited.

The application, its decisions and the project are linked in the audit trail: the project's
``dpia_reference`` names the application, and the ``application.provision`` event names the project,
the decisions and what was done. An amendment application applies to the project it amends, keeping
its members and stating its data as it should be from now on."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from provisioning import api, catalogue, lifecycle
from provisioning.applications import notices
from provisioning.applications import permissions as perm
from provisioning.applications.models import Application
from provisioning.applications.states import Action, Actor, AppState
from provisioning.applications.workflow import _record, get, move
from provisioning.declarative import apply_spec
from provisioning.errors import ProvisioningError, RiskBelowThreshold
from provisioning.extracts import build_project_extracts
from provisioning.models import Person, ProjectStatus
from provisioning.projects import check_slug, find_project
from sandkasse.usernames import normalise_username


def reference(app: Application) -> str:
    return f"application {app.id}"


def project_slug(session: Session, app: Application) -> str:
    if app.amends:
        return app.amends
    base = re.sub(r"[^a-z0-9]+", "-", app.title.lower()).strip("-")
    if not base[:1].isalpha():
        base = f"p-{base}"  # JupyterHub's server names start with a letter
    # JupyterHub's server names (the project's slug) have at most 30 characters
    return check_slug(f"{base[:23].strip('-')}-{app.id[:6]}")


def _username_for(session: Session, email: str) -> str:
    local = re.sub(r"[^a-z0-9._-]+", "", email.split("@", 1)[0].lower()).strip("._-") or "member"
    name, n = local, 1
    while catalogue.get_person(session, name) is not None:
        n += 1
        name = f"{local}{n}"
    return name


def resolve_members(session: Session, app: Application, by: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """username -> role (the applicant leads), and the (username, address) pairs to invite."""
    members = {normalise_username(app.applicant): "lead"}
    if app.amends:
        project = find_project(session, app.amends)
        members.update({m.username: m.role.value for m in project.members} if project else {})
    invited: list[tuple[str, str]] = []
    for email in perm.content_of(app).members:
        person = session.execute(select(Person).where(func.lower(Person.email) == email)).scalars().first()
        if person is not None:
            username = person.username
        elif email == app.applicant_email:
            username = normalise_username(app.applicant)
        else:
            username = _username_for(session, email)
            catalogue.upsert_person(session, username=username, email=email, roles=("researcher",), actor=by,
                                    reason=f"member named by {reference(app)}")
        if username not in members:
            members[username] = "researcher"
            invited.append((username, email))
    return members, invited


def provision(session: Session, app_id: str, *, by: str = "system", keycloak=None,  # noqa: ANN001 - KeycloakSync | None
              master_key: bytes | None = None, var_dir: Path | None = None) -> list[str]:
    """Apply the approved application; returns what was done. A new project whose extract is below the
    policy's minimum k (and no admin override covers it) is held at "approved" and the application
    keeps why; anything else that fails raises and changes nothing."""
    app = get(session, app_id, lock=True)
    if AppState(app.state) is not AppState.APPROVED:
        raise ProvisioningError(f"application {app.id} is {app.state}; only an approved application is provisioned")
    if app.amends and api.member_role(session, app.applicant, app.amends) != "lead":
        # approved while its applicant was removed: applying it would make them the lead again
        raise ProvisioningError(f"{app.applicant} no longer leads {app.amends}; the amendment is not applied")
    slug = project_slug(session, app)
    members, invited = resolve_members(session, app, by)
    spec = perm.content_of(app).to_project_spec(slug, members).model_copy(
        update={"status": ProjectStatus.active, "dpia_reference": reference(app)[:255]})
    reason = f"{reference(app)} approved"
    existing = find_project(session, slug)
    if existing is not None and existing.status is ProjectStatus.active:  # an amendment: the data changes now
        done = apply_spec(session, spec, actor=by, reason=reason, keycloak=keycloak, master_key=master_key, var_dir=var_dir)
    else:
        # a new project: made and its extracts built first, so an extract below the policy's k holds the
        # project at "approved" with its risk report, for an admin's override and a second provision
        done = apply_spec(session, spec.model_copy(update={"status": ProjectStatus.approved}), actor=by, reason=reason,
                          master_key=master_key, var_dir=var_dir)
        project = find_project(session, slug)
        build_project_extracts(session, project, master_key=master_key, var_dir=var_dir, actor=by)
        try:
            lifecycle.check_risk(session, project)
        except RiskBelowThreshold as exc:
            app.project_slug, app.provision_error = slug, str(exc)
            _record(session, app, by, Actor.SYSTEM, "provision_held", project=slug, error=str(exc)[:500])
            return [*done, "held: extract below the minimum k"]
        lifecycle.activate(session, slug, build=False, keycloak=keycloak, actor=by, reason=reason)
        done += ["built extracts", "active"]
    app.project_slug = slug
    app.provision_error = ""
    move(session, app, Action.PROVISION, Actor.SYSTEM, by, project=slug, done=done, amends=app.amends or "",
         decisions=[d.id for d in app.decisions], members=sorted(members))
    for username, address in invited:
        notices.on_invited(session, app, username, address, slug)
    return done


def record_failure(session: Session, app_id: str, error: str, by: str = "system") -> None:
    """Keep why provisioning failed on the (still approved) application, for the retry."""
    app = get(session, app_id, lock=True)
    app.provision_error = error[:2000]
    _record(session, app, by, Actor.SYSTEM, "provision_failed", error=error[:500])
