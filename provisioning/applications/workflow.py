"""Everything that changes an application: create and save drafts, submit, decide, return, reject,
withdraw, comment. Each function checks the caller with :mod:`~provisioning.applications.permissions`,
every state change goes through :func:`move` (the table in :mod:`~provisioning.applications.states`,
then the change, its audit event and its notices, all in the caller's transaction), and content is
validated whole before anything is stored: a bad field changes nothing."""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from provisioning import audit, transformations
from provisioning.applications import hooks, notices
from provisioning.applications import permissions as perm
from provisioning.applications.content import ApplicationContent
from provisioning.applications.models import Application, ApplicationComment, ApplicationDecision
from provisioning.applications.states import EDITABLE, Action, Actor, AppState, check_transition
from provisioning.errors import NotFound, ProvisioningError
from provisioning.models import Dataset
from sandkasse.audit import utcnow

SOURCE = "portal"
DECISIONS = ("approve", "return", "reject")


class FieldErrors(ProvisioningError):
    """The content has bad fields (field -> why); nothing was stored."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))


class NotAllowed(ProvisioningError):
    """The caller may not do this to this application."""

    status = 403


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("columns", "transformation", "justification")]
    return ".".join(parts) or "application"


def parse_content(raw: dict[str, Any]) -> ApplicationContent:
    """The applicant's answers, or :class:`FieldErrors` naming each bad field."""
    try:
        return ApplicationContent.model_validate(raw)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for e in exc.errors():
            errors.setdefault(_field(tuple(e["loc"])), e["msg"].removeprefix("Value error, "))
        raise FieldErrors(errors) from None


def catalogue_problems(session: Session, content: ApplicationContent) -> dict[str, str]:
    """What the catalogue refuses: unknown datasets, columns or transformations, a direct identifier kept."""
    out: dict[str, str] = {}
    for name, ask in content.datasets.items():
        dataset = session.execute(select(Dataset).where(Dataset.name == name)).scalar_one_or_none()
        if dataset is None:
            out[f"datasets.{name}"] = "no such dataset in the catalogue"
            continue
        for col, c in ask.columns.items():
            column = dataset.column(col)
            if column is None:
                out[f"datasets.{name}.{col}"] = "no such column in this dataset"
                continue
            try:
                transformations.check_allowed(col, column.role, transformations.normalise(c.transformation))
            except ProvisioningError as exc:
                out[f"datasets.{name}.{col}"] = str(exc)
    return out


def get(session: Session, app_id: str, *, lock: bool = False) -> Application:
    query = select(Application).where(Application.id == app_id)
    if lock:
        # judge every change on the committed state: two decision-makers at once give one decision
        query = query.with_for_update()
    app = session.execute(query).scalar_one_or_none()
    if app is None:
        raise NotFound(f"no application {app_id!r}")
    return app


def _record(session: Session, app: Application, by: str, role: str, action: str, **detail: Any) -> None:
    audit.record(session, actor=by, action=f"application.{action}", object_type="application", object_id=app.id,
                 role=str(role), source=SOURCE, **detail)


def move(session: Session, app: Application, action: Action, actor: Actor, by: str, reasons: str = "",
         **detail: Any) -> AppState:
    """The one way an application changes state: checked against the table, audited, announced."""
    source = AppState(app.state)
    target = check_transition(source, action, actor)  # raises before anything changes
    app.state = target.value
    app.updated_at = utcnow()
    if action in (Action.SUBMIT, Action.RESUBMIT):
        app.submitted_at = app.updated_at
    session.flush()
    _record(session, app, by, actor, action.value, reason=reasons, **{"from": source.value, "to": target.value}, **detail)
    notices.on_transition(session, app, target, reasons)
    return target


def _store(session: Session, app: Application, content: ApplicationContent) -> None:
    problems = catalogue_problems(session, content)
    if problems:
        raise FieldErrors(problems)
    app.content = content.model_dump_json()
    app.title = content.title
    app.updated_at = utcnow()


def create(session: Session, caller: perm.Caller, content: ApplicationContent, *, amends: str | None = None) -> Application:
    if not perm.may_apply(caller):
        raise NotAllowed("only applicants may apply (realm role 'applicant')")
    if amends and not perm.may_amend(session, caller, amends):
        raise NotAllowed(f"only the lead of the active project {amends!r} may ask to change its data")
    app = Application(applicant=caller.username, applicant_email=caller.email, state=AppState.DRAFT.value,
                      amends=amends or None, title=content.title, content="{}")
    _store(session, app, content)
    session.add(app)
    session.flush()
    _record(session, app, caller.username, Actor.APPLICANT, "create", amends=amends or "", title=content.title)
    return app


def save(session: Session, caller: perm.Caller, app_id: str, content: ApplicationContent) -> Application:
    app = get(session, app_id, lock=True)
    if not perm.may_edit(caller, app):
        raise NotAllowed("only the applicant edits an application, and only while it is a draft or returned")
    _store(session, app, content)
    session.flush()
    _record(session, app, caller.username, Actor.APPLICANT, "save")
    return app


