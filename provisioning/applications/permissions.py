"""Who may do what with an application: one function per question, asked by every portal route and
again by the workflow functions that change anything.

A decision-maker never decides on, nor reads the internal comments of, an application they are a
party to: its applicant, a member it names, or a (former) member of the project it amends."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioning import api
from provisioning.applications.content import ApplicationContent
from provisioning.applications.models import Application, ApplicationDecision, DatasetOwner
from provisioning.applications.states import EDITABLE, TRANSITIONS, Action, Actor, AppState
from provisioning.models import Dataset, Person, ProjectStatus
from sandkasse.usernames import normalise_username

APPLICANT, DATASET_OWNER, DPO, CONTROLLER, ADMIN = "applicant", "dataset-owner", "dpo", "controller", "admin"
PORTAL_ROLES = frozenset({APPLICANT, DATASET_OWNER, DPO, CONTROLLER, ADMIN})


@dataclass(frozen=True)
class Caller:
    """Someone logged in to the portal (or a test), with their realm roles."""

    username: str
    roles: frozenset[str] = field(default_factory=frozenset)
    email: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "username", normalise_username(self.username))
        object.__setattr__(self, "email", (self.email or "").strip().lower())

    def has(self, role: str) -> bool:
        return role in self.roles


def content_of(app: Application) -> ApplicationContent:
    return ApplicationContent.model_validate_json(app.content)


def _emails_of(session: Session, username: str, caller_email: str) -> set[str]:
    known = session.execute(select(Person.email).where(Person.username == username)).scalar_one_or_none()
    return {e for e in (caller_email, (known or "").lower()) if e}


def is_party(session: Session, caller: Caller, app: Application) -> bool:
    """The applicant, a member the application names (by e-mail), or a member, now or before, of the
    project it amends."""
    if caller.username == normalise_username(app.applicant):
        return True
    if _emails_of(session, caller.username, caller.email) & set(content_of(app).members):
        return True
    return bool(app.amends) and api.was_ever_member(session, caller.username, app.amends)


def owned_datasets(session: Session, username: str) -> set[str]:
    return set(session.execute(
        select(Dataset.name).join(DatasetOwner, DatasetOwner.dataset_id == Dataset.id)
        .where(DatasetOwner.username == normalise_username(username))
    ).scalars())


def current_round(app: Application) -> int:
    """Each return for changes ends a round of decisions; a resubmission starts the next."""
    return 1 + sum(1 for d in app.decisions if d.decision == "return")


def pending_datasets(app: Application) -> list[str]:
    """The datasets whose owner has not yet approved them in this round."""
    done = {d.dataset for d in app.decisions
            if d.stage == AppState.SUBMITTED and d.decision == "approve" and d.round == current_round(app)}
    return sorted(set(content_of(app).datasets) - done)


def _decider_roles(caller: Caller) -> bool:
    return bool(caller.roles & {DATASET_OWNER, DPO, CONTROLLER, ADMIN})


# -- the questions ------------------------------------------------------------------------------------


def may_apply(caller: Caller) -> bool:
    return caller.has(APPLICANT)


def may_amend(session: Session, caller: Caller, slug: str) -> bool:
    """Only the lead of an active project asks to change its data."""
    if not may_apply(caller):
        return False
    info = api.get_project(session, slug)
    return info is not None and info.status == ProjectStatus.active.value and api.member_role(session, caller.username, slug) == "lead"


def may_read(session: Session, caller: Caller, app: Application) -> bool:
    """The applicant; once submitted, the decision-makers (owners of a dataset it asks for, the DPO,
    the controller's representative) and admins."""
    if caller.username == normalise_username(app.applicant) and caller.has(APPLICANT):
        return True
    if AppState(app.state) is AppState.DRAFT:
        return False
    if caller.roles & {DPO, CONTROLLER, ADMIN}:
        return True
    return caller.has(DATASET_OWNER) and bool(owned_datasets(session, caller.username) & set(content_of(app).datasets))


def may_edit(caller: Caller, app: Application) -> bool:
    return caller.has(APPLICANT) and caller.username == normalise_username(app.applicant) and AppState(app.state) in EDITABLE


def may_withdraw(caller: Caller, app: Application) -> bool:
    return (caller.has(APPLICANT) and caller.username == normalise_username(app.applicant)
            and (AppState(app.state), Action.WITHDRAW) in TRANSITIONS)


def may_read_internal(session: Session, caller: Caller, app: Application) -> bool:
    """Internal comments: decision-makers who may read the application and are not a party to it."""
    return _decider_roles(caller) and may_read(session, caller, app) and not is_party(session, caller, app)


def may_read_assessment(session: Session, caller: Caller, app: Application) -> bool:
    """The pre-assessment and the DPIA draft: figures computed on the real data, for the decision-makers
    who are not a party to the application (the DPO completes the draft; the applicant is not yet
    approved to see anything of the data)."""
    return AppState(app.state) is not AppState.DRAFT and may_read_internal(session, caller, app)


# the states in which the applicant develops on the synthetic twin: submitted and not refused or abandoned
TWIN_STATES = frozenset({AppState.SUBMITTED, AppState.DPO_ASSESSMENT, AppState.CONTROLLER_APPROVAL, AppState.RETURNED,
                         AppState.APPROVED, AppState.PROVISIONED})


def may_use_twin(username: str, app: Application) -> bool:
    """A notebook on the application's synthetic twin: its applicant only, once submitted (the named
    members get accounts on approval, and then work on the real extract)."""
    return normalise_username(username) == normalise_username(app.applicant) and AppState(app.state) in TWIN_STATES


def datasets_to_decide(session: Session, caller: Caller, app: Application) -> list[str]:
    """The datasets of this application whose part the caller decides now (as their owner)."""
    if AppState(app.state) is not AppState.SUBMITTED or not caller.has(DATASET_OWNER) or is_party(session, caller, app):
        return []
    mine = owned_datasets(session, caller.username)
    return [d for d in pending_datasets(app) if d in mine]


def deciding_as(session: Session, caller: Caller, app: Application) -> Actor | None:
    """The capacity in which the caller decides this application now, or None when they may not."""
    state = AppState(app.state)
    if state is AppState.SUBMITTED:
        return Actor.DATASET_OWNER if datasets_to_decide(session, caller, app) else None
    wanted = {AppState.DPO_ASSESSMENT: (DPO, Actor.DPO), AppState.CONTROLLER_APPROVAL: (CONTROLLER, Actor.CONTROLLER)}.get(state)
    if wanted is None or not caller.has(wanted[0]) or is_party(session, caller, app):
        return None
    return wanted[1]


def may_comment(session: Session, caller: Caller, app: Application, internal: bool) -> bool:
    if AppState(app.state) in {AppState.PROVISIONED, AppState.REJECTED, AppState.WITHDRAWN}:
        return False
    if internal:
        return may_read_internal(session, caller, app)
    return may_read(session, caller, app)


def may_provision(session: Session, caller: Caller, app: Application) -> bool:
    """Retrying the provisioning of an approved application (e.g. after an admin recorded a risk
    override): an admin or the controller's representative who is not a party."""
    return (AppState(app.state) is AppState.APPROVED and bool(caller.roles & {ADMIN, CONTROLLER})
            and not is_party(session, caller, app))


def visible_applications(session: Session, caller: Caller) -> list[Application]:
    """Every application the caller may read, newest first."""
    rows = session.execute(select(Application).order_by(Application.updated_at.desc())).scalars()
    return [a for a in rows if may_read(session, caller, a)]


def decided_by(app: Application, username: str) -> list[ApplicationDecision]:
    return [d for d in app.decisions if d.decider == username]
