"""E-mail notices of applications, written into the outbox (``prov_application_notices``) in the
transaction of the change they announce, and sent by :mod:`provisioning.applications.sender`.

The next decision-makers are told when an application waits for them (never one who is a party to
it); the applicant at every decision and when the project is ready; named members when they are
invited. Messages carry the application's number and state and a link, never its content: the
application stays behind the portal's login."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioning.applications import permissions as perm
from provisioning.applications.models import Application, ApplicationNotice, DatasetOwner
from provisioning.applications.policy import ApplicationsPolicy
from provisioning.applications.states import AppState
from provisioning.models import Dataset, Person

SESSION_KEY = "application_notices"

WAITING = {
    AppState.SUBMITTED: "a dataset owner's decision",
    AppState.DPO_ASSESSMENT: "the data protection officer's assessment",
    AppState.CONTROLLER_APPROVAL: "the controller's approval",
}
TO_APPLICANT = {
    AppState.SUBMITTED: "was submitted and waits for the dataset owners",
    AppState.DPO_ASSESSMENT: "was approved by the dataset owners and waits for the data protection officer",
    AppState.CONTROLLER_APPROVAL: "was assessed by the data protection officer and waits for the controller's approval",
    AppState.APPROVED: "was approved; the project is being provisioned",
    AppState.PROVISIONED: "was approved and its project is ready",
    AppState.RETURNED: "was returned to you for changes",
    AppState.REJECTED: "was rejected",
    AppState.WITHDRAWN: "was withdrawn",
}


def policy_of(session: Session) -> ApplicationsPolicy | None:
    """Notices are written only for sessions that carry an enabled policy (the portal's)."""
    pol = session.info.get(SESSION_KEY)
    return pol if pol is not None and pol.notifications.enabled and pol.notifications.smtp is not None else None


def link(pol: ApplicationsPolicy, app: Application) -> str:
    return f"{pol.portal_url.rstrip('/')}/applications/{app.id}"


def _add(session: Session, app: Application, event: str, username: str, address: str, subject: str, body: str) -> None:
    if address:
        session.add(ApplicationNotice(application_id=app.id, event=event, username=username, recipient=address,
                                      subject=subject, body=body))


def _people_with(session: Session, role: str) -> dict[str, str]:
    rows = session.execute(select(Person).where(Person.enabled.is_(True))).scalars()
    return {p.username: p.email for p in rows if role in p.roles}


def next_deciders(session: Session, app: Application, state: AppState) -> dict[str, str]:
    """username -> address of who decides next, parties excluded."""
    if state is AppState.SUBMITTED:
        wanted = perm.pending_datasets(app)
        rows = session.execute(
            select(Person).join(DatasetOwner, DatasetOwner.username == Person.username)
            .join(Dataset, Dataset.id == DatasetOwner.dataset_id)
            .where(Dataset.name.in_(wanted), Person.enabled.is_(True))
        ).scalars()
        people = {p.username: p.email for p in rows if perm.DATASET_OWNER in p.roles}
    elif state is AppState.DPO_ASSESSMENT:
        people = _people_with(session, perm.DPO)
    elif state is AppState.CONTROLLER_APPROVAL:
        people = _people_with(session, perm.CONTROLLER)
    else:
        return {}
    return {u: e for u, e in people.items()
            if not perm.is_party(session, perm.Caller(u, frozenset(), e), app)}


def on_transition(session: Session, app: Application, target: AppState, reasons: str = "") -> None:
    pol = policy_of(session)
    if pol is None:
        return
    number = app.id[:8]
    if target in WAITING:
        for username, address in sorted(next_deciders(session, app, target).items()):
            _add(session, app, "waiting", username, address, f"Application {number}: waiting for you",
                 f"The data-access application {number} waits for {WAITING[target]}.\n\nOpen it: {link(pol, app)}\n")
    if target in TO_APPLICANT:
        body = f"Your data-access application {number} {TO_APPLICANT[target]}.\n"
        if reasons and target in (AppState.RETURNED, AppState.REJECTED):
            body += f"\nReasons given:\n{reasons}\n"
        if target is AppState.PROVISIONED and app.project_slug:
            body += f"\nProject: {app.project_slug}\n"
        _add(session, app, target.value, app.applicant, app.applicant_email,
             f"Application {number}: {target.value.replace('_', ' ')}", body + f"\nOpen it: {link(pol, app)}\n")


def on_invited(session: Session, app: Application, username: str, address: str, slug: str) -> None:
    pol = policy_of(session)
    if pol is None:
        return
    _add(session, app, "invited", username, address, f"You are invited to the research project {slug}",
         f"You are a member of the research project {slug} (user name: {username}).\n"
         f"Log in to the research environment with that user name to open the project's notebooks.\n")