def submit(session: Session, caller: perm.Caller, app_id: str) -> AppState:
    app = get(session, app_id, lock=True)
    if not perm.may_edit(caller, app):
        raise NotAllowed("only the applicant submits an application, and only a draft or a returned one")
    if app.amends and not perm.may_amend(session, caller, app.amends):
        # asked again: a lead removed since drafting must not get back in by the amendment
        raise NotAllowed(f"only the lead of the active project {app.amends!r} may ask to change its data")
    content = perm.content_of(app)
    problems = {**content.problems(), **catalogue_problems(session, content)}
    if problems:
        raise FieldErrors(problems)
    action = Action.SUBMIT if AppState(app.state) is AppState.DRAFT else Action.RESUBMIT
    target = move(session, app, action, Actor.APPLICANT, caller.username, round=perm.current_round(app))
    hooks.on_submitted(session, app)
    return target


def withdraw(session: Session, caller: perm.Caller, app_id: str, reason: str = "") -> AppState:
    app = get(session, app_id, lock=True)
    if not perm.may_withdraw(caller, app):
        raise NotAllowed("only the applicant withdraws an application, and not once it is approved")
    return move(session, app, Action.WITHDRAW, Actor.APPLICANT, caller.username, reason)


def _owner_changes(app: Application, dataset: str, wanted: dict[str, str], session: Session) -> dict[str, str]:
    """Transformations the dataset owner approves instead of the asked ones (column -> transformation)."""
    content = perm.content_of(app)
    ask = content.datasets[dataset]
    changes: dict[str, str] = {}
    for col, value in wanted.items():
        if col not in ask.columns:
            raise FieldErrors({f"datasets.{dataset}.{col}": "this column was not asked for"})
        try:
            value = transformations.normalise(value)
        except ProvisioningError as exc:
            raise FieldErrors({f"datasets.{dataset}.{col}": str(exc)}) from None
        if value != ask.columns[col].transformation:
            changes[col] = value
    if changes:
        for col, value in changes.items():
            ask.columns[col] = ask.columns[col].model_copy(update={"transformation": value})
        _store(session, app, content)
    return changes


def decide(session: Session, caller: perm.Caller, app_id: str, decision: str, reasons: str = "", *,
           datasets: list[str] | None = None, transformations_: dict[str, dict[str, str]] | None = None) -> AppState:
    """A decision-maker's decision at the application's current stage. Dataset owners approve their
    datasets' parts (optionally with other transformations); once every part is approved, the
    application moves on to the DPO. Returning and rejecting need reasons, which the applicant sees."""
    if decision not in DECISIONS:
        raise ProvisioningError(f"decision must be one of {', '.join(DECISIONS)}")
    reasons = reasons.strip()
    app = get(session, app_id, lock=True)
    actor = perm.deciding_as(session, caller, app)
    if actor is None:
        raise NotAllowed("you do not decide on this application now (not your stage or dataset, or you are a party to it)")
    if decision != "approve" and not reasons:
        raise FieldErrors({"reasons": "give the reasons (the applicant reads them)"})
    stage, rnd = AppState(app.state), perm.current_round(app)

    if decision == "approve" and actor is Actor.DATASET_OWNER:
        mine = perm.datasets_to_decide(session, caller, app)
        chosen = datasets or mine
        if not set(chosen) <= set(mine):
            raise NotAllowed(f"you decide on {', '.join(mine)} only")
        for dataset in chosen:
            changes = _owner_changes(app, dataset, (transformations_ or {}).get(dataset, {}), session)
            app.decisions.append(ApplicationDecision(stage=stage.value, dataset=dataset, round=rnd, decider=caller.username,
                                                     decision="approve", reasons=reasons))
            session.flush()
            _record(session, app, caller.username, actor, "owner_approve", reason=reasons, dataset=dataset,
                    transformations=changes, round=rnd)
        if not perm.pending_datasets(app):
            return move(session, app, Action.OWNERS_AGREE, Actor.SYSTEM, "system", round=rnd)
        return stage

    app.decisions.append(ApplicationDecision(stage=stage.value, dataset=None, round=rnd, decider=caller.username,
                                             decision=decision, reasons=reasons))
    session.flush()
    if decision == "approve":
        action = Action.DPO_APPROVE if actor is Actor.DPO else Action.APPROVE
    else:
        action = Action.RETURN if decision == "return" else Action.REJECT
    extra: dict[str, Any] = {}
    if actor is Actor.DPO:
        # the DPO decides on what the pre-assessment and the DPIA draft said: the event records which
        if hooks.assessment_of(session, app) is None:
            extra["assessment"] = hooks.NOT_COMPUTED
        dpia = hooks.dpia_markdown(session, app)
        if dpia:
            extra["dpia_sha256"] = hashlib.sha256(dpia.encode()).hexdigest()
    return move(session, app, action, actor, caller.username, reasons, round=rnd, **extra)


def comment(session: Session, caller: perm.Caller, app_id: str, body: str, internal: bool) -> ApplicationComment:
    body = body.strip()
    if not body:
        raise FieldErrors({"comment": "write something"})
    app = get(session, app_id)
    if not perm.may_comment(session, caller, app, internal):
        raise NotAllowed("you may not comment here" + (" internally" if internal else ""))
    c = ApplicationComment(author=caller.username, body=body, internal=internal)
    app.comments.append(c)
    session.flush()
    role = Actor.APPLICANT if caller.username == app.applicant else "decision-maker"
    _record(session, app, caller.username, role, "comment", internal=internal, comment_id=c.id)
    return c


def editable(app: Application) -> bool:
    return AppState(app.state) in EDITABLE
