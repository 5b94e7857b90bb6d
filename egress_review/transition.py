"""Applying one state transition: check it against :data:`egress_review.states.TRANSITIONS`, change
the state, and write the audit event, all in the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from egress_review.audit import Actor, AuditLog
from egress_review.models import ReleaseRequest
from egress_review.errors import Forbidden
from egress_review.notify import outbox as notify_outbox
from egress_review.states import ACTION_ACTOR, FINAL_STATES, Action, Owner, RequestState, check_transition
from sandkasse.audit import utcnow

ACTOR_ROLE = {Owner.RESEARCHER: "researcher", Owner.CHECKERS: "output-checker", Owner.SYSTEM: "system"}


def apply(
    session: Session,
    audit: AuditLog,
    req: ReleaseRequest,
    action: Action,
    actor: Actor,
    detail: dict[str, Any] | None = None,
) -> RequestState:
    # Lock the request's row and judge the transition on its committed state: two checkers approving
    # at the same moment must give one approval and one refusal, not two approvals (lost update).
    current = session.execute(
        select(ReleaseRequest.state).where(ReleaseRequest.id == req.id).with_for_update()
    ).scalar_one()
    source = RequestState(current)
    target = check_transition(source, action)  # raises before anything changes
    if actor.role != ACTOR_ROLE[ACTION_ACTOR[action]]:
        raise Forbidden(f"{action.value} is done by {ACTION_ACTOR[action].value}, not by {actor.role}")
    now = utcnow()
    req.state = target.value
    req.updated_at = now
    if target is RequestState.SUBMITTED:
        req.submitted_at = now
        req.decided_at = None
    if target in FINAL_STATES | {RequestState.APPROVED, RequestState.RETURNED}:
        req.decided_at = req.decided_at or now
    audit.record(
        session,
        actor,
        f"request.{action.value}",
        "release_request",
        req.id,
        {"from": source.value, "to": target.value, "project": req.project, **(detail or {})},
    )
    notify_outbox.on_transition(session, req, target)
    return target
